"""Durability modes: which checkpoints and writes each mode leaves in the saver."""

from __future__ import annotations

import pytest

from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.scenarios.graphs import Faults, Ledger, NodeFailure, linear
from checkpointkit.conformance.scenarios.harness import Runner, checkpoint_id, shape, thread_config

spec = pytest.mark.spec

ONE_RUN = [
    ("loop", 3, ()),
    ("loop", 2, ("c",)),
    ("loop", 1, ("b",)),
    ("loop", 0, ("a",)),
    ("input", -1, ("__start__",)),
]
SECOND_RUN = [
    ("loop", 8, ()),
    ("loop", 7, ("c",)),
    ("loop", 6, ("b",)),
    ("loop", 5, ("a",)),
    ("input", 4, ("__start__",)),
]


class DurabilityTests:
    @spec("SCN-DUR-001")
    def test_sync_and_async_leave_every_checkpoint(self, driver: SaverDriver) -> None:
        run = Runner(driver, linear, driver.saver, Ledger())
        for mode in ("sync", "async"):
            cfg = thread_config()
            run.invoke({"log": ["in"]}, cfg, durability=mode)
            history = run.history(cfg)
            assert shape(history) == ONE_RUN, mode
            assert [t.result for s in history[1:4] for t in s.tasks] == [
                {"log": ["c"], "last": "c"},
                {"log": ["b"], "last": "b"},
                {"log": ["a"], "last": "a"},
            ], mode
            run.invoke({"log": ["in2"]}, cfg, durability=mode)
            assert shape(run.history(cfg)) == SECOND_RUN + ONE_RUN, mode

    @spec("SCN-DUR-002")
    def test_exit_leaves_one_checkpoint_per_invocation(self, driver: SaverDriver) -> None:
        run = Runner(driver, linear, driver.saver, Ledger())
        cfg = thread_config()
        first = run.invoke({"log": ["in"]}, cfg, durability="exit")
        history = run.history(cfg)
        assert shape(history) == [("loop", 3, ())]
        assert history[0].parent_config is None
        assert history[0].values == first
        second = run.invoke({"log": ["in2"]}, cfg, durability="exit")
        again = run.history(cfg)
        assert shape(again) == [("loop", 8, ()), ("loop", 3, ())]
        assert again[0].parent_config == history[0].config
        assert (
            again[0].values
            == second
            == {
                "log": ["in", "a", "b", "c", "in2", "a", "b", "c"],
                "last": "c",
            }
        )

    @spec("SCN-DUR-003")
    def test_exit_keeps_failure_resumable(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, linear, driver.saver, ledger, Faults(fail_once={"b"}))
        cfg = thread_config()
        with pytest.raises(NodeFailure):
            run.invoke({"log": ["in"]}, cfg, durability="exit")
        history = run.history(cfg)
        assert shape(history) == [("loop", 1, ("b",))]
        assert "b failed" in str(history[0].tasks[0].error)
        out = run.invoke(None, cfg, durability="exit")
        assert out == {"log": ["in", "a", "b", "c"], "last": "c"}
        assert ledger.events() == ["a", "b", "c"]
        again = run.history(cfg)
        assert shape(again) == [("loop", 3, ()), ("loop", 1, ("b",))]
        assert checkpoint_id(again[0].parent_config) == checkpoint_id(history[0].config)
