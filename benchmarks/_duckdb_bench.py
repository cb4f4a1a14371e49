"""DuckDB entries for benchmarks/savers.py: the ``duckdb`` backend and the ``analytics`` workload.

Registered into ``savers.py`` by :func:`install`. Run on its own for a table of DuckDB next to
our SQLite saver and LangGraph's SqliteSaver (the baseline, when installed):

    /work/venv-lg/bin/python benchmarks/_duckdb_bench.py [--quick] [--workloads put,get,...]

``analytics``: a store of 20 threads x 100 turns of the growing chat conversation (2,000
checkpoints), then two full-history questions, answered the natural way for each store:

- "state size per step": bytes of every channel value of every checkpoint, per checkpoint;
- "steps per source": how many checkpoints each ``metadata.source`` has, per thread.

DuckDB answers with SQL over its history views (the README queries); a saver without them
(our SQLite, LangGraph's SQLite) answers through ``list(None)``, deserializing every
checkpoint. The DuckDB saver's own ``list(None)`` time is reported too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

NAME = "duckdb"

STATE_SIZE_SQL = """
SELECT thread_id, checkpoint_ns, checkpoint_id, step, count(*) AS channels,
       sum(size) AS state_bytes
FROM history_channels
GROUP BY thread_id, checkpoint_ns, checkpoint_id, step
"""
STEPS_PER_SOURCE_SQL = """
SELECT thread_id, source, count(*) AS steps FROM history_checkpoints GROUP BY thread_id, source
"""


@contextlib.contextmanager
def _open_duckdb(directory: Path) -> Iterator[Any]:
    from checkpointkit.backends.duckdb import DuckDBSaver

    with DuckDBSaver.from_conn_string(directory / "ck.duckdb") as saver:
        yield saver


def _unavailable() -> str | None:
    try:
        import duckdb  # noqa: F401
    except ImportError as exc:
        return f"duckdb is not installed ({exc})"
    return None


def _directory_bytes(_saver: Any, directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _sizes_via_list(saver: Any) -> dict[str, int]:
    dumps = saver.serde.dumps_typed
    return {
        t.config["configurable"]["checkpoint_id"]: sum(
            len(dumps(v)[1]) for v in t.checkpoint["channel_values"].values()
        )
        for t in saver.list(None)
    }


def _sources_via_list(saver: Any) -> Counter[tuple[str, str]]:
    return Counter(
        (t.config["configurable"]["thread_id"], t.metadata.get("source")) for t in saver.list(None)
    )


def _sql(saver: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = saver._cursors.get()
    return list(cur.execute(sql).fetchall())


def make_bench_analytics(conversation: Any) -> Callable[[Any, Path, float], dict[str, Any]]:
    def bench_analytics(backend: Any, scratch: Path, scale: float) -> dict[str, Any]:
        threads = max(2, int(20 * scale))
        turns = 100
        out: dict[str, Any] = {}
        with backend.open(scratch) as saver:
            for k in range(threads):
                c = conversation(saver, f"thread-{k:03d}")
                for n in range(turns):
                    c.turn(n)
            label = f"({threads * turns} checkpoints)"
            if backend.name == NAME:
                seconds, rows = _timed(lambda: _sql(saver, STATE_SIZE_SQL))
                assert len(rows) == threads * turns
                out[f"state size per step s {label}"] = seconds
                seconds, rows = _timed(lambda: _sql(saver, STEPS_PER_SOURCE_SQL))
                assert sum(r[2] for r in rows) == threads * turns
                out[f"steps per source s {label}"] = seconds
                seconds, sizes = _timed(lambda: _sizes_via_list(saver))
                out[f"same via list(None) s {label}"] = seconds
            else:
                seconds, sizes = _timed(lambda: _sizes_via_list(saver))
                assert len(sizes) == threads * turns
                out[f"state size per step s {label}"] = seconds
                seconds, counts = _timed(lambda: _sources_via_list(saver))
                assert sum(counts.values()) == threads * turns
                out[f"steps per source s {label}"] = seconds
        return out

    return bench_analytics


def install(
    register: Callable[[Any], None],
    backend_cls: Any,
    workloads: dict[str, Any],
    conversation: Any | None = None,
) -> None:
    """Add the DuckDB backend, and the ``analytics`` workload, to savers.py's registry."""
    register(backend_cls(NAME, _open_duckdb, disk_bytes=_directory_bytes, available=_unavailable))
    if conversation is not None:
        workloads.setdefault("analytics", make_bench_analytics(conversation))


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import savers

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="put,disk,get,list,writes,e2e,analytics")
    parser.add_argument("--backends", default=f"sqlite,{NAME},{savers.BASELINE}")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    install(savers.register, savers.Backend, savers.WORKLOADS, savers.Conversation)  # idempotent
    backends = args.backends.split(",")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs", file=sys.stderr)
    results = savers.run(backends, args.workloads.split(","), 0.1 if args.quick else 1.0)
    print(savers.table(results, backends))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
