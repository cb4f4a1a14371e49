"""Hostile keys and filters against real SQL backends: a canary table in the same database survives."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

from checkpointkit.backends.duckdb import DuckDBSaver
from checkpointkit.backends.postgres import PostgresSaver
from checkpointkit.backends.sqlite import SqliteSaver
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter
from checkpointkit.conformance.reliability.figures import record_figure, slow_profile
from checkpointkit.conformance.reliability.hostile import hostile_metadata, hostile_text

SqlRun = Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture(params=["sqlite", "duckdb", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any, SqlRun]]:
    name = request.param
    if name == "sqlite":
        with SqliteSaver.from_conn_string(tmp_path / "c.db") as saver:
            yield name, saver, lambda q: list(saver.conn.execute(q).fetchall())
    elif name == "duckdb":
        with DuckDBSaver.from_conn_string(str(tmp_path / "c.duckdb")) as saver:
            conn = saver._cursors.conn

            def run_duck(q: str) -> list[tuple[Any, ...]]:
                with saver._write_lock:
                    return list(conn.cursor().execute(q).fetchall())

            yield name, saver, run_duck
    else:
        url = request.getfixturevalue("pg_url")
        with (
            PostgresSaver.from_conn_string(url) as saver,
            psycopg.connect(url, autocommit=True) as conn,
        ):

            def run_pg(q: str) -> list[tuple[Any, ...]]:
                cur = conn.execute(q.encode())
                return list(cur.fetchall()) if cur.description else []

            yield name, saver, run_pg


TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name",
    "duckdb": "SELECT table_name FROM information_schema.tables ORDER BY table_name",
    "postgres": "SELECT schemaname || '.' || tablename FROM pg_tables ORDER BY 1",
}
DB_ERRORS = (sqlite3.DatabaseError, duckdb.Error, psycopg.DatabaseError)


@pytest.mark.spec("SEC-INPUT-004", "LST-008")
def test_canary_table_survives_hostile_calls(backend: tuple[str, Any, SqlRun]) -> None:
    name, saver, run = backend
    run("CREATE TABLE ck_canary (id INTEGER, secret TEXT)")
    run("INSERT INTO ck_canary VALUES (1, 'canary'), (2, 'row ''two''')")
    canary = run("SELECT id, secret FROM ck_canary ORDER BY id")
    tables = run(TABLES[name])
    driver = SaverDriver(saver, "sync")
    keeper = ThreadWriter(driver)
    keeper.put({"keep": 1}, metadata={"k": "v"})
    kept = [t.checkpoint for t in driver.list(keeper.config())]
    counts = {"calls": 0, "refused": 0}

    @settings(
        max_examples=400 if slow_profile() else 80,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(key=hostile_text(), value=hostile_text(), metadata=hostile_metadata())
    def hostile(key: str, value: str, metadata: dict[str, Any]) -> None:
        calls: list[Callable[[], Any]] = [
            lambda: driver.list(None, filter={key: value}, limit=3),
            lambda: driver.list(keeper.config(), filter={key: value}),
            lambda: driver.list(keeper.config(), filter=metadata),
            lambda: driver.get_tuple({"configurable": {"thread_id": key, "checkpoint_ns": value}}),
            lambda: driver.list(
                {"configurable": {"thread_id": key}},
                before={"configurable": {"checkpoint_id": value}},
            ),
            lambda: ThreadWriter(driver, key + uuid.uuid4().hex[:6], value).put(
                {key: value}, metadata=metadata
            ),
            lambda: driver.delete_thread(key + "-never-" + value),
        ]
        for call in calls:
            counts["calls"] += 1
            try:
                call()
            except DB_ERRORS as exc:
                raise AssertionError(f"a database error leaked: {exc!r}") from exc
            except (ValueError, TypeError):
                counts["refused"] += 1

    hostile()
    assert run("SELECT id, secret FROM ck_canary ORDER BY id") == canary
    assert run(TABLES[name]) == tables
    assert [t.checkpoint for t in driver.list(keeper.config())] == kept
    record_figure(f"{name}", "sql-canary", counts)
