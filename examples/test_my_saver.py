"""The README quick start as a runnable file: a third-party saver through the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from checkpointkit.backends.sqlite import SqliteSaver
from checkpointkit.conformance import Capabilities, SaverConformance, SaverFactory


class TestMySaver(SaverConformance):
    """Replace SqliteSaver by your saver and declare what it supports."""

    capabilities = Capabilities(persistent=True, prune=True, copy_thread=True)

    @pytest.fixture
    def saver(self, tmp_path: Path) -> Iterator[SqliteSaver]:
        with SqliteSaver.from_conn_string(str(tmp_path / "db.sqlite")) as saver:
            yield saver

    @pytest.fixture
    def saver_factory(self, tmp_path: Path) -> SaverFactory:
        return SaverFactory(
            "checkpointkit.backends.sqlite:SqliteSaver.from_conn_string",
            (str(tmp_path / "db.sqlite"),),
        )
