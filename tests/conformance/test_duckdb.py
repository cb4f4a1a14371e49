"""The DuckDB savers through the whole conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tamper_helpers import DuckDBTamper

from checkpointkit.backends.duckdb import AsyncDuckDBSaver, DuckDBSaver
from checkpointkit.conformance import Capabilities, SaverConformance, SaverFactory


class TestDuckDBSaver(SaverConformance):
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
    def tamper(self, saver: DuckDBSaver) -> DuckDBTamper:
        return DuckDBTamper(saver)

    @pytest.fixture
    def saver(self, tmp_path: Path) -> Iterator[DuckDBSaver]:
        with DuckDBSaver.from_conn_string(str(tmp_path / "saver.duckdb")) as saver:
            yield saver

    @pytest.fixture
    def async_saver(self, tmp_path: Path) -> object:
        return AsyncDuckDBSaver.from_conn_string(str(tmp_path / "async.duckdb"))

    @pytest.fixture
    def saver_factory(self, tmp_path: Path) -> SaverFactory:
        # A file of its own: the `saver` fixture's file is locked while that saver is open.
        return SaverFactory(
            "checkpointkit.backends.duckdb:DuckDBSaver.from_conn_string",
            args=(str(tmp_path / "factory.duckdb"),),
        )


class TestDuckDBSaverInMemory(SaverConformance):
    capabilities = Capabilities(
        list_threads=True, copy_thread=True, prune=True, delete_for_runs=True
    )

    @pytest.fixture
    def saver(self) -> Iterator[DuckDBSaver]:
        with DuckDBSaver.from_conn_string(":memory:") as saver:
            yield saver
