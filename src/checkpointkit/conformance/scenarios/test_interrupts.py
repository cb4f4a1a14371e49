"""Interrupts and Command(resume): one, several in a node, two pending at once, a new instance."""

from __future__ import annotations

import pytest

from checkpointkit.conformance.capabilities import Capability
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import SaverFactory
from checkpointkit.conformance.scenarios.graphs import Ledger, asking, asking_pair
from checkpointkit.conformance.scenarios.harness import Runner, checkpoint_id, shape, thread_config
from checkpointkit.reference_engine import Command

spec = pytest.mark.spec
requires = pytest.mark.requires


class InterruptTests:
    @spec("SCN-INT-001")
    def test_interrupt_and_resume(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, asking, driver.saver, ledger)
        cfg = thread_config()
        out = run.invoke({"log": ["in"]}, cfg)
        assert out["log"] == ["in", "a"]
        (asked,) = out["__interrupt__"]
        assert asked.value == "b question 0"
        assert len(run.history(cfg)) == 3
        state = run.get_state(cfg)
        assert state.next == ("b",)
        assert [i.id for i in state.interrupts] == [asked.id]
        assert [t.interrupts for t in state.tasks] == [(asked,)]

        again = run.invoke(None, cfg)
        assert [i.id for i in again["__interrupt__"]] == [asked.id]
        assert len(run.history(cfg)) == 3

        done = run.invoke(Command(resume="yes"), cfg)
        assert done == {"log": ["in", "a", "b=yes", "c"], "last": "c"}
        assert ledger.counts() == {"a": 1, "b:before": 3, "b:after": 1, "c": 1}
        assert shape(run.history(cfg)) == [
            ("loop", 3, ()),
            ("loop", 2, ("c",)),
            ("loop", 1, ("b",)),
            ("loop", 0, ("a",)),
            ("input", -1, ("__start__",)),
        ]
        assert run.get_state(cfg).interrupts == ()
        assert checkpoint_id(run.history(cfg)[1].parent_config) == checkpoint_id(state.config)

    @spec("SCN-INT-002")
    def test_several_interrupts_in_one_node(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, asking, driver.saver, ledger, questions=3)
        cfg = thread_config()
        asked = [run.invoke({"log": ["in"]}, cfg)["__interrupt__"][0].value]
        for answer in ("r1", "r2"):
            asked.append(run.invoke(Command(resume=answer), cfg)["__interrupt__"][0].value)
        assert asked == ["b question 0", "b question 1", "b question 2"]
        done = run.invoke(Command(resume="r3"), cfg)
        assert done == {"log": ["in", "a", "b=r1/r2/r3", "c"], "last": "c"}
        assert ledger.counts() == {"a": 1, "b:before": 4, "b:after": 1, "c": 1}

    @spec("SCN-INT-003")
    def test_two_interrupts_pending(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, asking_pair, driver.saver, ledger)
        cfg = thread_config()
        out = run.invoke({"log": ["in"]}, cfg)
        pending = {i.value: i.id for i in out["__interrupt__"]}
        assert set(pending) == {"x question", "y question"}
        assert len(set(pending.values())) == 2
        state = run.get_state(cfg)
        assert state.next == ("x", "y")
        assert {i.id for i in state.interrupts} == set(pending.values())
        with pytest.raises(RuntimeError, match="multiple pending interrupts"):
            run.invoke(Command(resume="bare"), cfg)

        half = run.invoke(Command(resume={pending["x question"]: "X!"}), cfg)
        assert half["log"] == ["in", "a", "x=X!"]
        assert [(i.value, i.id) for i in half["__interrupt__"]] == [
            ("y question", pending["y question"])
        ]
        live = run.get_state(cfg)
        assert live.next == ("y",)
        assert live.values == {"log": ["in", "a", "x=X!"]}

        done = run.invoke(Command(resume={pending["y question"]: "Y!"}), cfg)
        assert done == {"log": ["in", "a", "x=X!", "y=Y!", "c"]}
        counts = ledger.counts()
        assert (counts["x:after"], counts["y:after"], counts["c"]) == (1, 1, 1)
        assert shape(run.history(cfg)[:2]) == [("loop", 3, ()), ("loop", 2, ("c",))]

    @spec("SCN-INT-004")
    @requires(Capability.PERSISTENT)
    def test_interrupt_answered_through_new_instance(self, saver_factory: SaverFactory) -> None:
        cfg = thread_config()
        with saver_factory.open() as first:
            run = Runner(SaverDriver(first, "sync"), asking, first, Ledger())
            (asked,) = run.invoke({"log": ["in"]}, cfg)["__interrupt__"]
        ledger = Ledger()
        with saver_factory.open() as second:
            run = Runner(SaverDriver(second, "sync"), asking, second, ledger)
            state = run.get_state(cfg)
            assert state.next == ("b",)
            assert [(i.value, i.id) for i in state.interrupts] == [(asked.value, asked.id)]
            done = run.invoke(Command(resume="later"), cfg)
        assert done == {"log": ["in", "a", "b=later", "c"], "last": "c"}
        assert ledger.events() == ["b:before", "b:after", "c"]
