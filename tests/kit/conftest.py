"""Fixtures of the kit self-tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from kit_harness import KitRunner

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_kit(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> KitRunner:
    return KitRunner(pytester, monkeypatch)


@pytest.fixture
def trace_roots() -> tuple[Path, list[Path]]:
    """The spec folder and the source folders whose ``spec`` marks are checked against it."""
    return REPO / "spec", [REPO / "src" / "checkpointkit", REPO / "tests"]
