"""The memory saver with encryption at rest, through the whole conformance suite."""

from __future__ import annotations

import pytest
from tamper_helpers import MemoryTamper

from checkpointkit.backends.memory import MemorySaver
from checkpointkit.conformance import Capabilities, SaverConformance
from checkpointkit.serde.encrypted import EncryptedSerializer

KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


class TestEncryptedMemorySaver(SaverConformance):
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
        return MemorySaver(serde=EncryptedSerializer(KEY))

    @pytest.fixture
    def tamper(self, saver: MemorySaver) -> MemoryTamper:
        return MemoryTamper(saver)
