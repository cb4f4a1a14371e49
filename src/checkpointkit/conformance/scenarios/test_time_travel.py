"""Time travel: replay from a past checkpoint, forks made with update_state, branch isolation."""

from __future__ import annotations

from typing import Any

import pytest

from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.scenarios.graphs import Ledger, asking, linear
from checkpointkit.conformance.scenarios.harness import Runner, checkpoint_id, shape, thread_config
from checkpointkit.reference_engine import Command

spec = pytest.mark.spec

DONE = {"log": ["in", "a", "b", "c"], "last": "c"}


def _at_step(history: list[Any], step: int) -> Any:
    found = [s for s in history if s.metadata["step"] == step]
    assert len(found) == 1, f"expected one checkpoint at step {step}, got {shape(found)}"
    return found[0]


def _branch(run: Runner, head: dict[str, Any]) -> list[Any]:
    """The head's ancestors, newest first, by following parent_config through record views."""
    chain = []
    config: dict[str, Any] | None = head
    while config is not None:
        snap = run.get_state(config)
        chain.append(snap)
        config = snap.parent_config
    return chain


class TimeTravelTests:
    @spec("SCN-FRK-001")
    def test_replay_runs_later_nodes_on_a_new_branch(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, linear, driver.saver, ledger)
        cfg = thread_config()
        assert run.invoke({"log": ["in"]}, cfg) == DONE
        before = run.history(cfg)
        past = _at_step(before, 1)
        assert past.next == ("b",)
        ledger.clear()

        assert run.invoke(None, past.config) == DONE
        assert ledger.events() == ["b", "c"]
        after = run.history(cfg)
        assert shape(after[:3]) == [("loop", 4, ()), ("loop", 3, ("c",)), ("fork", 2, ("b",))]
        fork = after[2]
        assert checkpoint_id(fork.parent_config) == checkpoint_id(past.config)
        assert fork.values == past.values == {"log": ["in", "a"], "last": "a"}
        # The original branch is still there, every checkpoint as it was.
        assert after[3:] == before
        for snap in before:
            again = run.get_state(snap.config)
            assert (again.values, again.next, again.metadata) == (
                snap.values,
                snap.next,
                snap.metadata,
            )
        head = run.get_state(cfg)
        assert head.config == after[0].config
        assert [checkpoint_id(s.config) for s in _branch(run, head.config)] == [
            checkpoint_id(s.config) for s in (after[0], after[1], fork, past, *before[3:])
        ]

    @spec("SCN-FRK-002")
    def test_update_state_fork_keeps_branches_apart(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, linear, driver.saver, ledger)
        cfg = thread_config()
        run.invoke({"log": ["in"]}, cfg)
        original = run.history(cfg)
        old_head, past = original[0], _at_step(original, 1)

        fork_cfg = run.update_state(past.config, {"log": ["F"], "last": "FORKED"})
        now = run.get_state(cfg)  # the fork is the thread's latest, though its step is lower
        assert checkpoint_id(now.config) == checkpoint_id(fork_cfg)
        assert (now.metadata["source"], now.metadata["step"]) == ("update", 2)
        assert checkpoint_id(now.parent_config) == checkpoint_id(past.config)
        assert now.values == {"log": ["in", "a", "F"], "last": "FORKED"}
        assert now.next == ("b",)

        ledger.clear()
        forked = run.invoke(None, cfg)
        assert forked == {"log": ["in", "a", "F", "b", "c"], "last": "c"}
        assert ledger.events() == ["b", "c"]
        fork_head = run.get_state(cfg)
        # Each branch, walked from its head, reads its own values at every step; both
        # stepped `log` and `last` from the same versions at `past`.
        assert [s.values["log"] for s in _branch(run, fork_head.config)] == [
            ["in", "a", "F", "b", "c"],
            ["in", "a", "F", "b"],
            ["in", "a", "F"],
            ["in", "a"],
            ["in"],
            [],
        ]
        assert [s.values["log"] for s in _branch(run, old_head.config)] == [
            ["in", "a", "b", "c"],
            ["in", "a", "b"],
            ["in", "a"],
            ["in"],
            [],
        ]
        # New input on the old head continues the old branch, and the fork stays as it is.
        again = run.invoke({"log": ["more"]}, old_head.config)
        assert again == {"log": ["in", "a", "b", "c", "more", "a", "b", "c"], "last": "c"}
        assert run.get_state(fork_head.config).values == forked
        assert run.get_state(cfg).values == again
        assert len(run.history(cfg)) == 5 + 3 + 5

    @spec("SCN-FRK-003")
    def test_new_input_on_past_checkpoint_branches(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, linear, driver.saver, ledger)
        cfg = thread_config()
        run.invoke({"log": ["in"]}, cfg)
        original = run.history(cfg)
        past = _at_step(original, 1)
        ledger.clear()

        out = run.invoke({"log": ["NEW"]}, past.config)
        assert out == {"log": ["in", "a", "NEW", "a", "b", "c"], "last": "c"}
        assert ledger.events() == ["a", "b", "c"]
        history = run.history(cfg)
        assert shape(history[:5]) == [
            ("loop", 6, ()),
            ("loop", 5, ("c",)),
            ("loop", 4, ("b",)),
            ("loop", 3, ("a",)),
            ("input", 2, ("__start__",)),
        ]
        assert checkpoint_id(history[4].parent_config) == checkpoint_id(past.config)
        assert history[4].values == {"log": ["in", "a"], "last": "a"}
        assert history[5:] == original

    @spec("SCN-FRK-004")
    def test_replay_before_answered_interrupt_asks_again(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, asking, driver.saver, ledger)
        cfg = thread_config()
        first = run.invoke({"log": ["in"]}, cfg)
        asked = [i.value for i in first["__interrupt__"]]
        assert asked == ["b question 0"]
        paused = run.get_state(cfg)
        assert run.invoke(Command(resume="yes"), cfg) == {
            "log": ["in", "a", "b=yes", "c"],
            "last": "c",
        }
        done_head = run.get_state(cfg)
        ledger.clear()

        replay = run.invoke(None, paused.config)
        assert [i.value for i in replay["__interrupt__"]] == ["b question 0"]
        assert ledger.events() == ["b:before"]
        assert run.invoke(Command(resume="no"), cfg) == {
            "log": ["in", "a", "b=no", "c"],
            "last": "c",
        }
        assert run.get_state(done_head.config).values == {
            "log": ["in", "a", "b=yes", "c"],
            "last": "c",
        }
        assert run.get_state(paused.config).values == {"log": ["in", "a"], "last": "a"}
