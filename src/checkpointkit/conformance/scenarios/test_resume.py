"""Resume after a crash: a failing node, and a fan-out where one sibling fails."""

from __future__ import annotations

import pytest

from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.scenarios.graphs import (
    Faults,
    Ledger,
    NodeFailure,
    WriteTap,
    fanout_sends,
    linear,
)
from checkpointkit.conformance.scenarios.harness import Runner, checkpoint_id, shape, thread_config

spec = pytest.mark.spec

FANOUT_LOG = ["in", "a", "b1", "b2", "c", *(f"w{i:02d}" for i in range(12))]


class ResumeTests:
    @spec("SCN-RES-001")
    def test_failed_node_resumes_from_last_step(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, linear, driver.saver, ledger, Faults(fail_once={"b"}))
        cfg = thread_config()
        with pytest.raises(NodeFailure, match="b failed"):
            run.invoke({"log": ["in"]}, cfg)
        assert ledger.events() == ["a"]
        failed = run.get_state(cfg)
        assert failed.next == ("b",)
        assert failed.values == {"log": ["in", "a"], "last": "a"}
        assert [t.name for t in failed.tasks] == ["b"]
        assert "b failed" in str(failed.tasks[0].error)
        assert shape(run.history(cfg)) == [
            ("loop", 1, ("b",)),
            ("loop", 0, ("a",)),
            ("input", -1, ("__start__",)),
        ]

        assert run.invoke(None, cfg) == {"log": ["in", "a", "b", "c"], "last": "c"}
        assert ledger.events() == ["a", "b", "c"]
        history = run.history(cfg)
        assert shape(history) == [
            ("loop", 3, ()),
            ("loop", 2, ("c",)),
            ("loop", 1, ("b",)),
            ("loop", 0, ("a",)),
            ("input", -1, ("__start__",)),
        ]
        assert checkpoint_id(history[1].parent_config) == checkpoint_id(failed.config)
        # The failed attempt stays on record: the task shows its error and, now, its result.
        step1 = history[2].tasks[0]
        assert "b failed" in str(step1.error)
        assert step1.result == {"log": ["b"], "last": "b"}

    @spec("SCN-RES-002")
    def test_finished_sibling_is_not_rerun(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        tap = WriteTap(driver.saver)
        # b2 fails only once b1's writes were handed to the saver, for both engines.
        faults = Faults(fail_once={"b2"}, wait_for=lambda: tap.wait_for(["b1"]))
        run = Runner(driver, fanout_sends, tap, ledger, faults)
        cfg = thread_config()
        with pytest.raises(NodeFailure, match="b2 failed"):
            run.invoke({"log": ["in"]}, cfg)
        assert ledger.counts() == {"a": 1, "b1": 1}

        live = run.get_state(cfg)
        assert live.next == ("b2",)
        assert live.values == {"log": ["in", "a", "b1"]}
        assert [(t.name, t.result) for t in live.tasks] == [("b1", {"log": ["b1"]}), ("b2", None)]
        assert "b2 failed" in str(live.tasks[1].error)
        record = run.get_state(live.config)
        assert record.next == ("b1", "b2")
        assert record.values == {"log": ["in", "a"]}

        out = run.invoke(None, cfg)
        assert out == {"log": FANOUT_LOG}
        assert ledger.counts() == {name: 1 for name in FANOUT_LOG[1:]}

        clean = Runner(driver, fanout_sends, driver.saver, Ledger())
        other = thread_config()
        assert clean.invoke({"log": ["in"]}, other) == out
        assert run.get_state(cfg).values == out
        assert shape(run.history(cfg)) == shape(clean.history(other))
