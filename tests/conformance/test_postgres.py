"""The PostgreSQL savers through the whole conformance suite."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checkpointkit.backends.postgres import AsyncPostgresSaver, PostgresSaver
from checkpointkit.conformance import Capabilities, SaverConformance, SaverFactory

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backends"))
from pg_server import PgServer, find_server, require_postgres, temp_database
from tamper_helpers import PostgresTamper


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A database of this module's own (see the README, "Testing with PostgreSQL")."""
    found = find_server()
    if isinstance(found, str):
        if require_postgres():
            pytest.fail(f"CHECKPOINTKIT_REQUIRE_POSTGRES=1 but {found}")
        pytest.skip(found)
    server: PgServer = found
    with temp_database(server) as url:
        yield url


class TestPostgresSaver(SaverConformance):
    capabilities = Capabilities(
        persistent=True,
        multi_process=True,
        list_threads=True,
        copy_thread=True,
        prune=True,
        delete_for_runs=True,
        exclusive_runs=True,
        tamper=True,
    )

    @pytest.fixture
    def saver(self, pg_url: str) -> Iterator[PostgresSaver]:
        with PostgresSaver.from_conn_string(pg_url) as saver:
            yield saver

    @pytest.fixture
    def tamper(self, pg_url: str, saver: PostgresSaver) -> Iterator[PostgresTamper]:
        tamper = PostgresTamper(pg_url, "public")
        yield tamper
        tamper.close()

    @pytest.fixture
    def async_saver(self, pg_url: str) -> Any:
        return AsyncPostgresSaver.from_conn_string(pg_url)

    @pytest.fixture
    def saver_factory(self, pg_url: str) -> SaverFactory:
        return SaverFactory(
            "checkpointkit.backends.postgres:PostgresSaver.from_conn_string", args=(pg_url,)
        )


class TestEncryptedPostgresSaver(SaverConformance):
    """Encryption at rest: values are bound to their storage place, copies are re-sealed."""

    capabilities = Capabilities(
        persistent=True,
        multi_process=True,
        list_threads=True,
        copy_thread=True,
        prune=True,
        delete_for_runs=True,
        exclusive_runs=True,
        tamper=True,
    )

    @pytest.fixture
    def saver(self, pg_url: str) -> Iterator[PostgresSaver]:
        with PostgresSaver.from_conn_string(pg_url, schema="encrypted", serde=_encrypted()) as s:
            yield s

    @pytest.fixture
    def tamper(self, pg_url: str, saver: PostgresSaver) -> Iterator[PostgresTamper]:
        tamper = PostgresTamper(pg_url, "encrypted")
        yield tamper
        tamper.close()

    @pytest.fixture
    def saver_factory(self, pg_url: str) -> SaverFactory:
        # The same schema and key as `saver`, by module path, for child processes too.
        return SaverFactory(
            "checkpointkit.conformance.reliability.factories:encrypted_saver",
            args=(
                "checkpointkit.backends.postgres:PostgresSaver.from_conn_string",
                "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                pg_url,
            ),
            kwargs={"schema": "encrypted"},
        )

    @pytest.fixture
    def async_saver(self, pg_url: str) -> Any:
        return AsyncPostgresSaver.from_conn_string(pg_url, schema="encrypted", serde=_encrypted())


def _encrypted() -> Any:
    from checkpointkit.serde.encrypted import EncryptedSerializer

    return EncryptedSerializer("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
