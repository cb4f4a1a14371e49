"""Broken savers that pass the saver contract and are caught only by the reliability layer."""

from __future__ import annotations

import fnmatch
import os
import pickle
import sqlite3
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from broken_savers import PickleFileSaver
from kit_harness import SAVER_CONTRACT, KitRunner, conformance_module

from checkpointkit.backends import _core
from checkpointkit.backends.memory import MemorySaver
from checkpointkit.backends.sqlite import SqliteSaver
from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter
from checkpointkit.conformance.requirements import load_requirements
from checkpointkit.runs import RunLease
from checkpointkit.serde import JsonSerializer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conformance"))
from tamper_helpers import MemoryTamper

RELIABILITY = {rid for rid, req in load_requirements().items() if req.document == "reliability.md"}


# -- the broken savers (imported by module path in the child runs) ----------------------


class TornPutSaver(PickleFileSaver):
    """Crash (REL-CRASH-001/004/005): every call is durable (the file is replaced
    atomically), but ``put`` stores the checkpoint row first and its channel values 20 ms
    later, so a process killed during ``put`` leaves a checkpoint without its values. The
    scenario layer kills only inside nodes and never sees the tear."""

    def _persist(self) -> None:
        with self._lock:
            data = pickle.dumps((self._checkpoints, self._blobs, self._writes))
            tmp = self._path.with_suffix(".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, self._path)

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        prepared = _core.prepare_put(self.serde, config, checkpoint, metadata, new_versions)
        row = prepared.row
        with self._lock:
            self._checkpoints.setdefault(row.thread_id, {}).setdefault(row.checkpoint_ns, {})[
                row.checkpoint_id
            ] = row
        self._persist()
        time.sleep(0.02)
        with self._lock:
            blobs = self._blobs.setdefault(row.thread_id, {})
            for blob in prepared.blobs:
                blobs.setdefault((blob.checkpoint_ns, blob.channel, blob.version), blob)
        self._persist()
        return checkpoint_config(row.thread_id, row.checkpoint_ns, row.checkpoint_id)

    def put_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
        super().put_writes(config, writes, task_id, task_path)
        self._persist()

    def delete_thread(self, thread_id: str) -> None:
        super().delete_thread(thread_id)
        self._persist()

    def close(self) -> None:
        self._persist()


class SharedLeaseSaver(MemorySaver):
    """Concurrency (REL-CONC-003): ``acquire_run`` never refuses a busy thread."""

    def acquire_run(self, thread_id: str, *, owner: str | None = None) -> RunLease:
        return RunLease(thread_id, owner or "anyone", lambda: None)

    async def aacquire_run(self, thread_id: str, *, owner: str | None = None) -> RunLease:
        return self.acquire_run(thread_id, owner=owner)


class LikeDeleteSaver(MemorySaver):
    """Hostile input (SEC-INPUT-001/004): ``delete_thread`` matches the id as a SQL LIKE
    pattern (``%`` and ``_`` are wildcards), as a saver building ``LIKE ?`` would."""

    def delete_thread(self, thread_id: str) -> None:
        pattern = thread_id.replace("*", "[*]").replace("?", "[?]")
        pattern = pattern.replace("%", "*").replace("_", "?")
        with self._lock:
            for tid in [t for t in self._checkpoints if fnmatch.fnmatchcase(t, pattern)]:
                super().delete_thread(tid)


class _PickleFallback(JsonSerializer):
    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        if data[0] == "pickle":
            return pickle.loads(data[1])  # the fallback LangGraph's pickle_fallback had
        return super().loads_typed(data)


class PickleFallbackSaver(MemorySaver):
    """Tampered rows (SEC-TAMPER-002): its serializer still loads rows tagged ``pickle``."""

    def __init__(self) -> None:
        super().__init__(serde=_PickleFallback())


class SwallowingSqliteSaver(SqliteSaver):
    """Faults (REL-FAULT-001): a full disk is logged and ignored; put pretends it stored."""

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        try:
            return super().put(config, checkpoint, metadata, new_versions)
        except sqlite3.OperationalError:
            conf = config["configurable"]
            return {"configurable": {**conf, "checkpoint_id": checkpoint["id"]}}


# -- the kit runs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    saver: str
    fails: frozenset[str]
    capabilities: str
    factory: bool = False
    body: str = ""

    def __str__(self) -> str:
        return self.saver


TAMPER_FIXTURE = """
@pytest.fixture
def tamper(self, saver):
    import sys
    sys.path.insert(0, {conformance!r})
    from tamper_helpers import MemoryTamper
    return MemoryTamper(saver)
""".format(conformance=str(Path(__file__).resolve().parents[1] / "conformance"))

CASES = [
    Case("TornPutSaver", frozenset({"REL-CRASH-001"}), "persistent=True", factory=True),
    Case("SharedLeaseSaver", frozenset({"REL-CONC-003"}), "exclusive_runs=True"),
    Case("LikeDeleteSaver", frozenset({"SEC-INPUT-001", "SEC-INPUT-004"}), ""),
    Case("PickleFallbackSaver", frozenset({"SEC-TAMPER-002"}), "tamper=True", body=TAMPER_FIXTURE),
]


def _module(case: Case) -> str:
    source = conformance_module(
        "MemorySaver", class_name=f"Test{case.saver}", capabilities=case.capabilities,
        factory=case.saver if case.factory else None, body=case.body,
    )  # fmt: skip
    source = source.replace("saver_name = 'MemorySaver'", f"saver_name = {case.saver!r}")
    source = source.replace(
        "import broken_savers\n", "import test_reliability_broken_savers as broken_savers\n"
    )
    return source.replace("broken_savers.MemorySaver()", f"broken_savers.{case.saver}()").replace(
        '"broken_savers:', '"test_reliability_broken_savers:'
    )


@pytest.mark.parametrize("case", CASES, ids=str)
def test_reliability_broken_saver_is_caught_only_by_this_layer(
    run_kit: KitRunner, case: Case
) -> None:
    run = run_kit(_module(case), timeout=600)
    rows = {r["id"]: r["outcome"] for r in run.saver(case.saver)["requirements"]}
    failed = {rid for rid, outcome in rows.items() if outcome == "failed"}
    assert case.fails <= failed, (
        f"not caught: {sorted(case.fails - failed)}\n{run.result.stdout.str()[-3000:]}"
    )
    assert failed <= RELIABILITY, (
        f"the saver contract caught it too: {sorted(failed - RELIABILITY)}"
    )
    assert not failed & SAVER_CONTRACT


def test_every_reliability_part_has_a_broken_saver() -> None:
    parts = {rid.rsplit("-", 1)[0] for case in CASES for rid in case.fails}
    assert {"REL-CRASH", "REL-CONC", "SEC-INPUT", "SEC-TAMPER"} <= parts


# -- faults: a saver that swallows a full disk ------------------------------------------


def _full_disk_loses_nothing(saver_cls: type[SqliteSaver], path: Path) -> None:
    """The REL-FAULT-001 check of tests/reliability, on any SQLite saver class."""
    with saver_cls.from_conn_string(path) as saver:
        w = ThreadWriter(SaverDriver(saver, "sync"), f"full-{uuid.uuid4()}")
        w.put({"n": 1})
        pages = saver.conn.execute("PRAGMA page_count").fetchone()[0]
        saver.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        with pytest.raises(sqlite3.OperationalError, match="full"):
            stored = w.put({"big": "x" * 200_000})
            assert saver.get_tuple(stored) is not None, "put returned a checkpoint it lost"


def test_full_disk_check_passes_the_reference_saver(tmp_path: Path) -> None:
    _full_disk_loses_nothing(SqliteSaver, tmp_path / "ok.db")


def test_full_disk_check_catches_a_saver_that_swallows_it(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="lost"):
        _full_disk_loses_nothing(SwallowingSqliteSaver, tmp_path / "bad.db")


def test_memory_tamper_helper_is_a_tamper() -> None:
    from checkpointkit.conformance.reliability import Tamper

    assert isinstance(MemoryTamper(MemorySaver()), Tamper)
