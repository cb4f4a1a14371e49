"""Reference engine behaviour over MemorySaver, one requirement of spec/engine.md at a time."""

from __future__ import annotations

import asyncio
import itertools
import operator
import threading
import time
from collections import Counter
from typing import Annotated, Any, TypedDict

import pytest

from checkpointkit.backends.memory import MemorySaver
from checkpointkit.checkpoint import NULL_TASK_ID
from checkpointkit.reference_engine import (
    END,
    START,
    Command,
    EmptyInputError,
    GraphRecursionError,
    Interrupt,
    InvalidUpdateError,
    MessagesState,
    Overwrite,
    RemoveMessage,
    Runtime,
    Send,
    StateGraph,
    add_messages,
    get_config,
    interrupt,
)
from checkpointkit.reference_engine.store import InMemoryStore


class State(TypedDict):
    log: Annotated[list[str], operator.add]
    last: str


RUNS: Counter[str] = Counter()


def node(
    name: str, *, fail_once: set[str] | None = None, sleep: float = 0.0, last: bool = True
) -> Any:
    def fn(state: State) -> dict[str, Any]:
        RUNS[name] += 1
        time.sleep(sleep)
        if fail_once is not None and name in fail_once:
            fail_once.discard(name)
            raise ValueError(f"{name} boom")
        return {"log": [name], "last": name} if last else {"log": [name]}

    return fn


def linear(saver: Any, **kw: Any) -> Any:
    b = StateGraph(State)
    for n in "abc":
        b.add_node(n, node(n, **kw))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "c")
    b.add_edge("c", END)
    return b.compile(checkpointer=saver)


def fanout(saver: Any, fail_once: set[str] | None = None, b1_sleep: float = 0.0) -> Any:
    b = StateGraph(State)
    b.add_node("a", node("a"))
    b.add_node("b1", node("b1", sleep=b1_sleep, last=False))
    b.add_node("b2", node("b2", fail_once=fail_once, last=False))
    b.add_node("c", node("c"))
    b.add_edge(START, "a")
    b.add_edge("a", "b1")
    b.add_edge("a", "b2")
    b.add_edge(["b1", "b2"], "c")
    return b.compile(checkpointer=saver)


def cfg(thread: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **extra}}


def steps(graph: Any, config: dict[str, Any]) -> list[tuple[str, int, tuple[str, ...]]]:
    return [
        (s.metadata["source"], s.metadata["step"], s.next) for s in graph.get_state_history(config)
    ]


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


# -- steps and history ---------------------------------------------------------------------
@pytest.mark.spec("ENG-STEP-001")
def test_new_run_writes_input_start_and_one_checkpoint_per_step() -> None:
    saver = MemorySaver()
    g = linear(saver)
    assert g.invoke({"log": ["in"]}, cfg("t")) == {"log": ["in", "a", "b", "c"], "last": "c"}
    hist = list(g.get_state_history(cfg("t")))
    assert [(s.metadata["source"], s.metadata["step"]) for s in hist] == [
        ("loop", 3),
        ("loop", 2),
        ("loop", 1),
        ("loop", 0),
        ("input", -1),
    ]
    first = hist[-1]
    assert (
        first.next == ("__start__",) and first.values == {"log": []} and first.parent_config is None
    )
    raw = saver.get_tuple(first.config)
    assert raw is not None and raw.checkpoint["channel_values"] == {"__start__": {"log": ["in"]}}
    for child, parent in itertools.pairwise(hist):
        assert (
            child.parent_config["configurable"]["checkpoint_id"]
            == parent.config["configurable"]["checkpoint_id"]
        )


@pytest.mark.spec("ENG-STEP-002")
def test_steps_continue_across_invokes_and_nodes_see_their_step() -> None:
    seen: list[int] = []

    def spy(state: State) -> dict[str, Any]:
        seen.append(get_config()["metadata"]["langgraph_step"])
        return {"log": ["s"]}

    b = StateGraph(State)
    b.add_node("s", spy)
    b.add_edge(START, "s")
    g = b.compile(checkpointer=MemorySaver())
    g.invoke({"log": ["1"]}, cfg("t"))
    g.invoke({"log": ["2"]}, cfg("t"))
    assert steps(g, cfg("t"))[:3] == [("loop", 4), ("loop", 3), ("input", 2)][:0] or [
        (src, st) for src, st, _ in steps(g, cfg("t"))
    ] == [("loop", 4), ("loop", 3), ("input", 2), ("loop", 1), ("loop", 0), ("input", -1)]
    assert seen == [1, 4]
    assert g.get_state(cfg("t")).values == {"log": ["1", "s", "2", "s"]}


@pytest.mark.spec("ENG-STEP-003")
def test_recursion_limit_counts_from_the_loaded_head() -> None:
    b = StateGraph(State)
    for n in "abc":
        b.add_node(n, node(n))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "c")
    b.add_edge("c", "a")
    g = b.compile(checkpointer=MemorySaver())
    with pytest.raises(GraphRecursionError, match="Recursion limit of 4 reached"):
        g.invoke({"log": []}, {**cfg("loop"), "recursion_limit": 4})
    head = g.get_state(cfg("loop"))
    assert (head.metadata["step"], head.next) == (4, ("b",))
    RUNS.clear()
    with pytest.raises(GraphRecursionError):
        g.invoke(None, {**cfg("loop"), "recursion_limit": 2})
    assert sum(RUNS.values()) == 4


