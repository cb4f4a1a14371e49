"""Thread isolation: interleaved threads, and concurrent invocations from several Python threads."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from checkpointkit.conformance.capabilities import Capability
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.scenarios.graphs import chat
from checkpointkit.conformance.scenarios.harness import Runner, checkpoint_id, thread_config

spec = pytest.mark.spec
requires = pytest.mark.requires


def _human(turn: int, text: str) -> dict[str, Any]:
    # Equal message ids on every thread: only the thread id tells them apart.
    return {"messages": [{"id": f"h{turn}", "role": "user", "content": text}]}


def _expected(label: str, turns: int) -> list[str]:
    contents: list[str] = []
    for turn in range(turns):
        contents += [f"{label}-{turn}", f"echo {label}-{turn}"]
    return contents


def _contents(values: dict[str, Any]) -> list[str]:
    return [m["content"] for m in values.get("messages", [])]


class IsolationTests:
    @spec("SCN-ISO-001")
    def test_interleaved_threads(self, driver: SaverDriver) -> None:
        run = Runner(driver, chat, driver.saver)
        threads = {f"t{k}": thread_config() for k in range(5)}
        for turn in range(3):
            for label, cfg in threads.items():
                out = run.invoke(_human(turn, f"{label}-{turn}"), cfg)
                assert _contents(out) == _expected(label, turn + 1)
                assert out["turns"] == turn + 1
        for label, cfg in threads.items():
            history = run.history(cfg)
            assert len(history) == 9
            for snap in history:
                assert snap.config["configurable"]["thread_id"] == cfg["configurable"]["thread_id"]
                assert all(c.startswith(label + "-") or c.startswith(f"echo {label}-")
                           for c in _contents(snap.values))  # fmt: skip
        first, *others = threads.values()
        before = {checkpoint_id(run.get_state(c).config): run.get_state(c).values for c in others}
        run.update_state(first, _human(0, "edited"), as_node="reply")
        assert _contents(run.get_state(first).values)[0] == "edited"
        after = {checkpoint_id(run.get_state(c).config): run.get_state(c).values for c in others}
        assert after == before

    @spec("SCN-ISO-002")
    @requires(Capability.THREAD_SAFE)
    def test_concurrent_invocations(self, driver: SaverDriver) -> None:
        run = Runner(driver, chat, driver.saver)
        labels = [f"p{k}" for k in range(6)]
        configs = {label: thread_config() for label in labels}
        turns = 4
        start = threading.Barrier(len(labels))
        errors: list[BaseException] = []

        def work(label: str) -> None:
            try:
                start.wait(30)
                for turn in range(turns):
                    out = run.invoke(_human(turn, f"{label}-{turn}"), configs[label])
                    assert _contents(out) == _expected(label, turn + 1)
            except BaseException as exc:  # reported below, with the other threads' errors
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(label,)) for label in labels]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        assert not errors, errors
        for label, cfg in configs.items():
            state = run.get_state(cfg)
            assert _contents(state.values) == _expected(label, turns)
            assert state.values["turns"] == turns
            history = run.history(cfg)
            assert len(history) == 3 * turns
            assert [s.metadata["step"] for s in history] == list(range(3 * turns - 2, -2, -1))
            for newer, older in itertools.pairwise(history):
                assert newer.parent_config == older.config
