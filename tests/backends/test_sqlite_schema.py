"""SQLite schema: versioned migrations, upgrade from schema 1, setup races, connection modes."""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
from pathlib import Path

import pytest

from checkpointkit.backends._sql import SchemaTooNewError
from checkpointkit.backends.sqlite import MIGRATIONS, SCHEMA_VERSION, AsyncSqliteSaver, SqliteSaver
from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.factories import make_checkpoint

FIXTURES = Path(__file__).parent / "fixtures"


def _cid(n: int) -> str:
    return f"1f000000-0000-6000-8000-{n:012x}"


def _versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM checkpoint_migrations ORDER BY 1")]


def test_migration_1_is_the_shipped_v1_script() -> None:
    # A shipped migration never changes: databases made by it exist in the wild.
    script = (FIXTURES / "sqlite_schema_v1.sql").read_text()
    ddl = [
        line.strip().rstrip(";")
        for line in script.splitlines()
        if line.startswith("CREATE TABLE") and "checkpoint_migrations" not in line
    ]
    assert len(ddl) == 3
    assert ddl == list(MIGRATIONS[0].statements)


def test_upgrade_from_schema_1(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURES / "sqlite_v1.db", path)
    assert _versions(path) == [1]
    with SqliteSaver.from_conn_string(path) as saver:
        assert _versions(path) == list(range(1, SCHEMA_VERSION + 1)) == [1, 2, 3]
        latest = saver.get_tuple(checkpoint_config("old-thread"))
        assert latest is not None
        assert latest.checkpoint["id"] == _cid(3)
        # "messages" at versions 2 and 3 were stored as append deltas by schema 1.
        assert latest.checkpoint["channel_values"] == {
            "messages": ["message 1", "message 2", "message 3"],
            "count": 3,
        }
        assert latest.metadata == {"source": "loop", "step": 3, "run_id": "run-b"}
        assert latest.parent_config == checkpoint_config("old-thread", "", _cid(2))
        assert latest.pending_writes == [
            ("task-1", "__interrupt__", {"ask": "ok?"}),
            ("task-1", "messages", ["pending"]),
        ]
        listed = list(saver.list({"configurable": {"thread_id": "old-thread"}}))
        assert [t.checkpoint["id"] for t in listed] == [_cid(10), _cid(3), _cid(2), _cid(1)]
        # Migration 2 back-filled run_id from metadata (only string run ids count).
        with sqlite3.connect(path) as conn:
            runs = dict(conn.execute("SELECT checkpoint_id, run_id FROM checkpoints").fetchall())
        assert runs == {_cid(1): "run-a", _cid(2): "run-a", _cid(3): "run-b", _cid(10): None}
        saver.delete_for_runs(["run-a"])
        remaining = [t.checkpoint["id"] for t in saver.list(None)]
        assert remaining == [_cid(10), _cid(3)]
        kept = saver.get_tuple(checkpoint_config("old-thread"))
        assert kept is not None and kept.parent_config is None
        assert kept.checkpoint["channel_values"]["messages"] == [
            "message 1",
            "message 2",
            "message 3",
        ]
        # New writes on the upgraded file work and extend the old delta chain.
        config = saver.put(
            checkpoint_config("old-thread", "", _cid(3)),
            make_checkpoint(
                {"messages": ["message 1", "message 2", "message 3", "message 4"], "count": 3},
                {"messages": 4, "count": 3},
            ),
            {"run_id": "run-c"},
            {"messages": 4},
        )
        got = saver.get_tuple(config)
        assert got is not None
        assert got.checkpoint["channel_values"]["messages"][-1] == "message 4"
    with SqliteSaver.from_conn_string(path) as again:  # setup on an up-to-date file: no-op
        assert _versions(path) == [1, 2, 3]
        assert len(list(again.list(None))) == 3


def test_setup_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    with SqliteSaver.from_conn_string(path) as saver:
        saver.setup()
        saver.setup()
    with SqliteSaver.from_conn_string(path) as saver:
        saver.setup()
    assert _versions(path) == [1, 2, 3]


def _setup_in_process(
    path: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue[str]
) -> None:
    try:
        barrier.wait(30)
        with SqliteSaver.from_conn_string(path) as saver:
            saver.put(checkpoint_config("t"), make_checkpoint({"a": 1}), {}, {"a": 1})
        out.put("ok")
    except BaseException as exc:
        out.put(f"{type(exc).__name__}: {exc}")


def test_setup_races_between_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "race.db")
    ctx = multiprocessing.get_context("spawn")
    n = 4
    barrier = ctx.Barrier(n)
    out: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_setup_in_process, args=(path, barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert results == ["ok"] * n
    assert _versions(Path(path)) == [1, 2, 3]
    with SqliteSaver.from_conn_string(path) as saver:
        assert len(list(saver.list(None))) == n


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SqliteSaver(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO checkpoint_migrations VALUES (99, 'future', '')")
    with pytest.raises(SchemaTooNewError, match="version 99"):
        SqliteSaver(path)


def test_langgraph_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lg.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE checkpoints (thread_id TEXT, checkpoint BLOB)")
    with pytest.raises(ValueError, match="LangGraph"):
        SqliteSaver(path)


def test_wal_and_busy_timeout_by_default(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(tmp_path / "w.db") as saver:
        assert saver.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert saver.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        assert saver.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with SqliteSaver.from_conn_string(tmp_path / "n.db", synchronous="normal") as saver:
        assert saver.conn.execute("PRAGMA synchronous").fetchone()[0] == 1
    with pytest.raises(ValueError, match="synchronous"):
        SqliteSaver(tmp_path / "bad.db", synchronous="sometimes")


def test_given_connection_and_memory_database(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "c.db", check_same_thread=False)
    saver = SqliteSaver(conn)
    config = saver.put(checkpoint_config("t"), make_checkpoint({"a": 1}), {}, {"a": 1})
    saver.close()  # not ours: stays open
    assert conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == 1
    conn.execute(
        "INSERT INTO checkpoint_migrations VALUES (50, 'x', '')"
    )  # legacy mode: opens a txn
    with pytest.raises(RuntimeError, match="open transaction"):
        saver.get_tuple(config)
    conn.rollback()
    assert saver.get_tuple(config) is not None
    conn.close()
    with SqliteSaver.from_conn_string(":memory:") as mem:
        config = mem.put(checkpoint_config("t"), make_checkpoint({"a": 1}), {}, {"a": 1})
        found = mem.get_tuple(config)
        assert found is not None and found.checkpoint["channel_values"] == {"a": 1}


@pytest.mark.asyncio
async def test_async_saver_on_given_aiosqlite_connection(tmp_path: Path) -> None:
    import aiosqlite

    async with aiosqlite.connect(tmp_path / "a.db") as conn:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        config = await saver.aput(checkpoint_config("t"), make_checkpoint({"a": 1}), {}, {"a": 1})
        await saver.aclose()  # not ours: stays open
        found = await saver.aget_tuple(config)
        assert found is not None and found.checkpoint["channel_values"] == {"a": 1}
    assert _versions(tmp_path / "a.db") == [1, 2, 3]