@pytest.mark.spec("ENG-STEP-004")
def test_writes_apply_in_task_path_order_and_plain_keys_take_one_write() -> None:
    b = StateGraph(State)
    b.add_node("zeta", lambda s: {"log": ["zeta"]})
    b.add_node("alpha", lambda s: (time.sleep(0.2), {"log": ["alpha"]})[1])
    b.add_edge(START, "zeta")
    b.add_edge(START, "alpha")
    g = b.compile(checkpointer=MemorySaver())
    assert g.invoke({"log": []}, cfg("o"))["log"] == ["alpha", "zeta"]
    assert [next(iter(e)) for e in g.stream({"log": []}, cfg("o2"))] == ["zeta", "alpha"]
    b2 = StateGraph(State)
    b2.add_node("p", lambda s: {"last": "p"})
    b2.add_node("q", lambda s: {"last": "q"})
    b2.add_edge(START, "p")
    b2.add_edge(START, "q")
    with pytest.raises(
        InvalidUpdateError, match="At key 'last': Can receive only one value per step"
    ):
        b2.compile(checkpointer=MemorySaver()).invoke({"log": []}, cfg("x"))


@pytest.mark.spec("ENG-STEP-005")
def test_next_follows_sends_conditional_edges_and_fan_in() -> None:
    b = StateGraph(State)
    b.add_node("a", lambda s: {"log": ["a"]})
    b.add_node("w", lambda arg: {"log": [f"w{arg['i']}"]})
    b.add_edge(START, "a")
    b.add_conditional_edges("a", lambda s: [Send("w", {"i": i}) for i in (2, 0, 1)])
    g = b.compile(checkpointer=MemorySaver(), interrupt_before=["w"])
    g.invoke({"log": []}, cfg("s"))
    st = g.get_state(cfg("s"))
    assert st.next == ("w", "w", "w")
    assert [t.path for t in st.tasks] == [("__pregel_push", i, False) for i in range(3)]
    assert g.invoke(None, cfg("s")) == {"log": ["a", "w2", "w0", "w1"]}

    b = StateGraph(State)
    for n in ("x", "x2", "y", "z"):
        b.add_node(n, lambda s, n=n: (RUNS.update([n]), {"log": [n]})[1])
    b.add_edge(START, "x")
    b.add_edge("x", "x2")
    b.add_edge(START, "y")
    b.add_edge(["x2", "y"], "z")
    g = b.compile(checkpointer=MemorySaver())
    g.invoke({"log": []}, cfg("j"))
    assert [(st, nx) for _, st, nx in reversed(steps(g, cfg("j")))] == [
        (-1, ("__start__",)),
        (0, ("x", "y")),
        (1, ("x2",)),
        (2, ("z",)),
        (3, ()),
    ]
    assert RUNS["z"] == 1

    b = StateGraph(State)
    for n in "abc":
        b.add_node(n, node(n))
    b.add_edge(START, "a")
    b.add_conditional_edges("a", lambda s: s["last"], {"a": "c", "x": END})
    g = b.compile(checkpointer=MemorySaver())
    assert g.invoke({"log": []}, cfg("c"))["log"] == ["a", "c"]


@pytest.mark.spec("ENG-HIST-001")
def test_history_is_newest_first_across_branches_with_filters() -> None:
    g = linear(MemorySaver())
    g.invoke({"log": ["in"]}, cfg("h"))
    past = next(s for s in g.get_state_history(cfg("h")) if s.metadata["step"] == 1)
    g.invoke(None, past.config)  # a second branch from step 1
    hist = list(g.get_state_history(cfg("h")))
    ids = [s.config["configurable"]["checkpoint_id"] for s in hist]
    assert ids == sorted(ids, reverse=True) and len(hist) == 8
    assert [s.metadata["source"] for s in hist[:3]] == ["loop", "loop", "fork"]
    assert [
        s.metadata["step"] for s in g.get_state_history(cfg("h"), filter={"source": "input"})
    ] == [-1]
    assert len(list(g.get_state_history(cfg("h"), limit=2))) == 2
    before = list(g.get_state_history(cfg("h"), before=hist[2].config))
    assert [s.config for s in before] == [s.config for s in hist[3:]]
    assert [s.config for s in g.get_state_history(hist[4].config)] == [hist[4].config]
    assert list(g.get_state_history(cfg("nobody"))) == []


@pytest.mark.spec("ENG-HIST-002")
def test_snapshot_fields_and_task_results() -> None:
    g = linear(MemorySaver())
    g.invoke({"log": ["in"], "last": "in"}, cfg("f"))
    s = next(s for s in g.get_state_history(cfg("f")) if s.metadata["step"] == 1)
    assert s.values == {"log": ["in", "a"], "last": "a"} and s.next == ("b",)
    assert s.metadata == {"source": "loop", "step": 1, "parents": {}}
    assert s.created_at and set(s.config["configurable"]) == {
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
    }
    (task,) = s.tasks
    assert (task.name, task.path, task.error, task.interrupts, task.result) == (
        "b",
        ("__pregel_pull", "b"),
        None,
        (),
        {"log": ["b"], "last": "b"},
    )
    assert g.get_state(cfg("f")).tasks == ()


