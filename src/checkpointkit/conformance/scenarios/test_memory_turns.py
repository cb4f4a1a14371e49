"""Multi-turn memory: twenty turns on one thread, then read back by a fresh saver instance."""

from __future__ import annotations

from typing import Any

import pytest

from checkpointkit.conformance.capabilities import Capability
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import SaverFactory
from checkpointkit.conformance.scenarios.graphs import chat
from checkpointkit.conformance.scenarios.harness import Runner, thread_config

spec = pytest.mark.spec
requires = pytest.mark.requires

TURNS = 20


def _say(turn: int) -> dict[str, Any]:
    return {"messages": [{"id": f"h{turn}", "role": "user", "content": f"message {turn}"}]}


def _conversation(turns: int) -> list[str]:
    out: list[str] = []
    for turn in range(turns):
        out += [f"message {turn}", f"echo message {turn}"]
    return out


def _take_turns(run: Runner, cfg: dict[str, Any], first: int, last: int) -> None:
    for turn in range(first, last):
        out = run.invoke(_say(turn), cfg)
        assert [m["content"] for m in out["messages"]] == _conversation(turn + 1)
        assert out["turns"] == turn + 1
        assert out["audit"][-1] == f"saw {2 * turn + 1}"


class MemoryTurnTests:
    @spec("SCN-MEM-001")
    def test_twenty_turns(self, driver: SaverDriver) -> None:
        run = Runner(driver, chat, driver.saver)
        cfg = thread_config()
        _take_turns(run, cfg, 0, TURNS)
        history = run.history(cfg)
        assert len(history) == 3 * TURNS
        assert [s.metadata["step"] for s in history] == list(range(3 * TURNS - 2, -2, -1))
        inputs = run.history(cfg, filter={"source": "input"})
        assert [s.metadata["step"] for s in inputs] == [3 * k - 1 for k in reversed(range(TURNS))]
        assert [len(s.values.get("messages", [])) for s in inputs] == [
            2 * k for k in reversed(range(TURNS))
        ]

    @spec("SCN-MEM-002")
    @requires(Capability.PERSISTENT)
    def test_fresh_instance_sees_every_turn(self, saver_factory: SaverFactory) -> None:
        cfg = thread_config()
        with saver_factory.open() as first:
            run = Runner(SaverDriver(first, "sync"), chat, first)
            _take_turns(run, cfg, 0, TURNS)
            state, history = run.get_state(cfg), run.history(cfg)
        with saver_factory.open() as second:
            run = Runner(SaverDriver(second, "sync"), chat, second)
            assert run.get_state(cfg) == state
            assert run.history(cfg) == history
            _take_turns(run, cfg, TURNS, TURNS + 1)
            latest = run.history(cfg, limit=4)
            assert [s.metadata["step"] for s in latest] == [
                3 * TURNS + 1,
                3 * TURNS,
                3 * TURNS - 1,
                3 * TURNS - 2,
            ]
            assert latest[2].parent_config == history[0].config
