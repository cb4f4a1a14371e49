"""LangGraph's own savers, duck typed, through the whole conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "langgraph.checkpoint.memory",
    reason="langgraph-checkpoint is not installed (run `tox -e langgraph`)",
)
pytest.importorskip(
    "langgraph.checkpoint.sqlite",
    reason="langgraph-checkpoint-sqlite is not installed (run `tox -e langgraph`)",
)

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from checkpointkit.conformance import Capabilities, SaverConformance
from checkpointkit.conformance.factories import SaverFactory

#: LangGraph implements none of the optional capabilities (contract notes §2.0).
_NO_EXTRAS = {"list_threads": False, "copy_thread": False, "prune": False, "delete_for_runs": False}


#: Divergences both savers share; each is justified in spec/langgraph-divergences.md.
_SHARED: dict[str, str] = {
    "PUT-001": "get_tuple with a checkpoint_id returns the caller's config object unchanged",
    "PUT-003": "the last value put for a (channel, version) wins, not the first",
    "PUT-009": "non-JSON metadata is stored (InMemory) or silently changed (SQLite: NUL and "
    "lone surrogates dropped, NaN and big ints kept, int keys become strings)",
    "VAL-001": "msgpack turns tuples into lists, a ZoneInfo into a fixed offset, and rejects "
    "ints beyond 64 bits",
    "GET-003": "put without checkpoint_ns raises KeyError",
    "KEY-002": "NUL characters in keys are stored (InMemory also stores lone surrogates)",
    "KEY-003": "no byte limit on keys, so over-long keys are stored",
    "LST-001": "equal ids are not ordered by thread and namespace (InMemory: not even sorted "
    "across namespaces)",
    "LST-003": "filters: a missing key matches None; InMemory matches True with 1, SQLite "
    "compares dicts as key-ordered JSON text",
    "LST-005": "a negative limit yields nothing (InMemory) or everything (SQLite), no ValueError",
    "MOD-001": "random sequences hit the VAL-001 tuple->list and LST-001 order divergences",
    "SEC-INPUT-001": "over-long keys are stored, not refused (KEY-003)",
    "SEC-INPUT-002": "metadata with NUL or non-JSON values is stored, not refused (PUT-009)",
    "SEC-INPUT-003": "hostile values change type or are refused: tuples, big ints (VAL-001)",
}


class TestLangGraphInMemorySaver(SaverConformance):
    capabilities = Capabilities(persistent=False, **_NO_EXTRAS)
    known_failures = {
        **_SHARED,
        "WRT-006": "put_writes stores write by write; an unserializable value leaves the earlier "
        "ones stored",
    }

    @pytest.fixture
    def saver(self) -> InMemorySaver:
        return InMemorySaver()


class TestLangGraphSqliteSaver(SaverConformance):
    capabilities = Capabilities(persistent=True, **_NO_EXTRAS)
    known_failures = {
        **_SHARED,
        "PUT-004": "the whole checkpoint is serialized as given, so values without a version "
        "come back",
        "WRT-003": "a batch mixing special and regular writes uses INSERT OR IGNORE, so special "
        "writes in it keep the first value",
        "LST-007": "list() holds the saver's lock while it yields; a call from the loop body "
        "deadlocks",
        "LST-008": "filter keys outside [a-zA-Z0-9_.-] raise ValueError; a dotted key is a JSON "
        "path, not a literal key",
    }

    @pytest.fixture
    def db_path(self, tmp_path: Path) -> str:
        return str(tmp_path / "checkpoints.sqlite")

    @pytest.fixture
    def saver(self, db_path: str) -> Iterator[SqliteSaver]:
        with SqliteSaver.from_conn_string(db_path) as saver:
            yield saver

    @pytest.fixture
    def async_saver(self, db_path: str) -> Any:
        # SqliteSaver's a* methods raise NotImplementedError; its async twin is another class
        # on the same file. An async context manager: the driver enters it on its loop thread.
        return AsyncSqliteSaver.from_conn_string(db_path)

    @pytest.fixture
    def saver_factory(self, db_path: str) -> SaverFactory:
        return SaverFactory("langgraph.checkpoint.sqlite:SqliteSaver.from_conn_string", (db_path,))