@pytest.mark.spec("ENG-STATE-001")
def test_live_and_record_views_after_a_partial_failure() -> None:
    g = fanout(MemorySaver(), fail_once={"b2"})
    with pytest.raises(ValueError, match="b2 boom"):
        g.invoke({"log": ["in"]}, cfg("v"))
    live = g.get_state(cfg("v"))
    assert live.next == ("b2",) and live.values["log"] == ["in", "a", "b1"]
    assert [(t.name, t.result, t.error) for t in live.tasks] == [
        ("b1", {"log": ["b1"]}, None),
        ("b2", None, "ValueError('b2 boom')"),
    ]
    record = g.get_state(live.config)
    assert record.next == ("b1", "b2") and record.values["log"] == ["in", "a"]
    empty = g.get_state(cfg("none"))
    assert (empty.values, empty.next, empty.metadata, empty.created_at, empty.tasks) == (
        {},
        (),
        None,
        None,
        (),
    )


# -- tasks and writes ---------------------------------------------------------------------
@pytest.mark.spec("ENG-TASK-001")
def test_task_ids_are_deterministic_per_checkpoint() -> None:
    saver = MemorySaver()
    g = linear(saver)
    g.invoke({"log": ["in"]}, cfg("d"))
    s1 = next(s for s in g.get_state_history(cfg("d")) if s.metadata["step"] == 1)
    s2 = g.get_state(s1.config)
    assert s1.tasks[0].id == s2.tasks[0].id
    raw = saver.get_tuple(s1.config)
    assert raw is not None and {t for t, _, _ in raw.pending_writes or []} == {s1.tasks[0].id}
    g.invoke(None, s1.config)  # replay: a fork with new task ids
    fork = next(s for s in g.get_state_history(cfg("d")) if s.metadata["source"] == "fork")
    assert fork.next == s1.next and fork.tasks[0].id != s1.tasks[0].id


@pytest.mark.spec("ENG-TASK-002")
def test_finished_task_writes_are_saved_before_the_step_ends() -> None:
    saver = MemorySaver()
    seen_early: list[Any] = []
    b1_done = threading.Event()

    def b1(state: State) -> dict[str, Any]:
        b1_done.set()
        return {"log": ["b1"]}

    def b2(state: State) -> dict[str, Any]:
        b1_done.wait(5)
        time.sleep(0.2)  # b1's put_writes happens when b1 finishes, not at the end of the step
        head = saver.get_tuple(cfg("w"))
        assert head is not None
        seen_early.extend(head.pending_writes or [])
        return {}

    b = StateGraph(State)
    b.add_node("a", lambda s: {"log": ["a"]})
    b.add_node("b1", b1)
    b.add_node("b2", b2)
    b.add_edge(START, "a")
    b.add_edge("a", "b1")
    b.add_edge("a", "b2")
    g = b.compile(checkpointer=saver)
    g.invoke({"log": []}, cfg("w"))
    assert [(c, v) for _, c, v in seen_early] == [("log", ["b1"])]
    step1 = next(t for t in saver.list(cfg("w")) if t.metadata["step"] == 1)
    assert ("__no_writes__", None) in [(c, v) for _, c, v in step1.pending_writes or []]

    g2 = linear(saver)
    g2.invoke({"log": ["in"]}, cfg("cmd"))
    g2.invoke(Command(goto="b"), cfg("cmd"))
    head3 = next(t for t in saver.list(cfg("cmd")) if t.metadata["step"] == 3)
    assert (NULL_TASK_ID, "branch:to:b", None) in (head3.pending_writes or [])


# -- resume after failure ------------------------------------------------------------------
@pytest.mark.spec("ENG-RES-001")
def test_failing_node_saves_its_error_and_no_checkpoint() -> None:
    saver = MemorySaver()
    g = linear(saver, fail_once={"b"})
    with pytest.raises(ValueError, match="b boom"):
        g.invoke({"log": ["in"]}, cfg("e"))
    rows = list(saver.list(cfg("e")))
    assert [r.metadata["step"] for r in rows] == [1, 0, -1]
    assert [(c, v) for _, c, v in rows[0].pending_writes or []] == [
        ("__error__", "ValueError('b boom')")
    ]


@pytest.mark.spec("ENG-RES-001")
def test_ainvoke_cancels_running_siblings() -> None:
    fail = {"b2"}

    async def slow(state: State) -> dict[str, Any]:
        RUNS["b1"] += 1
        await asyncio.sleep(0.5)
        return {"log": ["b1"]}

    async def boom(state: State) -> dict[str, Any]:
        RUNS["b2"] += 1
        if "b2" in fail:
            fail.discard("b2")
            raise ValueError("b2 boom")
        return {"log": ["b2"]}

    b = StateGraph(State)
    b.add_node("a", node("a"))
    b.add_node("b1", slow)
    b.add_node("b2", boom)
    b.add_edge(START, "a")
    b.add_edge("a", "b1")
    b.add_edge("a", "b2")
    g = b.compile(checkpointer=MemorySaver())
    with pytest.raises(ValueError, match="b2 boom"):
        asyncio.run(g.ainvoke({"log": []}, cfg("ac")))
    st = asyncio.run(g.aget_state(cfg("ac")))
    assert [(t.name, t.error) for t in st.tasks] == [
        ("b1", "CancelledError()"),
        ("b2", "ValueError('b2 boom')"),
    ]
    assert asyncio.run(g.ainvoke(None, cfg("ac")))["log"] == ["a", "b1", "b2"]


