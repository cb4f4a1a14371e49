"""The SQLite savers through the whole conformance suite (the README quick start shape)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tamper_helpers import SqliteTamper

from checkpointkit.backends.sqlite import AsyncSqliteSaver, SqliteSaver
from checkpointkit.conformance import Capabilities, SaverConformance, SaverFactory


class TestSqliteSaver(SaverConformance):
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
    def tamper(self, saver: SqliteSaver) -> SqliteTamper:
        return SqliteTamper(saver)

    @pytest.fixture
    def saver(self, tmp_path: Path) -> Iterator[SqliteSaver]:
        with SqliteSaver.from_conn_string(tmp_path / "saver.db") as saver:
            yield saver

    @pytest.fixture
    def async_saver(self, tmp_path: Path) -> Any:
        return AsyncSqliteSaver.from_conn_string(tmp_path / "async.db")

    @pytest.fixture
    def saver_factory(self, tmp_path: Path) -> SaverFactory:
        # The same file as `saver`: SQLite files are shared by instances and processes.
        return SaverFactory(
            "checkpointkit.backends.sqlite:SqliteSaver.from_conn_string",
            args=(str(tmp_path / "saver.db"),),
        )


class TestSqliteSaverInMemory(SaverConformance):
    capabilities = Capabilities(
        list_threads=True,
        copy_thread=True,
        prune=True,
        delete_for_runs=True,
        exclusive_runs=True,
        tamper=True,
    )

    @pytest.fixture
    def tamper(self, saver: SqliteSaver) -> SqliteTamper:
        return SqliteTamper(saver)

    @pytest.fixture
    def saver(self) -> Iterator[SqliteSaver]:
        with SqliteSaver.from_conn_string(":memory:") as saver:
            yield saver

    @pytest.fixture
    def async_saver(self) -> Any:
        return AsyncSqliteSaver.from_conn_string(":memory:")
