"""Fixtures for the backend reliability tests: a PostgreSQL database of each module's own."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backends"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conformance"))
from pg_server import PgServer, find_server, require_postgres, temp_database


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    found = find_server()
    if isinstance(found, str):
        if require_postgres():
            pytest.fail(f"CHECKPOINTKIT_REQUIRE_POSTGRES=1 but {found}")
        pytest.skip(found)
    server: PgServer = found
    with temp_database(server, prefix="ckrel") as url:
        yield url