@pytest.mark.spec("ENG-RES-002")
def test_resume_reruns_only_failed_tasks() -> None:
    g = fanout(MemorySaver(), fail_once={"b2"}, b1_sleep=0.2)
    with pytest.raises(ValueError):
        g.invoke({"log": ["in"]}, cfg("r"))
    assert g.invoke(None, cfg("r"))["log"] == ["in", "a", "b1", "b2", "c"]
    assert Counter({"a": 1, "b1": 1, "b2": 2, "c": 1}) == RUNS
    record = next(s for s in g.get_state_history(cfg("r")) if s.metadata["step"] == 1)
    b2 = next(t for t in record.tasks if t.name == "b2")
    assert b2.error == "ValueError('b2 boom')" and b2.result == {"log": ["b2"]}


@pytest.mark.spec("ENG-RES-003")
def test_a_new_graph_and_saver_instance_resume_from_storage(tmp_path: Any) -> None:
    from checkpointkit.backends.sqlite import SqliteSaver

    db = tmp_path / "x.db"
    first = SqliteSaver(db)
    with pytest.raises(ValueError):
        fanout(first, fail_once={"b2"}).invoke({"log": ["in"]}, cfg("p"))
    first.conn.close()
    second = SqliteSaver(db)
    RUNS.clear()
    assert fanout(second).invoke(None, cfg("p"))["log"] == ["in", "a", "b1", "b2", "c"]
    assert Counter({"b2": 1, "c": 1}) == RUNS


@pytest.mark.spec("ENG-RES-004")
def test_new_input_after_failure_drops_failed_task() -> None:
    g = linear(MemorySaver(), fail_once={"b"})
    with pytest.raises(ValueError):
        g.invoke({"log": ["in"]}, cfg("n"))
    assert g.invoke({"log": ["again"]}, cfg("n"))["log"] == ["in", "a", "again", "a", "b", "c"]
    assert steps(g, cfg("n"))[4] == ("input", 2, ("__start__",))


# -- forks ---------------------------------------------------------------------------------
@pytest.mark.spec("ENG-FORK-001")
def test_replay_writes_a_fork_and_reruns() -> None:
    g = linear(MemorySaver())
    g.invoke({"log": ["in"]}, cfg("tt"))
    past = next(s for s in g.get_state_history(cfg("tt")) if s.metadata["step"] == 1)
    RUNS.clear()
    assert g.invoke(None, past.config)["log"] == ["in", "a", "b", "c"]
    assert Counter({"b": 1, "c": 1}) == RUNS
    fork = next(s for s in g.get_state_history(cfg("tt")) if s.metadata["source"] == "fork")
    assert (
        fork.metadata["step"] == 2
        and fork.parent_config == past.config
        and fork.values == past.values
    )
    head = g.get_state(cfg("tt"))
    g.invoke(None, head.config)  # a finished head still gets a fork
    assert steps(g, cfg("tt"))[0] == ("fork", 5, ())


@pytest.mark.spec("ENG-FORK-002")
def test_new_input_on_past_checkpoint_branches() -> None:
    g = linear(MemorySaver())
    g.invoke({"log": ["in"]}, cfg("b"))
    past = next(s for s in g.get_state_history(cfg("b")) if s.metadata["step"] == 1)
    assert g.invoke({"log": ["NEW"]}, past.config)["log"] == ["in", "a", "NEW", "a", "b", "c"]
    branch_input = next(
        s
        for s in g.get_state_history(cfg("b"))
        if s.metadata["step"] == 2 and s.metadata["source"] == "input"
    )
    assert branch_input.parent_config == past.config


@pytest.mark.spec("ENG-FORK-003")
def test_branches_keep_their_own_values() -> None:
    g = linear(MemorySaver())
    g.invoke({"log": ["in"]}, cfg("k"))
    hist = list(g.get_state_history(cfg("k")))
    past = next(s for s in hist if s.metadata["step"] == 1)
    fork_cfg = g.update_state(past.config, {"log": ["F"], "last": "F"})
    g.invoke(None, fork_cfg)
    for old in hist:  # the original branch reads exactly what it read before
        assert g.get_state(old.config).values == old.values
    assert g.get_state(cfg("k")).values["log"] == ["in", "a", "F", "b", "c"]


# -- update_state --------------------------------------------------------------------------
@pytest.mark.spec("ENG-UPD-001")
def test_update_state_runs_writers_and_edges() -> None:
    g = linear(MemorySaver())
    g.invoke({"log": ["in"]}, cfg("u"))
    RUNS.clear()
    new = g.update_state(cfg("u"), {"log": ["Y"]}, as_node="a")
    st = g.get_state(cfg("u"))
    assert st.config == new and st.next == ("b",) and st.values["log"][-1] == "Y"
    assert st.metadata == {"source": "update", "step": 4, "parents": {}} and not RUNS
    empty = g.update_state(cfg("fresh"), {"log": ["seed"]})
    assert g.get_state(empty).metadata["step"] == 0 and g.get_state(empty).parent_config is None


