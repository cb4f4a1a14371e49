"""PostgreSQL entries for benchmarks/savers.py, against LangGraph's Postgres savers.

Registered into ``savers.py`` (backends ``postgres`` and ``langgraph-postgres`` plus the
``concurrent`` workload). Run on its own for a PostgreSQL-only table whose ratio column
compares with LangGraph's Postgres savers on the same server:

    /work/venv-lg/bin/python benchmarks/_pg_bench.py [--quick] [--workloads put,disk,...]

The server is ``CHECKPOINTKIT_POSTGRES_URL`` or ``postgresql://postgres@127.0.0.1:5432/postgres``.
Every opened saver gets a database of its own, dropped when the process exits.

``concurrent``: 16 asyncio tasks on one saver with one pool of 16 connections, each task
writing its own thread (a put of a growing chat state plus a put_writes per step) for a
fixed time; reported as steps per second over all tasks.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

URL = os.environ.get("CHECKPOINTKIT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
OURS = "postgres"
LANGGRAPH = "langgraph-postgres"
CONCURRENT_TASKS = 16

_databases: list[str] = []


def _server_unavailable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure: the benchmark is skipped with the reason
        return f"no PostgreSQL at {URL}: {exc}"
    return None


def _langgraph_unavailable() -> str | None:
    try:
        import langgraph.checkpoint.postgres  # noqa: F401
    except ImportError as exc:
        return f"langgraph-checkpoint-postgres is not installed ({exc})"
    return _server_unavailable()


def _new_database() -> str:
    import psycopg
    from psycopg import conninfo, sql

    name = f"ckbench_{secrets.token_hex(5)}"
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    _databases.append(name)
    return conninfo.make_conninfo(URL, dbname=name)


@atexit.register
def _drop_databases() -> None:
    if not _databases:
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(URL, autocommit=True) as conn:
        for name in _databases:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _relation_bytes(url: str, tables: tuple[str, ...]) -> int:
    """Bytes on disk of ``tables``: heap, TOAST and every index."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname = ANY(%s)",
            (list(tables),),
        ).fetchone()
    return int(row[0]) if row else 0


_OUR_TABLES = ("ck_checkpoints", "ck_blobs", "ck_writes")
_LG_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")


@contextlib.contextmanager
def _open_ours(directory: Path) -> Iterator[Any]:
    from checkpointkit.backends.postgres import PostgresSaver

    url = _new_database()
    with PostgresSaver.from_conn_string(url, max_size=CONCURRENT_TASKS) as saver:
        saver.bench_url = url  # type: ignore[attr-defined]
        yield saver


@contextlib.contextmanager
def _open_langgraph(directory: Path) -> Iterator[Any]:
    from langgraph.checkpoint.postgres import PostgresSaver

    url = _new_database()
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        saver.bench_url = url
        yield saver


def _disk(tables: tuple[str, ...]) -> Callable[[Any, Path], int]:
    def measure(saver: Any, _directory: Path) -> int:
        return _relation_bytes(saver.bench_url, tables)

    return measure


@contextlib.asynccontextmanager
async def _open_ours_async() -> AsyncIterator[Any]:
    from checkpointkit.backends.postgres import AsyncPostgresSaver

    url = _new_database()
    async with AsyncPostgresSaver.from_conn_string(
        url, min_size=CONCURRENT_TASKS, max_size=CONCURRENT_TASKS
    ) as saver:
        yield saver


@contextlib.asynccontextmanager
async def _open_langgraph_async() -> AsyncIterator[Any]:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    url = _new_database()
    # The pool configuration LangGraph documents for AsyncPostgresSaver.
    async with AsyncConnectionPool(
        url,
        min_size=CONCURRENT_TASKS,
        max_size=CONCURRENT_TASKS,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
    ) as pool:
        saver = AsyncPostgresSaver(pool)
        await saver.setup()
        yield saver


ASYNC_OPENERS: dict[str, Callable[[], contextlib.AbstractAsyncContextManager[Any]]] = {
    OURS: _open_ours_async,
    LANGGRAPH: _open_langgraph_async,
}


