"""The memory saver through the whole conformance suite."""

from __future__ import annotations

import pytest

from checkpointkit.backends.memory import MemorySaver
from checkpointkit.conformance import Capabilities, SaverConformance


class TestMemorySaver(SaverConformance):
    capabilities = Capabilities(list_threads=True, copy_thread=True, prune=True, delete_for_runs=True)

    @pytest.fixture
    def saver(self) -> MemorySaver:
        return MemorySaver()