@pytest.mark.spec("ENG-UPD-002")
def test_as_node_inference() -> None:
    g = linear(MemorySaver())
    g.invoke({"log": ["in"]}, cfg("i"))
    g.update_state(cfg("i"), {"log": ["X"]})
    assert g.get_state(cfg("i")).next == ()  # inferred "c": its edge goes to END
    with pytest.raises(InvalidUpdateError, match="Node nope does not exist"):
        g.update_state(cfg("i"), {"log": ["X"]}, as_node="nope")
    b = StateGraph(State)
    b.add_node("p", lambda s: {"log": ["p"]})
    b.add_node("q", lambda s: {"log": ["q"]})
    b.add_edge(START, "p")
    b.add_edge(START, "q")
    gp = b.compile(checkpointer=MemorySaver())
    gp.invoke({"log": []}, cfg("par"))
    with pytest.raises(InvalidUpdateError, match="Ambiguous update, specify as_node"):
        gp.update_state(cfg("par"), {"log": ["r"]})


@pytest.mark.spec("ENG-UPD-003")
def test_special_as_node_values() -> None:
    g = linear(MemorySaver())
    g.update_state(cfg("in"), {"log": ["x"]}, as_node="__input__")
    assert steps(g, cfg("in")) == [("input", -1, ("__start__",))]
    assert g.invoke(None, cfg("in"))["log"] == ["x", "a", "b", "c"]
    past = next(s for s in g.get_state_history(cfg("in")) if s.metadata["step"] == 1)
    copied = g.get_state(g.update_state(past.config, None, as_node="__copy__"))
    assert copied.metadata["source"] == "fork" and copied.values == past.values
    assert copied.parent_config == past.parent_config
    g.update_state(cfg("in"), None, as_node=END)
    assert g.get_state(cfg("in")).next == ()
    RUNS.clear()
    g.invoke(None, cfg("in"))
    assert not RUNS


@pytest.mark.spec("ENG-UPD-004")
def test_overwrite_bypasses_reducers() -> None:
    g = linear(MemorySaver())
    g.invoke({"log": ["in"]}, cfg("ow"))
    g.update_state(cfg("ow"), {"log": Overwrite(["only"])}, as_node="c")
    assert g.get_state(cfg("ow")).values["log"] == ["only"]
    g.update_state(cfg("ow"), {"log": {"__overwrite__": ["d"]}}, as_node="c")
    assert g.get_state(cfg("ow")).values["log"] == ["d"]
    assert g.invoke({"log": Overwrite(["fresh"])}, cfg("ow"))["log"] == ["fresh", "a", "b", "c"]
    with pytest.raises(
        InvalidUpdateError, match=r"Can receive only one Overwrite value per super-step\."
    ):
        g.bulk_update_state(
            cfg("ow"), [[({"log": Overwrite(["1"])}, "a"), ({"log": Overwrite(["2"])}, "b")]]
        )


@pytest.mark.spec("ENG-UPD-005")
def test_bulk_update_state_one_checkpoint_per_superstep() -> None:
    g = linear(MemorySaver())
    g.invoke({"log": ["in"]}, cfg("bk"))
    n = len(list(g.get_state_history(cfg("bk"))))
    g.bulk_update_state(
        cfg("bk"), [[({"log": ["1"]}, "a"), ({"log": ["2"]}, "b")], [({"log": ["3"]}, "c")]]
    )
    hist = list(g.get_state_history(cfg("bk")))
    assert len(hist) == n + 2 and hist[0].values["log"][-3:] == ["1", "2", "3"]
    with pytest.raises(InvalidUpdateError, match="as_node is required"):
        g.bulk_update_state(cfg("bk"), [[({"log": ["1"]}, None), ({"log": ["2"]}, "b")]])


# -- interrupts ----------------------------------------------------------------------------
def asking(name: str, n: int = 1) -> Any:
    def fn(state: State) -> dict[str, Any]:
        RUNS[name] += 1
        answers = [interrupt(f"{name} q{i}") for i in range(n)]
        return {"log": [f"{name}={'/'.join(map(str, answers))}"]}

    return fn


def with_asking(saver: Any, n: int = 1) -> Any:
    b = StateGraph(State)
    b.add_node("a", node("a"))
    b.add_node("b", asking("b", n))
    b.add_node("c", node("c"))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "c")
    return b.compile(checkpointer=saver)


@pytest.mark.spec("ENG-INT-001")
def test_interrupt_saves_a_write_and_no_checkpoint() -> None:
    saver = MemorySaver()
    g = with_asking(saver)
    out = g.invoke({"log": ["in"]}, cfg("q"))
    (intr,) = out["__interrupt__"]
    assert isinstance(intr, Interrupt) and intr.value == "b q0" and len(intr.id) == 32
    assert out["log"] == ["in", "a"] and len(list(saver.list(cfg("q")))) == 3
    head = saver.get_tuple(cfg("q"))
    assert head is not None and [(c, v) for _, c, v in head.pending_writes or []] == [
        ("__interrupt__", [intr])
    ]
    assert g.invoke(None, cfg("q"))["__interrupt__"] == [intr]  # same id again
    assert len(list(saver.list(cfg("q")))) == 3
    events = list(g.stream({"log": ["in"]}, cfg("q2"), stream_mode="updates"))
    assert list(events[-1]) == ["__interrupt__"]


@pytest.mark.spec("ENG-INT-002")
def test_command_resume_reruns_from_the_top() -> None:
    g = with_asking(MemorySaver(), n=2)
    g.invoke({"log": ["in"]}, cfg("cr"))
    assert g.invoke(Command(resume="r1"), cfg("cr"))["__interrupt__"][0].value == "b q1"
    out = g.invoke(Command(resume="r2", update={"log": ["U"]}), cfg("cr"))
    assert out["log"] == ["in", "a", "U", "b=r1/r2", "c"] and RUNS["b"] == 3
    assert [s for s, _, _ in steps(g, cfg("cr"))] == ["loop", "loop", "loop", "loop", "input"]


