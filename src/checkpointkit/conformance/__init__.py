"""The conformance kit: subclass :class:`SaverConformance` and give a ``saver`` fixture."""

from __future__ import annotations

from checkpointkit.conformance.base import SaverConformance
from checkpointkit.conformance.capabilities import Capabilities, Capability
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import SaverFactory, ThreadWriter, new_thread_id

__all__ = [
    "Capabilities",
    "Capability",
    "SaverConformance",
    "SaverDriver",
    "SaverFactory",
    "ThreadWriter",
    "new_thread_id",
]
