"""Fixtures for backend tests that need a PostgreSQL server (see tests/backends/pg_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pg_server import PgServer, find_server, require_postgres, temp_database


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    found = find_server()
    if isinstance(found, str):
        if require_postgres():
            pytest.fail(f"CHECKPOINTKIT_REQUIRE_POSTGRES=1 but {found}")
        pytest.skip(found)
    return found


@pytest.fixture(scope="module")
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A database of this test module's own, dropped when the module is done."""
    with temp_database(pg_server) as url:
        yield url