@pytest.mark.spec("ENG-INT-003")
def test_several_pending_interrupts_need_a_resume_map() -> None:
    b = StateGraph(State)
    b.add_node("x", asking("x"))
    b.add_node("y", asking("y"))
    b.add_edge(START, "x")
    b.add_edge(START, "y")
    g = b.compile(checkpointer=MemorySaver())
    out = g.invoke({"log": []}, cfg("m"))
    ids = {i.value: i.id for i in out["__interrupt__"]}
    with pytest.raises(RuntimeError, match="multiple pending interrupts"):
        g.invoke(Command(resume="v"), cfg("m"))
    out = g.invoke(Command(resume={ids["x q0"]: "X"}), cfg("m"))
    assert out["log"] == ["x=X"] and [i.value for i in out["__interrupt__"]] == ["y q0"]
    assert g.invoke(Command(resume={ids["y q0"]: "Y"}), cfg("m"))["log"] == ["x=X", "y=Y"]
    assert Counter({"x": 2, "y": 3}) == RUNS


@pytest.mark.spec("ENG-INT-004")
def test_interrupt_before_and_after() -> None:
    b = StateGraph(State)
    for n in "abc":
        b.add_node(n, node(n))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "c")
    g = b.compile(checkpointer=MemorySaver(), interrupt_before=["b"])
    assert g.invoke({"log": ["in"]}, cfg("ib")) == {"log": ["in", "a"], "last": "a"}
    assert g.get_state(cfg("ib")).next == ("b",)
    assert g.invoke(None, cfg("ib"))["log"] == ["in", "a", "b", "c"]
    step0 = next(s for s in g.get_state_history(cfg("ib")) if s.metadata["step"] == 0)
    g.invoke(None, step0.config)  # replay: pauses again before b, in a later step
    assert g.get_state(cfg("ib")).next == ("b",)
    ga = b.compile(checkpointer=MemorySaver(), interrupt_after=["a"])
    assert ga.invoke({"log": ["in"]}, cfg("ia"))["log"] == ["in", "a"]
    assert steps(ga, cfg("ia"))[0] == ("loop", 1, ("b",))


# -- subgraphs -----------------------------------------------------------------------------
class Sub(TypedDict):
    log: Annotated[list[str], operator.add]
    sub_log: Annotated[list[str], operator.add]


def subgraph(checkpointer: Any, ask: bool = False) -> Any:
    def s2(state: Sub) -> dict[str, Any]:
        RUNS["s2"] += 1
        v = interrupt("s2?") if ask else "x"
        return {"log": [f"s2={v}"], "sub_log": ["s2"]}

    def s1(state: Sub) -> dict[str, Any]:
        RUNS["s1"] += 1
        return {"log": ["s1"], "sub_log": ["s1"]}

    b = StateGraph(Sub)
    b.add_node("s1", s1)
    b.add_node("s2", s2)
    b.add_edge(START, "s1")
    b.add_edge("s1", "s2")
    return b.compile(checkpointer=checkpointer)


def parent(saver: Any, sub: Any) -> Any:
    b = StateGraph(State)
    b.add_node("p1", node("p1"))
    b.add_node("sub", sub)
    b.add_edge(START, "p1")
    b.add_edge("p1", "sub")
    return b.compile(checkpointer=saver)


def namespaces(saver: Any, thread: str) -> Counter[str]:
    return Counter(
        r.config["configurable"]["checkpoint_ns"].split(":")[0] for r in saver.list(cfg(thread))
    )


@pytest.mark.spec("ENG-SUB-001")
def test_inherited_subgraph_checkpoints_per_parent_task() -> None:
    saver = MemorySaver()
    g = parent(saver, subgraph(None))
    g.invoke({"log": ["t1"]}, cfg("sg"))
    g.invoke({"log": ["t2"]}, cfg("sg"))
    rows = list(saver.list(cfg("sg")))
    sub_ns = {r.config["configurable"]["checkpoint_ns"] for r in rows} - {""}
    assert len(sub_ns) == 2 and all(ns.startswith("sub:") for ns in sub_ns)
    for r in rows:
        if r.config["configurable"]["checkpoint_ns"]:
            parent_id = r.metadata["parents"][""]
            parent_row = saver.get_tuple(
                {
                    "configurable": {
                        "thread_id": "sg",
                        "checkpoint_ns": "",
                        "checkpoint_id": parent_id,
                    }
                }
            )
            assert parent_row is not None and parent_row.metadata["step"] in (1, 5)
    last_sub = max(
        (r for r in rows if r.config["configurable"]["checkpoint_ns"]),
        key=lambda r: r.config["configurable"]["checkpoint_id"],
    )
    assert last_sub.checkpoint["channel_values"]["sub_log"] == [
        "s1",
        "s2",
    ]  # no memory across turns