async def _concurrent(opener: Callable[[], Any], seconds: float) -> float:
    from checkpointkit.ids import new_checkpoint_id

    async with opener() as saver:

        async def task(thread: str, deadline: float) -> int:
            messages: list[Any] = []
            versions: dict[str, Any] = {}
            parent = None
            steps = 0
            while time.perf_counter() < deadline:
                messages = [*messages, {"role": "user", "content": f"{steps}: " + "m" * 200}]
                new = {c: saver.get_next_version(versions.get(c), None) for c in ("messages", "n")}
                versions.update(new)
                checkpoint = {
                    "v": 4, "id": new_checkpoint_id(), "ts": "2026-01-01T00:00:00+00:00",
                    "channel_values": {"messages": messages, "n": steps},
                    "channel_versions": dict(versions), "versions_seen": {},
                    "updated_channels": ["messages", "n"],
                }  # fmt: skip
                config: dict[str, Any] = {
                    "configurable": {"thread_id": thread, "checkpoint_ns": ""}
                }
                if parent is not None:
                    config["configurable"]["checkpoint_id"] = parent
                saved = await saver.aput(config, checkpoint, {"step": steps}, new)
                await saver.aput_writes(saved, [("messages", steps)], f"task-{steps}")
                parent = saved["configurable"]["checkpoint_id"]
                steps += 1
            return steps

        # Warm the pool and the statements, then measure.
        await asyncio.gather(*(task(f"warm-{i}", time.perf_counter() + 0.5) for i in range(4)))
        start = time.perf_counter()
        deadline = start + seconds
        counts = await asyncio.gather(*(task(f"c-{i}", deadline) for i in range(CONCURRENT_TASKS)))
        return sum(counts) / (time.perf_counter() - start)


def bench_concurrent(backend: Any, scratch: Path, scale: float) -> dict[str, float | str]:
    opener = ASYNC_OPENERS.get(backend.name)
    if opener is None:
        return {}
    seconds = 10.0 if scale >= 1 else 3.0
    rate = asyncio.run(_concurrent(opener, seconds))
    return {f"concurrent steps/s ({CONCURRENT_TASKS} async tasks, one pool)": rate}


def install(register: Callable[[Any], None], backend_cls: Any, workloads: dict[str, Any]) -> None:
    """Add the PostgreSQL backends and the ``concurrent`` workload to savers.py's registry."""
    register(
        backend_cls(OURS, _open_ours, disk_bytes=_disk(_OUR_TABLES), available=_server_unavailable)
    )
    register(
        backend_cls(
            LANGGRAPH,
            _open_langgraph,
            engine="langgraph",
            disk_bytes=_disk(_LG_TABLES),
            available=_langgraph_unavailable,
        )
    )
    workloads.setdefault("concurrent", bench_concurrent)


def _table(results: dict[str, dict[str, dict[str, float | str]]]) -> str:
    """Ours vs LangGraph's Postgres savers; the ratio is >1 when ours is better."""
    head = ["workload", "metric", OURS, LANGGRAPH, "ours vs LG"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for workload, per in results.items():
        for metric in dict.fromkeys(m for r in per.values() for m in r):
            mine, base = per.get(OURS, {}).get(metric), per.get(LANGGRAPH, {}).get(metric)
            ratio = "-"
            plain = "target" not in metric and "exponent" not in metric
            if (
                isinstance(mine, float)
                and isinstance(base, float)
                and mine > 0
                and base > 0
                and plain
            ):
                ratio = f"{(mine / base if '/s' in metric else base / mine):.2f}x"
            cells = [_fmt(mine), _fmt(base)]
            lines.append("| " + " | ".join([workload, metric, *cells, ratio]) + " |")
    return "\n".join(lines)


def _fmt(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:,.0f}" if value >= 1000 else f"{value:.1f}" if value >= 10 else f"{value:.3g}"


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import savers

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="put,disk,get,list,writes,concurrent")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    install(savers.register, savers.Backend, savers.WORKLOADS)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, server {URL}", file=sys.stderr)
    results = savers.run([OURS, LANGGRAPH], args.workloads.split(","), 0.1 if args.quick else 1.0)
    print(_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
