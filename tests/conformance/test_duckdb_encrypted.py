"""The DuckDB saver with encryption at rest, through the whole conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tamper_helpers import TEST_KEY, DuckDBTamper

from checkpointkit.backends.duckdb import AsyncDuckDBSaver, DuckDBSaver
from checkpointkit.conformance import Capabilities, SaverConformance, SaverFactory
from checkpointkit.serde.encrypted import EncryptedSerializer


class TestEncryptedDuckDBSaver(SaverConformance):
    capabilities = Capabilities(
        persistent=True,
        list_threads=True,
        copy_thread=True,
        prune=True,
        delete_for_runs=True,
        exclusive_runs=True,
        tamper=True,
    )

    @pytest.fixture
    def saver(self, tmp_path: Path) -> Iterator[DuckDBSaver]:
        with DuckDBSaver.from_conn_string(
            str(tmp_path / "enc.duckdb"), serde=EncryptedSerializer(TEST_KEY)
        ) as saver:
            yield saver

    @pytest.fixture
    def async_saver(self, tmp_path: Path) -> Any:
        return AsyncDuckDBSaver.from_conn_string(
            str(tmp_path / "aenc.duckdb"), serde=EncryptedSerializer(TEST_KEY)
        )

    @pytest.fixture
    def tamper(self, saver: DuckDBSaver) -> DuckDBTamper:
        return DuckDBTamper(saver)

    @pytest.fixture
    def saver_factory(self, tmp_path: Path) -> SaverFactory:
        # A file of its own: the `saver` fixture's file is locked while that saver is open.
        return SaverFactory(
            "checkpointkit.conformance.reliability.factories:encrypted_saver",
            args=(
                "checkpointkit.backends.duckdb:DuckDBSaver.from_conn_string",
                TEST_KEY,
                str(tmp_path / "f.duckdb"),
            ),
        )