@pytest.mark.spec("ENG-SUB-002")
def test_checkpointer_false_and_true() -> None:
    saver = MemorySaver()
    parent(saver, subgraph(False)).invoke({"log": []}, cfg("f"))
    assert namespaces(saver, "f") == Counter({"": 4})
    g = parent(saver, subgraph(True))
    g.invoke({"log": []}, cfg("t"))
    g.invoke({"log": []}, cfg("t"))
    assert namespaces(saver, "t") == Counter({"": 8, "sub": 8})
    sub_head = saver.get_tuple({"configurable": {"thread_id": "t", "checkpoint_ns": "sub"}})
    assert sub_head is not None and sub_head.checkpoint["channel_values"]["sub_log"] == [
        "s1",
        "s2",
        "s1",
        "s2",
    ]
    with pytest.raises(RuntimeError, match=r"checkpointer=True cannot be used for root graphs\."):
        subgraph(True).invoke({"log": []}, cfg("x"))


@pytest.mark.spec("ENG-SUB-003")
def test_subgraph_interrupt_resumes_in_place() -> None:
    g = parent(MemorySaver(), subgraph(None, ask=True))
    out = g.invoke({"log": ["in"]}, cfg("si"))
    assert out["__interrupt__"][0].value == "s2?"
    st = g.get_state(cfg("si"))
    (task,) = st.tasks
    assert task.name == "sub" and task.interrupts == tuple(out["__interrupt__"])
    assert task.state["configurable"]["checkpoint_ns"] == f"sub:{task.id}"
    deep = g.get_state(cfg("si"), subgraphs=True).tasks[0].state
    assert deep.next == ("s2",) and deep.values["sub_log"] == ["s1"]
    RUNS.clear()
    assert g.invoke(Command(resume="R"), cfg("si"))["log"][-1] == "s2=R"
    assert Counter({"s2": 1}) == RUNS


@pytest.mark.spec("ENG-SUB-004")
def test_subgraph_namespace_is_addressable() -> None:
    g = parent(MemorySaver(), subgraph(None, ask=True))
    g.invoke({"log": ["in"]}, cfg("sa"))
    sub_cfg = g.get_state(cfg("sa")).tasks[0].state
    assert [s.metadata["source"] for s in g.get_state_history(sub_cfg)] == ["loop", "loop", "input"]
    new = g.update_state(sub_cfg, {"sub_log": ["EDITED"]})
    assert set(new["configurable"]["checkpoint_map"]) == {
        "",
        sub_cfg["configurable"]["checkpoint_ns"],
    }
    assert g.get_state(sub_cfg).values["sub_log"] == ["s1", "EDITED"]
    assert g.invoke(Command(resume="R"), cfg("sa"))["log"][-1] == "s2=R"
    assert all(
        s.config["configurable"]["checkpoint_ns"] == "" for s in g.get_state_history(cfg("sa"))
    )


# -- durability ----------------------------------------------------------------------------
@pytest.mark.spec("ENG-DUR-001")
@pytest.mark.parametrize("mode", ["sync", "async", None])
def test_sync_and_async_persist_everything(mode: str | None) -> None:
    saver = MemorySaver()
    kw = {} if mode is None else {"durability": mode}
    linear(saver).invoke({"log": ["in"]}, cfg("d"), **kw)
    assert [r.metadata["step"] for r in saver.list(None)] == [3, 2, 1, 0, -1]


@pytest.mark.spec("ENG-DUR-002")
def test_exit_persists_one_checkpoint_per_run_and_enough_to_resume() -> None:
    saver = MemorySaver()
    g = linear(saver)
    g.invoke({"log": ["in"]}, cfg("x"), durability="exit")
    g.invoke({"log": ["in2"]}, cfg("x"), durability="exit")
    rows = list(saver.list(None))
    assert [(r.metadata["source"], r.metadata["step"]) for r in rows] == [("loop", 8), ("loop", 3)]
    assert rows[0].parent_config == rows[1].config and rows[1].parent_config is None
    saver2 = MemorySaver()
    gf = linear(saver2, fail_once={"b"})
    with pytest.raises(ValueError):
        gf.invoke({"log": ["in"]}, cfg("xf"), durability="exit")
    (only,) = list(saver2.list(None))
    assert only.metadata["step"] == 1 and [c for _, c, _ in only.pending_writes or []] == [
        "__error__"
    ]
    assert gf.invoke(None, cfg("xf"), durability="exit")["log"] == ["in", "a", "b", "c"]


# -- errors --------------------------------------------------------------------------------
@pytest.mark.spec("ENG-ERR-001")
def test_missing_thread_id_errors() -> None:
    g = linear(MemorySaver())
    for config in (None, {}, {"configurable": {}}):
        with pytest.raises(ValueError, match="Checkpointer requires one or more"):
            g.invoke({"log": []}, config)
    with pytest.raises(KeyError, match="thread_id"):
        g.invoke({"log": []}, {"configurable": {"foo": 1}})
    with pytest.raises(KeyError, match="configurable"):
        g.get_state({})
    with pytest.raises(KeyError, match="thread_id"):
        g.update_state({"configurable": {}}, {"log": []})
    g.invoke({"log": []}, {"configurable": {"thread_id": 123}})
    assert g.get_state(cfg("123")).values["log"] == ["a", "b", "c"]


