"""Find a PostgreSQL server for the tests, and make throwaway databases on it."""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from psycopg import conninfo, sql

__all__ = ["PgServer", "find_server", "require_postgres", "temp_database"]

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CONNECT_TIMEOUT = 3


@dataclass(frozen=True)
class PgServer:
    """A reachable server: ``url`` is a superuser connection to an existing database."""

    url: str
    source: str  # env | local | testcontainers

    def database_url(self, dbname: str) -> str:
        return conninfo.make_conninfo(self.url, dbname=dbname)


_found: PgServer | str | None = None


def require_postgres() -> bool:
    """``CHECKPOINTKIT_REQUIRE_POSTGRES=1`` turns "no server" from a skip into a failure."""
    return os.environ.get("CHECKPOINTKIT_REQUIRE_POSTGRES", "") not in ("", "0")


def _answers(url: str) -> str | None:
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def _from_testcontainers() -> PgServer | str:
    try:
        from testcontainers.postgres import PostgresContainer
    except ImportError:
        return "testcontainers is not installed"
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:  # any failure means: no usable Docker engine
        return f"no Docker engine reachable ({type(exc).__name__})"
    container = PostgresContainer("postgres:16-alpine", username="postgres", password="postgres")
    container.start()
    atexit.register(container.stop)
    url = container.get_connection_url(driver=None)
    return PgServer(url, "testcontainers")


def find_server() -> PgServer | str:
    """The server to test against, or the reason there is none (the skip message).

    Order: ``CHECKPOINTKIT_POSTGRES_URL``; a server on 127.0.0.1:5432 (user postgres);
    a throwaway testcontainers server when Docker is reachable. Found once per process.
    """
    global _found
    if _found is not None:
        return _found
    url = os.environ.get("CHECKPOINTKIT_POSTGRES_URL")
    if url:
        problem = _answers(url)
        # A URL that was given but does not answer is an error, never a silent fallback.
        _found = (
            PgServer(url, "env")
            if problem is None
            else f"CHECKPOINTKIT_POSTGRES_URL does not answer: {problem}"
        )
        return _found
    local_problem = _answers(LOCAL_URL)
    if local_problem is None:
        _found = PgServer(LOCAL_URL, "local")
        return _found
    container = _from_testcontainers()
    _found = (
        container
        if isinstance(container, PgServer)
        else (
            "no PostgreSQL server: CHECKPOINTKIT_POSTGRES_URL is not set, 127.0.0.1:5432 does "
            f"not answer ({local_problem}), and {container}"
        )
    )
    return _found


@contextlib.contextmanager
def temp_database(server: PgServer, prefix: str = "ck") -> Iterator[str]:
    """A fresh database ``<prefix>_<random>``, dropped (connections and all) afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.database_url(name)
    finally:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
