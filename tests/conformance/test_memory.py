"""The memory saver through the whole conformance suite."""

from __future__ import annotations

import pytest
from tamper_helpers import MemoryTamper

from checkpointkit.backends.memory import MemorySaver
from checkpointkit.conformance import Capabilities, SaverConformance


class TestMemorySaver(SaverConformance):
    capabilities = Capabilities(
        list_threads=True,
        copy_thread=True,
        prune=True,
        delete_for_runs=True,
        exclusive_runs=True,
        tamper=True,
    )

    @pytest.fixture
    def saver(self) -> MemorySaver:
        return MemorySaver()

    @pytest.fixture
    def tamper(self, saver: MemorySaver) -> MemoryTamper:
        return MemoryTamper(saver)
