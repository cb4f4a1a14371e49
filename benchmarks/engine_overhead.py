"""Engine overhead: the same 3-node messages graph, 1,000 invokes on one thread, ours vs LangGraph.

Run with a Python that has both packages (LangGraph is imported lazily; without it only the
reference engine is timed):

    /work/venv-lg/bin/python benchmarks/engine_overhead.py [--invokes 1000] [--repeat 3]

Both engines use an in-memory saver (checkpointkit's MemorySaver, LangGraph's InMemorySaver)
with default durability, so each invoke writes 5 checkpoints (input, start step, a, b, c) and
saves every task's writes. The state keeps growing (4 messages per invoke), as in a chat
thread. Reported per engine: best-of-``--repeat`` process CPU time (all threads of this
process, so LangGraph's background saver threads count) and wall time; the ratio is on CPU
time, which other load on the machine disturbs far less than wall time.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any


def build_reference() -> Callable[[int], Any]:
    from checkpointkit.backends.memory import MemorySaver
    from checkpointkit.reference_engine import START, MessagesState, StateGraph

    def node(name: str) -> Callable[[MessagesState], dict[str, Any]]:
        def fn(state: MessagesState) -> dict[str, Any]:
            return {"messages": [{"role": "ai", "content": f"{name}:{len(state['messages'])}"}]}

        return fn

    builder = StateGraph(MessagesState)
    for name in ("a", "b", "c"):
        builder.add_node(name, node(name))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    graph = builder.compile(checkpointer=MemorySaver())
    config = {"configurable": {"thread_id": "bench"}}

    def run(n: int) -> Any:
        out = None
        for i in range(n):
            out = graph.invoke({"messages": [{"role": "user", "content": f"hi {i}"}]}, config)
        return out

    return run


def build_langgraph() -> Callable[[int], Any] | None:
    try:
        from langgraph.checkpoint.memory import InMemorySaver
        from langgraph.graph import START, MessagesState, StateGraph
    except ImportError:
        return None

    def node(name: str) -> Callable[[Any], dict[str, Any]]:
        def fn(state: Any) -> dict[str, Any]:
            return {"messages": [{"role": "ai", "content": f"{name}:{len(state['messages'])}"}]}

        return fn

    builder = StateGraph(MessagesState)
    for name in ("a", "b", "c"):
        builder.add_node(name, node(name))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "bench"}}

    def run(n: int) -> Any:
        out = None
        for i in range(n):
            out = graph.invoke({"messages": [{"role": "user", "content": f"hi {i}"}]}, config)
        return out

    return run


def best_time(
    make: Callable[[], Callable[[int], Any]], invokes: int, repeat: int
) -> tuple[float, float, Any]:
    """Best (CPU seconds, wall seconds) over ``repeat`` runs, and the last result."""
    best_cpu = best_wall = float("inf")
    out = None
    for _ in range(repeat):
        run = make()  # a fresh graph and saver each time: every repeat starts from an empty thread
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        out = run(invokes)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return best_cpu, best_wall, out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invokes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    ours, ours_wall, out = best_time(build_reference, args.invokes, args.repeat)
    n_messages = len(out["messages"])
    print(
        f"reference engine: {ours:.2f} s CPU ({ours_wall:.2f} s wall) for {args.invokes} "
        f"invokes, {ours / args.invokes * 1e3:.2f} ms CPU/invoke, {n_messages} messages at the end"
    )
    if build_langgraph() is None:
        print("LangGraph is not installed in this Python; install langgraph==1.2.22 to compare")
        print("(e.g. python -m venv venv-lg && venv-lg/bin/pip install langgraph==1.2.22 -e .)")
        return
    theirs, theirs_wall, out_lg = best_time(build_langgraph, args.invokes, args.repeat)  # type: ignore[arg-type]
    assert len(out_lg["messages"]) == n_messages, "the two graphs must do the same work"
    print(
        f"LangGraph 1.2.22: {theirs:.2f} s CPU ({theirs_wall:.2f} s wall) for {args.invokes} "
        f"invokes, {theirs / args.invokes * 1e3:.2f} ms CPU/invoke"
    )
    verdict = "ours is faster" if ours < theirs else "ours is slower"
    print(
        f"ratio reference / LangGraph: {ours / theirs:.3f} on CPU time ({verdict}); "
        f"{ours_wall / theirs_wall:.3f} on wall time"
    )


if __name__ == "__main__":
    main()
