"""Subgraph namespacing: the three checkpointer modes, parallel subgraphs, interrupts inside."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.scenarios.graphs import Ledger, nested_pair, with_subgraph
from checkpointkit.conformance.scenarios.harness import Runner, checkpoint_id, thread_config
from checkpointkit.reference_engine import Command

spec = pytest.mark.spec

SUB_KEYS = {"topic", "sub_log", "answer"}


def _by_namespace(driver: SaverDriver, cfg: dict[str, Any]) -> dict[str, list[Any]]:
    """Every stored checkpoint of the thread, all namespaces, grouped; newest first."""
    rows = driver.list({"configurable": {"thread_id": cfg["configurable"]["thread_id"]}})
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.config["configurable"]["checkpoint_ns"]].append(row)
    return dict(grouped)


def _steps(rows: list[Any]) -> list[int]:
    return [r.metadata["step"] for r in rows]


def _values(row: Any) -> dict[str, Any]:
    return {
        k: v
        for k, v in row.checkpoint["channel_values"].items()
        if not k.startswith(("__", "branch:", "join:"))
    }


class SubgraphTests:
    @spec("SCN-SUB-001")
    def test_inherited_checkpointer_namespaces_per_task(self, driver: SaverDriver) -> None:
        run = Runner(driver, with_subgraph, driver.saver, Ledger(), mode=None)
        cfg = thread_config()
        for _ in range(2):
            out = run.invoke({"topic": "t"}, cfg)
            assert out["answer"] == "t:2:-"  # no memory across parent turns
        assert out["log"] == ["p1", "p2:t:2:-", "p1", "p2:t:2:-"]
        spaces = _by_namespace(driver, cfg)
        subs = sorted(ns for ns in spaces if ns)
        assert len(subs) == 2 and all(ns.startswith("sub:") for ns in subs)
        root_ids = {checkpoint_id(r.config) for r in spaces[""]}
        assert len(spaces[""]) == 10
        for ns in subs:
            rows = spaces[ns]
            assert _steps(rows) == [2, 1, 0, -1]
            assert _values(rows[0]) == {"topic": "t", "sub_log": ["s1", "s2"], "answer": "t:2:-"}
            assert all(set(_values(r)) <= SUB_KEYS for r in rows)
            parents = {tuple(r.metadata["parents"].items()) for r in rows}
            assert len(parents) == 1
            (((parent_ns, parent_id),),) = parents
            assert parent_ns == "" and parent_id in root_ids
            scheduled_from = driver.get_tuple(
                {
                    "configurable": {
                        "thread_id": cfg["configurable"]["thread_id"],
                        "checkpoint_ns": "",
                        "checkpoint_id": parent_id,
                    }
                }
            )
            assert scheduled_from is not None and scheduled_from.metadata["step"] in (1, 6)
        history = run.history(cfg)
        assert len(history) == 10
        assert {s.config["configurable"]["checkpoint_ns"] for s in history} == {""}

    @spec("SCN-SUB-002")
    def test_no_checkpointer_writes_no_subgraph_checkpoints(self, driver: SaverDriver) -> None:
        run = Runner(driver, with_subgraph, driver.saver, Ledger(), mode=False)
        cfg = thread_config()
        for _ in range(2):
            assert run.invoke({"topic": "t"}, cfg)["answer"] == "t:2:-"
        spaces = _by_namespace(driver, cfg)
        assert list(spaces) == [""]
        assert len(spaces[""]) == 10

    @spec("SCN-SUB-003")
    def test_own_checkpointer_keeps_memory(self, driver: SaverDriver) -> None:
        run = Runner(driver, with_subgraph, driver.saver, Ledger(), mode=True)
        cfg = thread_config()
        assert run.invoke({"topic": "t"}, cfg)["answer"] == "t:2:-"
        assert run.invoke({"topic": "t"}, cfg)["answer"] == "t:4:-"
        spaces = _by_namespace(driver, cfg)
        assert sorted(spaces) == ["", "sub"]
        rows = spaces["sub"]
        assert _steps(rows) == [6, 5, 4, 3, 2, 1, 0, -1]
        assert [r.metadata["source"] for r in rows][3:5] == ["input", "loop"]
        assert _values(rows[0])["sub_log"] == ["s1", "s2", "s1", "s2"]
        assert all(set(_values(r)) <= SUB_KEYS for r in rows)
        turn_parents = {r.metadata["parents"][""] for r in rows}
        assert len(turn_parents) == 2  # one root checkpoint per parent turn
        assert rows[4].parent_config == rows[5].config  # turn two continues turn one's chain

    @spec("SCN-SUB-004")
    def test_parallel_subgraphs_keep_apart(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, nested_pair, driver.saver, ledger)
        cfg = thread_config()
        out = run.invoke({"x_topic": "X", "y_topic": "Y"}, cfg)
        assert out["log"] == ["X+2|Y+3"]
        assert (out["x_answer"], out["y_answer"]) == ("X+2", "Y+3")
        spaces = _by_namespace(driver, cfg)
        xs = [ns for ns in spaces if ns.startswith("sub_x:")]
        ys = [ns for ns in spaces if ns.startswith("sub_y:")]
        assert len(xs) == 1 and len(ys) == 1 and len(spaces) == 3
        x_rows, y_rows = spaces[xs[0]], spaces[ys[0]]
        assert _steps(x_rows) == [2, 1, 0, -1]
        assert _steps(y_rows) == [3, 2, 1, 0, -1]
        assert _values(x_rows[0]) == {"x_topic": "X", "x_log": ["x1", "x2"], "x_answer": "X+2"}
        assert _values(y_rows[0]) == {
            "y_topic": "Y",
            "y_log": ["y1", "y2", "y3"],
            "y_answer": "Y+3",
        }
        assert all(set(_values(r)) <= {"x_topic", "x_log", "x_answer"} for r in x_rows)
        assert all(set(_values(r)) <= {"y_topic", "y_log", "y_answer"} for r in y_rows)
        assert x_rows[0].metadata["parents"] == y_rows[0].metadata["parents"]
        assert sorted(ledger.events()) == ["x1", "x2", "y1", "y2", "y3"]

    @spec("SCN-SUB-005")
    def test_subgraph_interrupt_resumed_from_parent(self, driver: SaverDriver) -> None:
        ledger = Ledger()
        run = Runner(driver, with_subgraph, driver.saver, ledger, mode=None, ask=True)
        cfg = thread_config()
        out = run.invoke({"topic": "t"}, cfg)
        assert [i.value for i in out["__interrupt__"]] == ["s2?"]
        assert ledger.events() == ["p1", "s1"]
        state = run.get_state(cfg)
        assert state.next == ("sub",)
        assert [i.value for i in state.tasks[0].interrupts] == ["s2?"]
        sub_ns = state.tasks[0].state["configurable"]["checkpoint_ns"]
        assert sub_ns.startswith("sub:")
        deep = run.get_state(cfg, subgraphs=True).tasks[0].state
        assert deep.next == ("s2",)
        assert deep.values == {"topic": "t", "sub_log": ["s1"]}
        assert deep.config["configurable"]["checkpoint_ns"] == sub_ns

        ledger.clear()
        done = run.invoke(Command(resume="R"), cfg)
        assert done["answer"] == "t:2:R"
        assert done["log"] == ["p1", "p2:t:2:R"]
        assert ledger.events() == ["s2", "p2"]
        spaces = _by_namespace(driver, cfg)
        assert sorted(spaces) == ["", sub_ns]
        assert _steps(spaces[sub_ns]) == [2, 1, 0, -1]
        assert run.get_state(cfg).next == ()
