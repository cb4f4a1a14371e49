"""The SQLite savers with encryption at rest, through the whole conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checkpointkit.backends.sqlite import AsyncSqliteSaver, SqliteSaver
from checkpointkit.conformance import Capabilities, SaverConformance
from checkpointkit.serde.encrypted import EncryptedSerializer

KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


class TestEncryptedSqliteSaver(SaverConformance):
    capabilities = Capabilities(
        list_threads=True, copy_thread=True, prune=True, delete_for_runs=True
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