@pytest.mark.spec("ENG-ERR-002")
def test_state_apis_need_a_checkpointer() -> None:
    g = linear(None)
    with pytest.raises(ValueError, match="No checkpointer set"):
        g.get_state(cfg("x"))
    with pytest.raises(ValueError, match="No checkpointer set"):
        g.update_state(cfg("x"), {"log": []})
    assert g.invoke({"log": []}, cfg("x"))["log"] == ["a", "b", "c"]
    b = StateGraph(State)
    b.add_node("b", asking("b"))
    b.add_edge(START, "b")
    gi = b.compile()
    assert gi.invoke({"log": []})["__interrupt__"][0].value == "b q0"
    with pytest.raises(RuntimeError, match="Cannot use Command"):
        gi.invoke(Command(resume="x"))


@pytest.mark.spec("ENG-ERR-003")
def test_empty_input_and_unknown_checkpoint_ids() -> None:
    saver = MemorySaver()
    g = linear(saver)
    with pytest.raises(EmptyInputError, match="Received no input for __start__"):
        g.invoke(None, cfg("empty"))
    assert list(saver.list(cfg("empty"))) == []
    g.invoke({"log": ["in"]}, cfg("e"))
    n = len(list(saver.list(cfg("e"))))
    assert g.invoke(None, cfg("e"))["log"] == ["in", "a", "b", "c"]
    assert len(list(saver.list(cfg("e")))) == n
    bogus = cfg("e", checkpoint_id="1f0aaaaa-0000-6000-8000-000000000000")
    with pytest.raises(EmptyInputError):
        g.invoke(None, bogus)
    assert g.invoke({"log": ["x"]}, bogus)["log"] == ["x", "a", "b", "c"]
    first = next(
        s for s in g.get_state_history(cfg("e")) if s.values == {"log": []} and s.parent_config
    )
    assert (
        first.parent_config["configurable"]["checkpoint_id"]
        == bogus["configurable"]["checkpoint_id"]
    )


# -- streams and store ---------------------------------------------------------------------
@pytest.mark.spec("ENG-STREAM-001")
def test_stream_modes() -> None:
    g = linear(MemorySaver())
    values = list(g.stream({"log": ["in"]}, cfg("s"), stream_mode="values"))
    assert [v["log"] for v in values] == [
        ["in"],
        ["in", "a"],
        ["in", "a", "b"],
        ["in", "a", "b", "c"],
    ]
    assert list(g.stream(None, cfg("s"), stream_mode="values")) == [values[-1]]
    assert list(g.stream(None, cfg("s"), stream_mode="updates")) == []
    pairs = list(g.stream({"log": ["x"]}, cfg("s2"), stream_mode=["values", "updates"]))
    assert [m for m, _ in pairs] == [
        "values",
        "updates",
        "values",
        "updates",
        "values",
        "updates",
        "values",
    ]
    cps = list(g.stream({"log": []}, cfg("s3"), stream_mode="checkpoints"))
    assert [(c["metadata"]["source"], c["next"]) for c in cps][:2] == [
        ("input", ["__start__"]),
        ("loop", ["a"]),
    ]
    tasks = list(g.stream({"log": []}, cfg("s4"), stream_mode="tasks"))
    assert [("input" in t, t["name"]) for t in tasks[:2]] == [(True, "a"), (False, "a")]

    async def collect() -> list[Any]:
        return [e async for e in g.astream({"log": ["in"]}, cfg("s5"), stream_mode="updates")]

    assert [next(iter(e)) for e in asyncio.run(collect())] == ["a", "b", "c"]


@pytest.mark.spec("ENG-STORE-001")
def test_store_is_shared_and_not_checkpointed() -> None:
    class S(TypedDict):
        user: str
        seen: Annotated[list[int], operator.add]

    def remember(state: S, runtime: Runtime[Any]) -> dict[str, Any]:
        ns = ("memories", state["user"])
        n = len(runtime.store.search(ns))
        runtime.store.put(ns, f"m{n}", {"n": n})
        return {"seen": [n]}

    b = StateGraph(S)
    b.add_node("remember", remember)
    b.add_edge(START, "remember")
    store = InMemoryStore()
    saver = MemorySaver()
    g = b.compile(checkpointer=saver, store=store)
    g.invoke({"user": "al"}, cfg("A"))
    assert g.invoke({"user": "al"}, cfg("B"))["seen"] == [1]
    assert [i.key for i in store.search(("memories",))] == ["m0", "m1"]
    for row in saver.list(None):
        assert "memories" not in repr(row.checkpoint["channel_values"])


# -- messages ------------------------------------------------------------------------------
def test_add_messages_appends_replaces_and_removes() -> None:
    left = add_messages(
        [], [{"role": "user", "content": "hi", "id": "1"}, {"role": "ai", "content": "x"}]
    )
    assert left[1]["id"] and left[0]["id"] == "1"
    merged = add_messages(
        left,
        [{"role": "user", "content": "HI", "id": "1"}, {"role": "ai", "content": "y", "id": "3"}],
    )
    assert [m["content"] for m in merged] == ["HI", "x", "y"]
    assert [m["content"] for m in add_messages(merged, [RemoveMessage(id="3")])] == ["HI", "x"]

    b = StateGraph(MessagesState)
    b.add_node("bot", lambda s: {"messages": [{"role": "ai", "content": str(len(s["messages"]))}]})
    b.add_edge(START, "bot")
    g = b.compile(checkpointer=MemorySaver())
    g.invoke({"messages": [{"role": "user", "content": "a"}]}, cfg("m"))
    out = g.invoke({"messages": [{"role": "user", "content": "b"}]}, cfg("m"))
    assert [m["content"] for m in out["messages"]] == ["a", "1", "b", "3"]
