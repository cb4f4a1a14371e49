"""Saver benchmarks, every backend side by side with LangGraph's SqliteSaver in one run.

Run with a Python that has LangGraph's SQLite saver (the baseline; skipped when missing):

    /work/venv-lg/bin/python benchmarks/savers.py                      # everything
    /work/venv-lg/bin/python benchmarks/savers.py --backends sqlite,langgraph-sqlite \\
        --workloads put,disk --quick

Adding a backend: write a function that opens the saver on a scratch directory (a context
manager yielding it) and call :func:`register` with it; every workload then runs on it.
Workloads (sizes are the defaults; ``--quick`` divides them):

- ``put``: put throughput with a growing 5-channel state (a chat thread: a message list that
  grows by one ~1 KB message per turn, a summary and a counter that change every turn, a
  static 2 KB context, and flags that change every 10 turns), 200 turns; also the latency of
  the last 20 puts over the first 20.
- ``disk``: on-disk bytes after 100 and 200 turns of that conversation, and the growth
  exponent log2(bytes_200 / bytes_100) (1 = linear, 2 = quadratic).
- ``get``: ``get_tuple`` of the latest checkpoint with 10, 1,000 and 10,000 checkpoints in the
  thread (fixed-size state, so only the lookup differs), median of 200 calls.
- ``list``: full ``list`` of a thread of 1,000 and 10,000 checkpoints (fixed-size state), and
  of the 200-turn conversation (growing state).
- ``writes``: ``put_writes`` throughput, 1,000 calls of 3 writes each.
- ``e2e``: invokes of a 3-node graph on a growing conversation (500 invokes); ours run the
  reference engine, the LangGraph baseline runs LangGraph's engine. Reported: total time
  and the mean latency of the last 10 invokes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BASELINE = "langgraph-sqlite"


# -- registry -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Backend:
    """How to open one saver for the benchmarks.

    ``open(directory)`` is a context manager yielding a saver whose storage lives in
    ``directory`` (``disk`` workloads measure that directory after the saver is closed; a
    server backend gives ``disk_bytes`` instead). ``engine`` is ``"reference"`` (our engine
    drives it in ``e2e``) or ``"langgraph"``.
    """

    name: str
    open: Callable[[Path], contextlib.AbstractContextManager[Any]]
    engine: str = "reference"
    disk_bytes: Callable[[Any, Path], int] | None = None
    available: Callable[[], str | None] = lambda: None  # None, or why it cannot run


BACKENDS: dict[str, Backend] = {}


def register(backend: Backend) -> None:
    BACKENDS[backend.name] = backend


def _directory_bytes(_saver: Any, directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def _import_error(module: str) -> Callable[[], str | None]:
    def check() -> str | None:
        try:
            __import__(module)
        except ImportError as exc:
            return f"{module} is not installed ({exc})"
        return None

    return check


@contextlib.contextmanager
def _open_sqlite(directory: Path) -> Iterator[Any]:
    from checkpointkit.backends.sqlite import SqliteSaver

    with SqliteSaver.from_conn_string(directory / "ck.db") as saver:
        yield saver


@contextlib.contextmanager
def _open_memory(directory: Path) -> Iterator[Any]:
    from checkpointkit.backends.memory import MemorySaver

    yield MemorySaver()


@contextlib.contextmanager
def _open_langgraph_sqlite(directory: Path) -> Iterator[Any]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    with SqliteSaver.from_conn_string(str(directory / "lg.db")) as saver:
        saver.setup()
        yield saver


register(Backend("sqlite", _open_sqlite, disk_bytes=_directory_bytes))
register(Backend("memory", _open_memory))
register(
    Backend(
        BASELINE,
        _open_langgraph_sqlite,
        engine="langgraph",
        disk_bytes=_directory_bytes,
        available=_import_error("langgraph.checkpoint.sqlite"),
    )
)


# -- workload helpers ---------------------------------------------------------------------


def _ids() -> Callable[[], str]:
    from checkpointkit.ids import new_checkpoint_id

    return new_checkpoint_id


def _config(thread: str, parent: str | None = None) -> dict[str, Any]:
    configurable: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ""}
    if parent is not None:
        configurable["checkpoint_id"] = parent
    return {"configurable": configurable}


class Conversation:
    """Puts a growing 5-channel chat state, the way an engine does (only changed channels)."""

    def __init__(self, saver: Any, thread: str) -> None:
        self.saver, self.thread = saver, thread
        self.values: dict[str, Any] = {
            "messages": [],
            "summary": "",
            "turn": 0,
            "context": {"doc": "c" * 2048},
            "flags": {"mode": 0},
        }
        self.versions: dict[str, Any] = {}
        self.parent: str | None = None
        self.new_id = _ids()

    def turn(self, n: int) -> float:
        changed = ["messages", "summary", "turn"]
        if n == 0:
            changed += ["context", "flags"]
        elif n % 10 == 0:
            changed.append("flags")
            self.values["flags"] = {"mode": n}
        self.values["messages"] = [
            *self.values["messages"],
            {"role": "user" if n % 2 else "ai", "content": f"turn {n}: " + "m" * 1000},
        ]
        self.values["summary"] = f"summary after {n} turns"
        self.values["turn"] = n
        new = {c: self.saver.get_next_version(self.versions.get(c), None) for c in changed}
        self.versions.update(new)
        checkpoint = {
            "v": 4,
            "id": self.new_id(),
            "ts": "2026-01-01T00:00:00+00:00",
            "channel_values": dict(self.values),
            "channel_versions": dict(self.versions),
            "versions_seen": {"node": dict(self.versions)},
            "updated_channels": sorted(changed),
        }
        start = time.perf_counter()
        config = self.saver.put(
            _config(self.thread, self.parent), checkpoint, {"source": "loop", "step": n}, new
        )
        elapsed = time.perf_counter() - start
        self.parent = config["configurable"]["checkpoint_id"]
        return elapsed


def _fill_fixed(saver: Any, thread: str, n: int) -> None:
    """``n`` checkpoints of a constant-size 5-channel state, two channels changing per step."""
    new_id = _ids()
    versions: dict[str, Any] = {}
    values: dict[str, Any] = {"a": "x" * 200, "b": [1, 2, 3], "c": {"k": "v"}, "d": 0, "e": ""}
    parent = None
    for i in range(n):
        changed = ["d", "e"] if i else list(values)
        values["d"], values["e"] = i, f"step {i}"
        new = {c: saver.get_next_version(versions.get(c), None) for c in changed}
        versions.update(new)
        checkpoint = {
            "v": 4, "id": new_id(), "ts": "2026-01-01T00:00:00+00:00",
            "channel_values": dict(values), "channel_versions": dict(versions),
            "versions_seen": {}, "updated_channels": sorted(changed),
        }  # fmt: skip
        parent = saver.put(_config(thread, parent), checkpoint, {"step": i}, new)["configurable"][
            "checkpoint_id"
        ]


# -- workloads ----------------------------------------------------------------------------

Result = dict[str, float | str]


def bench_put(backend: Backend, scratch: Path, scale: float) -> Result:
    turns = max(40, int(200 * scale))
    with backend.open(scratch) as saver:
        conv = Conversation(saver, "put")
        times = [conv.turn(n) for n in range(turns)]
    first, last = statistics.mean(times[:20]), statistics.mean(times[-20:])
    return {
        f"put/s ({turns} turns)": turns / sum(times),
        "put ms, first 20": first * 1e3,
        "put ms, last 20": last * 1e3,
        "last20/first20 (target <= 1.5)": last / first,
    }


def bench_disk(backend: Backend, scratch: Path, scale: float) -> Result:
    if backend.disk_bytes is None:
        return {}
    sizes = {}
    for turns in (max(50, int(100 * scale)), max(100, int(200 * scale))):
        directory = scratch / f"disk{turns}"
        directory.mkdir()
        with backend.open(directory) as saver:
            conv = Conversation(saver, "disk")
            for n in range(turns):
                conv.turn(n)
            held = saver
        sizes[turns] = backend.disk_bytes(held, directory)
    (small, s_bytes), (big, b_bytes) = sorted(sizes.items())
    return {
        f"MB after {small} turns": s_bytes / 1e6,
        f"MB after {big} turns": b_bytes / 1e6,
        f"growth {big}/{small} (target <= 2.2)": b_bytes / s_bytes,
        "growth exponent": math.log2(b_bytes / s_bytes),
    }


def bench_get(backend: Backend, scratch: Path, scale: float) -> Result:
    out: Result = {}
    with backend.open(scratch) as saver:
        for n in (10, 1_000, 10_000):
            n = max(10, int(n * scale)) if n > 10 else n
            thread = f"get{n}"
            _fill_fixed(saver, thread, n)
            config = _config(thread)
            for _ in range(20):
                saver.get_tuple(config)
            samples = []
            for _ in range(200):
                start = time.perf_counter()
                saver.get_tuple(config)
                samples.append(time.perf_counter() - start)
            out[f"get_tuple latest µs @{n}"] = statistics.median(samples) * 1e6
    values = [v for v in out.values() if isinstance(v, float)]
    out["get @max / @10 (target <= 1.5)"] = values[-1] / values[0]
    return out


def bench_list(backend: Backend, scratch: Path, scale: float) -> Result:
    out: Result = {}
    with backend.open(scratch) as saver:
        for n in (1_000, 10_000):
            n = max(100, int(n * scale))
            thread = f"list{n}"
            _fill_fixed(saver, thread, n)
            best = math.inf
            for _ in range(3):
                start = time.perf_counter()
                count = sum(1 for _ in saver.list(_config(thread)))
                best = min(best, time.perf_counter() - start)
            assert count == n, (count, n)
            out[f"full list ms @{n}"] = best * 1e3
            out[f"list µs/checkpoint @{n}"] = best / n * 1e6
        # The same on a growing chat state, where every checkpoint's whole state is rebuilt.
        turns = max(40, int(200 * scale))
        conv = Conversation(saver, "list-conversation")
        for t in range(turns):
            conv.turn(t)
        start = time.perf_counter()
        count = sum(1 for _ in saver.list(_config("list-conversation")))
        out[f"list ms, {turns}-turn conversation"] = (time.perf_counter() - start) * 1e3
        assert count == turns
    return out


def bench_writes(backend: Backend, scratch: Path, scale: float) -> Result:
    calls = max(100, int(1000 * scale))
    with backend.open(scratch) as saver:
        _fill_fixed(saver, "w", 1)
        head = saver.get_tuple(_config("w"))
        config = head.config
        start = time.perf_counter()
        for i in range(calls):
            saver.put_writes(
                config, [("out", {"i": i}), ("log", "x" * 100), ("__error__", None)], f"task-{i}"
            )
        elapsed = time.perf_counter() - start
    return {f"put_writes calls/s ({calls} x 3 writes)": calls / elapsed}


def _graph_reference(saver: Any) -> Callable[[int], None]:
    from checkpointkit.reference_engine import START, MessagesState, StateGraph

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
    graph = builder.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "e2e"}}

    def invoke(i: int) -> None:
        graph.invoke({"messages": [{"role": "user", "content": f"hi {i}"}]}, config)

    return invoke


def _graph_langgraph(saver: Any) -> Callable[[int], None]:
    from langgraph.graph import START, MessagesState, StateGraph

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
    graph = builder.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "e2e"}}

    def invoke(i: int) -> None:
        graph.invoke({"messages": [{"role": "user", "content": f"hi {i}"}]}, config)

    return invoke


def _engine_unavailable(backend: Backend) -> str | None:
    try:
        if backend.engine == "langgraph":
            import langgraph.graph  # noqa: F401
        else:
            from checkpointkit.reference_engine import StateGraph  # noqa: F401
    except ImportError as exc:
        return f"{backend.engine} engine not importable: {exc}"
    return None


def bench_e2e(backend: Backend, scratch: Path, scale: float) -> Result:
    reason = _engine_unavailable(backend)
    if reason:
        print(f"  e2e skipped for {backend.name}: {reason}", file=sys.stderr)
        return {"e2e": f"skipped ({reason})"}
    invokes = max(50, int(500 * scale))
    with backend.open(scratch) as saver:
        invoke = (_graph_langgraph if backend.engine == "langgraph" else _graph_reference)(saver)
        times = []
        for i in range(invokes):
            start = time.perf_counter()
            invoke(i)
            times.append(time.perf_counter() - start)
    return {
        f"e2e total s ({invokes} invokes)": sum(times),
        "e2e ms/invoke, first 10": statistics.mean(times[:10]) * 1e3,
        f"e2e ms/invoke @{invokes} (last 10)": statistics.mean(times[-10:]) * 1e3,
    }


WORKLOADS: dict[str, Callable[[Backend, Path, float], Result]] = {
    "put": bench_put,
    "disk": bench_disk,
    "get": bench_get,
    "list": bench_list,
    "writes": bench_writes,
    "e2e": bench_e2e,
}

# PostgreSQL: ``postgres`` and ``langgraph-postgres`` backends, ``concurrent`` workload.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _pg_bench  # noqa: E402

_pg_bench.install(register, Backend, WORKLOADS)

# DuckDB: ``duckdb`` backend, ``analytics`` workload (full-history queries).
import _duckdb_bench  # noqa: E402

_duckdb_bench.install(register, Backend, WORKLOADS, Conversation)

# Metrics where more is better (the ratio column then reads "x faster" the same way).
_HIGHER_IS_BETTER = ("/s",)


# -- report -------------------------------------------------------------------------------


def run(backends: list[str], workloads: list[str], scale: float) -> dict[str, dict[str, Result]]:
    results: dict[str, dict[str, Result]] = {}
    for workload in workloads:
        results[workload] = {}
        for name in backends:
            backend = BACKENDS[name]
            reason = backend.available()
            if reason:
                print(f"  {name} skipped: {reason}", file=sys.stderr)
                continue
            print(f"  {workload} on {name} ...", file=sys.stderr, flush=True)
            gc.collect()
            with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
                results[workload][name] = WORKLOADS[workload](backend, Path(tmp), scale)
    return results


def _fmt(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(results: dict[str, dict[str, Result]], backends: list[str]) -> str:
    """Markdown table; the last columns give each backend's advantage over the baseline
    (baseline time / ours for times and sizes, ours / baseline for rates: >1 = better)."""
    ours = [b for b in backends if b != BASELINE]
    has_base = any(BASELINE in per for per in results.values())
    head = ["workload", "metric", *backends]
    if has_base:
        head += [f"{b} vs LG" for b in ours]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for workload, per in results.items():
        metrics = list(dict.fromkeys(m for r in per.values() for m in r))
        for metric in metrics:
            row = [workload, metric, *(_fmt(per.get(b, {}).get(metric)) for b in backends)]
            if has_base:
                base = per.get(BASELINE, {}).get(metric)
                for b in ours:
                    mine = per.get(b, {}).get(metric)
                    ratio = "-"
                    ratio_metric = "target" in metric or "exponent" in metric
                    if (
                        isinstance(base, float)
                        and isinstance(mine, float)
                        and base > 0
                        and mine > 0
                        and not ratio_metric
                    ):
                        better = (
                            mine / base
                            if any(k in metric for k in _HIGHER_IS_BETTER)
                            else base / mine
                        )
                        ratio = f"{better:.1f}x"
                    row.append(ratio)
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backends",
        default=None,
        help=f"comma-separated subset of {', '.join(BACKENDS)} (default: all but memory)",
    )
    parser.add_argument(
        "--workloads", default=",".join(WORKLOADS), help=f"subset of {', '.join(WORKLOADS)}"
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes (smoke run)")
    args = parser.parse_args(argv)
    backends = args.backends.split(",") if args.backends else [b for b in BACKENDS if b != "memory"]
    unknown = [b for b in backends if b not in BACKENDS]
    unknown += [w for w in args.workloads.split(",") if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown backend or workload: {', '.join(unknown)}")
    # The baseline last, so ratio columns read left to right.
    backends = [b for b in backends if b != BASELINE] + [b for b in backends if b == BASELINE]
    scale = 0.1 if args.quick else 1.0
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, scale {scale}", file=sys.stderr)
    results = run(backends, args.workloads.split(","), scale)
    print(table(results, backends))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
