"""Reducer-aware updates: update_state through reducers, as_node, and Overwrite."""

from __future__ import annotations

import pytest

from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.scenarios.graphs import Ledger, chat, linear
from checkpointkit.conformance.scenarios.harness import Runner, checkpoint_id, shape, thread_config
from checkpointkit.reference_engine import Overwrite

spec = pytest.mark.spec

DONE = {"log": ["in", "a", "b", "c"], "last": "c"}


class ReducerTests:
    @spec("SCN-UPD-001")
    def test_update_state_through_reducers(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, linear, driver.saver, ledger)
        cfg = thread_config()
        run.invoke({"log": ["in"]}, cfg)
        head = run.get_state(cfg)
        ledger.clear()
        updated = run.update_state(cfg, {"log": ["X"], "last": "X"})
        assert ledger.events() == []
        state = run.get_state(cfg)
        assert checkpoint_id(state.config) == checkpoint_id(updated)
        assert state.values == {"log": ["in", "a", "b", "c", "X"], "last": "X"}
        assert (state.metadata["source"], state.metadata["step"], state.next) == ("update", 4, ())
        assert state.parent_config == head.config
        assert run.get_state(head.config).values == DONE

        chat_run = Runner(driver, chat, driver.saver)
        talk = thread_config()
        for turn in range(2):
            msg = {"id": f"h{turn}", "role": "user", "content": f"hi {turn}"}
            chat_run.invoke({"messages": [msg]}, talk)
        before = chat_run.get_state(talk)
        edit = {"id": "ai-1", "role": "ai", "content": "EDITED"}
        chat_run.update_state(talk, {"messages": [edit]}, as_node="reply")
        after = chat_run.get_state(talk)
        assert [m["content"] for m in after.values["messages"]] == [
            "hi 0",
            "EDITED",
            "hi 1",
            "echo hi 1",
        ]
        assert chat_run.get_state(before.config).values == before.values
        assert before.values["messages"][1]["content"] == "echo hi 0"
        out = chat_run.invoke({"messages": [{"id": "h2", "role": "user", "content": "hi 2"}]}, talk)
        assert [m["content"] for m in out["messages"]][:2] == ["hi 0", "EDITED"]
        assert len(out["messages"]) == 6

    @spec("SCN-UPD-002")
    def test_update_state_as_node(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, linear, driver.saver, ledger, interrupt_before=["b"])
        cfg = thread_config()
        assert run.invoke({"log": ["in"]}, cfg) == {"log": ["in", "a"], "last": "a"}
        paused = run.get_state(cfg)
        assert paused.next == ("b",)
        run.update_state(cfg, {"log": ["Y"]}, as_node="a")
        state = run.get_state(cfg)
        assert state.values == {"log": ["in", "a", "Y"], "last": "a"}
        assert (state.metadata["source"], state.metadata["step"], state.next) == (
            "update",
            2,
            ("b",),
        )
        ledger.clear()
        assert run.invoke(None, cfg) == {"log": ["in", "a", "Y", "b", "c"], "last": "c"}
        assert ledger.events() == ["b", "c"]
        # as_node="c" on the finished thread: c's successor is END, so nothing is next.
        run.update_state(cfg, {"log": ["Z"]}, as_node="c")
        assert run.get_state(cfg).next == ()
        assert run.get_state(cfg).values["log"][-1] == "Z"
        assert shape(run.history(cfg, limit=2)) == [("update", 5, ()), ("loop", 4, ())]

    @spec("SCN-UPD-003")
    def test_overwrite(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, linear, driver.saver, ledger)
        cfg = thread_config()
        run.invoke({"log": ["in"]}, cfg)
        run.update_state(cfg, {"log": Overwrite(["only"])}, as_node="c")
        assert run.get_state(cfg).values == {"log": ["only"], "last": "c"}
        out = run.invoke({"log": ["n"]}, cfg)
        assert out == {"log": ["only", "n", "a", "b", "c"], "last": "c"}

        fresh = run.invoke({"log": Overwrite(["fresh"])}, cfg)
        assert fresh == {"log": ["fresh", "a", "b", "c"], "last": "c"}
        # The stored input holds the Overwrite; replaying it applies it again.
        stored_input = run.history(cfg, filter={"source": "input"})[0]
        assert stored_input.values["log"] == ["only", "n", "a", "b", "c"]
        ledger.clear()
        assert run.invoke(None, stored_input.config) == fresh
        assert ledger.events() == ["a", "b", "c"]
