"""The reliability and security layer: crashes, concurrent runs, hostile input, tampered rows."""

from __future__ import annotations

from checkpointkit.conformance.reliability.crash import CrashTests

RELIABILITY_SUITES: tuple[type, ...] = (CrashTests,)

__all__ = ["RELIABILITY_SUITES"]
