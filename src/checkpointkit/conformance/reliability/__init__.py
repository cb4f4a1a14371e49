"""The reliability and security layer: crashes, concurrent runs, hostile input, tampered rows."""

from __future__ import annotations

from checkpointkit.conformance.reliability.concurrency import ConcurrencyTests
from checkpointkit.conformance.reliability.crash import CrashTests
from checkpointkit.conformance.reliability.hostile import HostileInputTests
from checkpointkit.conformance.reliability.tamper import StoredValue, Tamper, TamperTests

RELIABILITY_SUITES: tuple[type, ...] = (
    CrashTests,
    ConcurrencyTests,
    HostileInputTests,
    TamperTests,
)

__all__ = ["RELIABILITY_SUITES", "StoredValue", "Tamper"]
