"""Faults: a full disk, a read-only database and a PostgreSQL restart lose nothing stored."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from checkpointkit.backends.duckdb import DuckDBSaver
from checkpointkit.backends.postgres import PostgresSaver
from checkpointkit.backends.sqlite import SqliteSaver
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter
from checkpointkit.conformance.reliability.crash import check_chains, check_side_effects
from checkpointkit.conformance.reliability.crash_child import (
    KillSwitch,
    Ledger,
    build,
    drive,
    strip_trace,
)
from checkpointkit.conformance.reliability.figures import record_figure

spec = pytest.mark.spec


def _history(saver: Any, thread_id: str) -> list[tuple[Any, ...]]:
    return [
        (t.config, t.checkpoint, t.metadata, t.parent_config, t.pending_writes)
        for t in saver.list({"configurable": {"thread_id": thread_id}})
    ]


def _store(saver: Any, steps: int = 4) -> tuple[ThreadWriter, Any]:
    w = ThreadWriter(SaverDriver(saver, "sync"))
    cfg = None
    for i in range(steps):
        cfg = w.put({"msgs": [f"m{j}" for j in range(i + 1)], "n": i})
        saver.put_writes(cfg, [("w", i)], f"task-{i}")
    return w, cfg


# -- a full disk ------------------------------------------------------------------------


@spec("REL-FAULT-001")
def test_sqlite_full_disk(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(tmp_path / "full.db") as saver:
        w, cfg = _store(saver)
        before = _history(saver, w.thread_id)
        pages = saver.conn.execute("PRAGMA page_count").fetchone()[0]
        saver.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        big = "x" * 200_000
        failures = 0
        for attempt in range(3):
            with pytest.raises(sqlite3.OperationalError, match="full"):
                w.put({"big": big + str(attempt)})
            failures += 1
            with pytest.raises(sqlite3.OperationalError, match="full"):
                saver.put_writes(cfg, [("big", big)], f"big-task-{attempt}")
            failures += 1
        assert _history(saver, w.thread_id) == before, "a failed write changed what was stored"
        assert saver.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        saver.conn.execute("PRAGMA max_page_count = 1073741823")
        w.head = before[0][1]
        stored = saver.put(*w.prepare({"big": big})[:4])
        got = saver.get_tuple(stored)
        assert got is not None and got.checkpoint["channel_values"]["big"] == big
    with SqliteSaver.from_conn_string(tmp_path / "full.db") as again:
        assert _history(again, w.thread_id)[1:] == before
    record_figure("SqliteSaver", "fault-full-disk", {"failed_writes": failures, "lost": 0})


# -- a read-only database ---------------------------------------------------------------


@spec("REL-FAULT-002")
def test_sqlite_read_only(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    with SqliteSaver.from_conn_string(path) as saver:
        w, cfg = _store(saver)
        before = _history(saver, w.thread_id)
    conn = sqlite3.connect(
        f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
    )
    ro = SqliteSaver(conn, setup=False)
    try:
        assert _history(ro, w.thread_id) == before
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            ro.put(*ThreadWriter(SaverDriver(ro, "sync")).prepare({"a": 1})[:4])
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            ro.put_writes(cfg, [("late", 1)], "late-task")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            ro.delete_thread(w.thread_id)
        assert _history(ro, w.thread_id) == before
    finally:
        conn.close()
    record_figure("SqliteSaver", "fault-read-only", {"refused_writes": 3, "lost": 0})


@spec("REL-FAULT-002")
def test_duckdb_read_only(tmp_path: Path) -> None:
    path = str(tmp_path / "ro.duckdb")
    with DuckDBSaver.from_conn_string(path) as saver:
        w, cfg = _store(saver)
        before = _history(saver, w.thread_id)
    conn = duckdb.connect(path, read_only=True)
    ro = DuckDBSaver(conn, setup=False)
    try:
        assert _history(ro, w.thread_id) == before
        with pytest.raises(duckdb.Error, match="read-only"):
            ro.put(*ThreadWriter(SaverDriver(ro, "sync")).prepare({"a": 1})[:4])
        with pytest.raises(duckdb.Error, match="read-only"):
            ro.put_writes(cfg, [("late", 1)], "late-task")
        assert _history(ro, w.thread_id) == before
    finally:
        ro.close()
        conn.close()
    record_figure("DuckDBSaver", "fault-read-only", {"refused_writes": 2, "lost": 0})


@spec("REL-FAULT-002")
def test_postgres_read_only(pg_url: str) -> None:
    with PostgresSaver.from_conn_string(pg_url) as saver:
        w, cfg = _store(saver)
        before = _history(saver, w.thread_id)
    conn = psycopg.connect(pg_url, autocommit=True, options="-c default_transaction_read_only=on")
    ro = PostgresSaver(conn)
    try:
        assert _history(ro, w.thread_id) == before
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            ro.put(*ThreadWriter(SaverDriver(ro, "sync")).prepare({"a": 1})[:4])
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            ro.put_writes(cfg, [("late", 1)], "late-task")
        assert _history(ro, w.thread_id) == before
    finally:
        conn.close()
    record_figure("PostgresSaver", "fault-read-only", {"refused_writes": 2, "lost": 0})


# -- a PostgreSQL restart in the middle of a run -----------------------------------------


def _terminate_all(admin: psycopg.Connection[Any], dbname: str) -> int:
    rows = admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (dbname,),
    ).fetchall()
    return len(rows)


class _Terminator(KillSwitch):
    """At the n-th saver call of a kind, every server connection of the database dies:
    right before the call, or a few milliseconds into it (on a timer thread)."""

    def __init__(
        self, saver: Any, admin: psycopg.Connection[Any], dbname: str, plan: dict[str, Any]
    ):
        super().__init__(saver, None)
        self.admin, self.dbname, self.plan = admin, dbname, plan
        self.terminated = 0
        self._fired = False

    def _maybe(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] += 1
            fire = (
                not self._fired
                and kind == self.plan["kind"]
                and self.counts[kind] == self.plan["n"]
            )
            self._fired = self._fired or fire
        if not fire:
            return
        if self.plan["delay_ms"] == 0:
            self.terminated += _terminate_all(self.admin, self.dbname)
        else:
            timer = threading.Timer(
                self.plan["delay_ms"] / 1000,
                lambda: setattr(
                    self, "terminated", self.terminated + _terminate_all(self.admin, self.dbname)
                ),
            )
            timer.start()
            timer.join()

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        self._maybe("put")
        return self._saver.put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
        self._maybe("writes")
        self._saver.put_writes(config, writes, task_id, task_path)


PLANS = [
    {"graph": g, "kind": k, "n": n, "delay_ms": d}
    for g, k, n, d in [
        ("linear", "put", 2, 0),
        ("linear", "writes", 2, 0),
        ("fanout", "writes", 3, 0),
        ("fanout", "put", 3, 0),
        ("subgraph", "put", 4, 0),
        ("subgraph", "writes", 3, 0),
        ("interrupt", "writes", 2, 0),
        ("interrupt", "put", 3, 0),
    ]
]


@pytest.fixture
def admin(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    base = psycopg.conninfo.conninfo_to_dict(pg_url)
    url = psycopg.conninfo.make_conninfo(pg_url, dbname="postgres")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.info_dbname = base["dbname"]  # type: ignore[attr-defined]
        yield conn


@spec("REL-FAULT-003")
@pytest.mark.parametrize("plan", PLANS, ids=lambda p: f"{p['graph']}-{p['kind']}{p['n']}")
def test_postgres_connections_killed_mid_run(
    pg_url: str, admin: psycopg.Connection[Any], plan: dict[str, Any], tmp_path: Path
) -> None:
    dbname = psycopg.conninfo.conninfo_to_dict(pg_url)["dbname"]
    with PostgresSaver.from_conn_string(pg_url) as saver:
        base = drive(build(plan["graph"], saver, None, Ledger(None)), f"b-{uuid.uuid4()}", "sync")
        thread_id = f"fault-{uuid.uuid4()}"
        ledger_path = str(tmp_path / "ledger")
        ledger = Ledger(ledger_path)
        terminator = _Terminator(saver, admin, str(dbname), plan)
        graph = build(plan["graph"], terminator, None, ledger)
        failures = 0
        for _ in range(6):
            try:
                values = drive(graph, thread_id, "sync")
                break
            except psycopg.OperationalError:
                failures += 1  # the call in flight may fail; the run resumes from storage
        else:
            raise AssertionError("the run never finished after the connections were killed")
        assert terminator.terminated > 0, "no connection was terminated"
        assert strip_trace(values) == strip_trace(base)
        check_side_effects(values["trace"], Ledger.read(ledger_path), str(plan))
        history = list(saver.list({"configurable": {"thread_id": thread_id}}))
        check_chains(history, str(plan))
    record_figure(
        "PostgresSaver",
        "fault-pg-terminate",
        {
            "plan": f"{plan['graph']}/{plan['kind']}#{plan['n']}",
            "terminated": terminator.terminated,
            "failed_calls": failures,
            "lost": 0,
        },
    )
