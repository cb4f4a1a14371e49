"""The SQLite savers with encryption at rest, through the whole conformance suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tamper_helpers import SqliteTamper

from checkpointkit.backends.sqlite import AsyncSqliteSaver, SqliteSaver
from checkpointkit.conformance import Capabilities, SaverConformance, SaverFactory
from checkpointkit.serde.encrypted import EncryptedSerializer

KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


class TestEncryptedSqliteSaver(SaverConformance):
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
    def saver_factory(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SaverFactory:
        # The same file and key as `saver`, by module path, for child processes too: they
        # start from the repository root, so they get this directory on PYTHONPATH.
        here = str(Path(__file__).resolve().parent)
        monkeypatch.setenv(
            "PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
        )
        return SaverFactory(
            "checkpointkit.conformance.reliability.factories:encrypted_saver",
            args=(
                "checkpointkit.backends.sqlite:SqliteSaver.from_conn_string",
                KEY,
                str(tmp_path / "enc.db"),
            ),
        )

    @pytest.fixture
    def saver(self, tmp_path: Path) -> Iterator[SqliteSaver]:
        with SqliteSaver.from_conn_string(
            tmp_path / "enc.db", serde=EncryptedSerializer(KEY)
        ) as saver:
            yield saver

    @pytest.fixture
    def async_saver(self, tmp_path: Path) -> Any:
        return AsyncSqliteSaver.from_conn_string(
            tmp_path / "aenc.db", serde=EncryptedSerializer(KEY)
        )
