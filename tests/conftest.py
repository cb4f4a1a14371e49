"""Root conftest: enables pytester for the kit self-tests (pytest_plugins must live here)."""

from __future__ import annotations

pytest_plugins = ["pytester"]
