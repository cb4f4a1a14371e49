"""Reference checkpoint savers: memory, SQLite, PostgreSQL and DuckDB."""

from __future__ import annotations

from checkpointkit.backends.memory import InMemorySaver, MemorySaver

__all__ = ["InMemorySaver", "MemorySaver"]
