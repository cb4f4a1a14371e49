"""History over a graph with parallel branches, a join and a loop: order, parents, filters."""

from __future__ import annotations

import itertools

import pytest

from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.scenarios.graphs import Ledger, branching
from checkpointkit.conformance.scenarios.harness import Runner, checkpoint_id, shape, thread_config

spec = pytest.mark.spec

FIRST_RUN = [
    ("loop", 6, ()),
    ("loop", 5, ("merge",)),
    ("loop", 4, ("left", "right")),
    ("loop", 3, ("plan",)),
    ("loop", 2, ("merge",)),
    ("loop", 1, ("left", "right")),
    ("loop", 0, ("plan",)),
    ("input", -1, ("__start__",)),
]
SECOND_RUN = [
    ("loop", 11, ()),
    ("loop", 10, ("merge",)),
    ("loop", 9, ("left", "right")),
    ("loop", 8, ("plan",)),
    ("input", 7, ("__start__",)),
]
ROUNDS_LOG = ["in", "plan0", "left0", "right0", "merge", "plan1", "left1", "right1", "merge"]


class HistoryTests:
    @spec("SCN-HIS-001")
    def test_history_steps_sources_parents_next(self, driver: SaverDriver) -> None:
        run = Runner(driver, branching, driver.saver, Ledger())
        cfg = thread_config()
        assert run.invoke({"log": ["in"]}, cfg) == {"log": ROUNDS_LOG, "rounds": 2}
        history = run.history(cfg)
        assert shape(history) == FIRST_RUN
        assert history[-1].parent_config is None
        for newer, older in itertools.pairwise(history):
            assert newer.parent_config == older.config
            assert checkpoint_id(newer.config) > checkpoint_id(older.config)  # type: ignore[operator]
        assert all(s.created_at for s in history)
        assert all(s.config["configurable"]["checkpoint_ns"] == "" for s in history)
        # Values grow step by step; each older checkpoint keeps its own task results.
        assert [len(s.values["log"]) for s in history] == [9, 8, 6, 5, 4, 2, 1, 0]
        step1, step4 = history[5], history[2]
        assert [(t.name, t.result) for t in step1.tasks] == [
            ("left", {"log": ["left0"]}),
            ("right", {"log": ["right0"]}),
        ]
        assert [(t.name, t.result) for t in step4.tasks] == [
            ("left", {"log": ["left1"]}),
            ("right", {"log": ["right1"]}),
        ]
        assert history[1].tasks[0].result == {"log": ["merge"], "rounds": 2}
        assert history[0].tasks == ()

        out = run.invoke({"log": ["again"]}, cfg)
        assert out == {
            "log": [*ROUNDS_LOG, "again", "plan2", "left2", "right2", "merge"],
            "rounds": 3,
        }
        again = run.history(cfg)
        assert shape(again) == SECOND_RUN + FIRST_RUN
        assert again[len(SECOND_RUN) :] == history
        assert again[len(SECOND_RUN) - 1].parent_config == history[0].config
        assert again[len(SECOND_RUN) - 1].values == {"log": ROUNDS_LOG, "rounds": 2}

    @spec("SCN-HIS-002")
    def test_filter_before_limit_across_branches(self, driver: SaverDriver) -> None:
        run = Runner(driver, branching, driver.saver, Ledger())
        tid = thread_config()["configurable"]["thread_id"]
        cfg = thread_config(tid)
        run.invoke({"log": ["in"]}, thread_config(tid, tag="run1"))
        past = next(s for s in run.history(cfg) if s.metadata["step"] == 3)
        run.invoke(None, past.config)  # replay: a second branch from step 3
        run.invoke({"log": ["again"]}, thread_config(tid, tag="run2"))
        full = run.history(cfg)
        ids = [checkpoint_id(s.config) for s in full]
        assert ids == sorted(ids, reverse=True)  # type: ignore[type-var]
        assert len(full) == 8 + 4 + 5
        assert [s.metadata["source"] for s in full].count("fork") == 1
        steps = [s.metadata["step"] for s in full]
        assert steps != sorted(steps, reverse=True)  # branches interleave: steps are not monotonic

        def pick(**kwargs: object) -> list[str | None]:
            return [checkpoint_id(s.config) for s in run.history(cfg, **kwargs)]

        def where(pred: object) -> list[str | None]:
            return [checkpoint_id(s.config) for s in full if pred(s)]  # type: ignore[operator]

        assert pick(filter={"source": "input"}) == where(lambda s: s.metadata["source"] == "input")
        assert len(pick(filter={"source": "input"})) == 2
        assert pick(filter={"source": "fork"}) == where(lambda s: s.metadata["source"] == "fork")
        assert pick(filter={"step": 4}) == where(lambda s: s.metadata["step"] == 4)
        assert len(pick(filter={"step": 4})) == 2
        assert pick(filter={"tag": "run1"}) == where(lambda s: s.metadata.get("tag") == "run1")
        assert len(pick(filter={"tag": "run1"})) == 8
        assert pick(filter={"tag": "run2", "source": "loop"}) == where(
            lambda s: s.metadata.get("tag") == "run2" and s.metadata["source"] == "loop"
        )
        assert pick(limit=3) == ids[:3]
        assert pick(before=full[5].config) == ids[6:]
        assert pick(before=full[5].config, limit=2) == ids[6:8]
        assert (
            pick(filter={"source": "loop"}, before=full[2].config, limit=4)
            == where(
                lambda s: s.metadata["source"] == "loop" and checkpoint_id(s.config) < ids[2]  # type: ignore[operator]
            )[:4]
        )
        assert pick(filter={"tag": "nope"}) == []
