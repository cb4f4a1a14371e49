"""Deliberately broken savers: each is the memory saver with exactly one rule of the contract broken."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import copy
import dataclasses
import pickle
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from checkpointkit.backends import _core
from checkpointkit.backends.memory import MemorySaver
from checkpointkit.checkpoint import (
    NULL_TASK_ID,
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    Config,
    checkpoint_config,
)
from checkpointkit.ids import version_number
from checkpointkit.serde import JsonSerializer

__all__ = [
    "AliasingSaver",
    "AncestryBeforeSaver",
    "BoolAsIntMetadataSaver",
    "ConfigEchoSaver",
    "ContainmentFilterSaver",
    "CopyWithoutWritesSaver",
    "DanglingParentSaver",
    "DeleteKeepsWritesSaver",
    "EarlyWritesDroppedSaver",
    "ForgetfulSaver",
    "IntVersionSaver",
    "LastInsertedLatestSaver",
    "LastWinsWritesSaver",
    "ListThreadsIgnoresAfterSaver",
    "LockedListSaver",
    "MergingCopySaver",
    "NegativeLimitSaver",
    "NonAtomicWritesSaver",
    "NulStrippingSaver",
    "NullTaskAppendSaver",
    "PerNamespaceOrderSaver",
    "PickleFileSaver",
    "PruneDropsOldValuesSaver",
    "RacyWritesSaver",
    "SqlSpecialWritesSaver",
    "StaleLatestCacheSaver",
    "StaleParentSaver",
    "TupleToListSaver",
]

DEADLOCK_SECONDS = 3.0  # the sync watchdog of LockedListSaver: a deadlock becomes an error


def _scope(config: Config, op: str = "put") -> tuple[str, str, str | None]:
    return _core.read_scope(config, op)


class _PostProcessedList(MemorySaver):
    """Lists everything in scope, then filters, reorders and limits in Python (``_rework``)."""

    def list(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        _core.validate_filter(filter)
        checked = self._limit(limit)
        rows = builtins.list(super().list(config, before=before))
        rows = self._rework(rows, filter or {}, before)
        return iter(rows if checked is None else rows[:checked])

    def _limit(self, limit: int | None) -> int | None:
        return _core.check_limit(limit)

    def _rework(
        self, rows: builtins.list[CheckpointTuple], flt: dict[str, Any], before: Config | None
    ) -> builtins.list[CheckpointTuple]:
        return [t for t in rows if _core.filter_matches(dict(t.metadata), flt)]


# -- PUT ------------------------------------------------------------------------------------


class ConfigEchoSaver(MemorySaver):
    """PUT-001: ``put`` echoes the caller's extra configurable keys (LangGraph InMemory)."""

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        stored = super().put(config, checkpoint, metadata, new_versions)
        return {"configurable": {**config["configurable"], **stored["configurable"]}}


class StaleParentSaver(MemorySaver):
    """PUT-006: re-putting an existing id keeps the old parent (LangGraph Postgres)."""

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        thread_id, ns, _ = _scope(config)
        with self._lock:
            old = self._checkpoints.get(thread_id, {}).get(ns, {}).get(checkpoint.get("id", ""))
            stored = super().put(config, checkpoint, metadata, new_versions)
            if old is not None:
                rows = self._checkpoints[thread_id][ns]
                rows[old.checkpoint_id] = dataclasses.replace(
                    rows[old.checkpoint_id], parent_checkpoint_id=old.parent_checkpoint_id
                )
        return stored


class BoolAsIntMetadataSaver(MemorySaver):
    """PUT-008: metadata booleans are stored as 0/1 (a database without a boolean type)."""

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        coerced = {k: int(v) if isinstance(v, bool) else v for k, v in (metadata or {}).items()}
        return super().put(config, checkpoint, coerced, new_versions)  # type: ignore[arg-type]


# -- VAL ------------------------------------------------------------------------------------


def _listify(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_listify(v) for v in value]
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    return value


class _ListifyingSerializer(JsonSerializer):
    """Plain JSON habits: every tuple comes back as a list."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        return super().dumps_typed(_listify(obj))


class TupleToListSaver(MemorySaver):
    """VAL-001: its serializer turns tuples into lists."""

    def __init__(self) -> None:
        super().__init__(serde=_ListifyingSerializer())


class AliasingSaver(MemorySaver):
    """VAL-002: exact lookups are answered from a cache of the very objects handed out."""

    def __init__(self) -> None:
        super().__init__()
        self._handed_out: dict[tuple[str, str, str], CheckpointTuple] = {}

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        thread_id, ns, checkpoint_id = _core.read_scope(config, "get_tuple")
        if checkpoint_id is None:
            return super().get_tuple(config)
        with self._lock:
            key = (thread_id, ns, checkpoint_id)
            if key not in self._handed_out:
                found = super().get_tuple(config)
                if found is None:
                    return None
                self._handed_out[key] = found
            return self._handed_out[key]

    def _forget(self) -> None:
        with self._lock:
            self._handed_out.clear()

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        with self._lock:
            self._forget()
            return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self, config: Config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        with self._lock:
            self._forget()
            super().put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            self._forget()
            super().delete_thread(thread_id)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        with self._lock:
            self._forget()
            super().copy_thread(source_thread_id, target_thread_id)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        with self._lock:
            self._forget()
            super().prune(thread_ids, strategy=strategy)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        with self._lock:
            self._forget()
            super().delete_for_runs(run_ids)


# -- WRT ------------------------------------------------------------------------------------


def _bucket(saver: MemorySaver, row: _core.WriteRow) -> dict[tuple[str, int], _core.WriteRow]:
    return saver._writes.setdefault(row.thread_id, {}).setdefault(
        (row.checkpoint_ns, row.checkpoint_id), {}
    )


class LastWinsWritesSaver(MemorySaver):
    """WRT-002: regular writes are last-wins too (an upsert for every write)."""

    def put_writes(
        self, config: Config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        rows = _core.prepare_writes(self.serde, config, writes, task_id, task_path)
        with self._lock:
            for row in rows:
                _bucket(self, row)[(row.task_id, row.idx)] = row


class SqlSpecialWritesSaver(MemorySaver):
    """WRT-003: last-wins only for batches made entirely of special writes (LangGraph SQL)."""

    def put_writes(
        self, config: Config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        rows = _core.prepare_writes(self.serde, config, writes, task_id, task_path)
        upsert = all(row.special for row in rows)
        with self._lock:
            for row in rows:
                bucket = _bucket(self, row)
                if upsert or (row.task_id, row.idx) not in bucket:
                    bucket[(row.task_id, row.idx)] = row


class NullTaskAppendSaver(MemorySaver):
    """WRT-007: writes of the null task are appended on every call, so re-sends duplicate."""

    def put_writes(
        self, config: Config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        if task_id != NULL_TASK_ID:
            super().put_writes(config, writes, task_id, task_path)
            return
        rows = _core.prepare_writes(self.serde, config, writes, task_id, task_path)
        with self._lock:
            for row in rows:
                bucket = _bucket(self, row)
                if not row.special:
                    row = dataclasses.replace(row, idx=max([-1, *(i for _, i in bucket)]) + 1)
                bucket[(row.task_id, row.idx)] = row


class EarlyWritesDroppedSaver(MemorySaver):
    """WRT-005: writes for a checkpoint that is not stored yet are silently dropped."""

    def put_writes(
        self, config: Config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        thread_id, ns, checkpoint_id = _core.read_scope(config, "put_writes")
        with self._lock:
            stored = self._checkpoints.get(thread_id, {}).get(ns, {})
            if checkpoint_id is not None and checkpoint_id not in stored:
                return
            super().put_writes(config, writes, task_id, task_path)


class NonAtomicWritesSaver(MemorySaver):
    """WRT-006: serializes and stores one write at a time, so a bad value leaves a partial call."""

    def put_writes(
        self, config: Config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        for position, write in enumerate(writes):
            (row,) = _core.prepare_writes(self.serde, config, [write], task_id, task_path)
            row = dataclasses.replace(row, idx=WRITES_IDX_MAP.get(row.channel, position))
            with self._lock:
                bucket = _bucket(self, row)
                if row.special or (row.task_id, row.idx) not in bucket:
                    bucket[(row.task_id, row.idx)] = row


# -- GET ------------------------------------------------------------------------------------


class LastInsertedLatestSaver(MemorySaver):
    """GET-001: "latest" is the checkpoint put last, not the one with the greatest id."""

    def __init__(self) -> None:
        super().__init__()
        self._put_order: dict[tuple[str, str, str], int] = {}
        self._counter = 0

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        with self._lock:
            stored = super().put(config, checkpoint, metadata, new_versions)
            c = stored["configurable"]
            self._counter += 1
            self._put_order[(c["thread_id"], c["checkpoint_ns"], c["checkpoint_id"])] = (
                self._counter
            )
        return stored

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        thread_id, ns, checkpoint_id = _core.read_scope(config, "get_tuple")
        if checkpoint_id is not None:
            return super().get_tuple(config)
        with self._lock:
            rows = self._checkpoints.get(thread_id, {}).get(ns)
            if not rows:
                return None
            last = max(rows, key=lambda cid: (self._put_order.get((thread_id, ns, cid), -1), cid))
        return super().get_tuple(checkpoint_config(thread_id, ns, last))


# -- LST ------------------------------------------------------------------------------------


class PerNamespaceOrderSaver(_PostProcessedList):
    """LST-001: newest first only within each (thread, namespace) (LangGraph InMemory)."""

    def _rework(
        self, rows: builtins.list[CheckpointTuple], flt: dict[str, Any], before: Config | None
    ) -> builtins.list[CheckpointTuple]:
        kept = super()._rework(rows, flt, before)
        return sorted(
            kept,
            key=lambda t: (t.config["configurable"]["thread_id"], t.config["configurable"]["checkpoint_ns"]),
        )  # fmt: skip


class ContainmentFilterSaver(_PostProcessedList):
    """LST-003: metadata filters match by containment, as JSONB ``@>`` does (LangGraph Postgres)."""

    def _rework(
        self, rows: builtins.list[CheckpointTuple], flt: dict[str, Any], before: Config | None
    ) -> builtins.list[CheckpointTuple]:
        return [
            t
            for t in rows
            if all(k in t.metadata and _contains(t.metadata[k], v) for k, v in flt.items())  # type: ignore[literal-required]
        ]


def _contains(have: Any, want: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(have, dict) and all(
            k in have and _contains(have[k], v) for k, v in want.items()
        )
    if isinstance(want, list):
        return isinstance(have, list) and all(any(_contains(h, w) for h in have) for w in want)
    return bool(have == want)


class AncestryBeforeSaver(_PostProcessedList):
    """LST-004: ``before`` keeps only ancestors of the ``before`` checkpoint (one branch)."""

    def _rework(
        self, rows: builtins.list[CheckpointTuple], flt: dict[str, Any], before: Config | None
    ) -> builtins.list[CheckpointTuple]:
        kept = super()._rework(rows, flt, before)
        cutoff = _core.before_id(before)
        if cutoff is None:
            return kept
        return [
            t
            for t in kept
            if t.config["configurable"]["checkpoint_id"] in self._ancestors(t, cutoff)
        ]

    def _ancestors(self, t: CheckpointTuple, start: str) -> set[str]:
        c = t.config["configurable"]
        with self._lock:
            rows = self._checkpoints.get(c["thread_id"], {}).get(c["checkpoint_ns"], {})
            found: set[str] = set()
            row = rows.get(start)
            while row is not None and row.parent_checkpoint_id is not None:
                found.add(row.parent_checkpoint_id)
                row = rows.get(row.parent_checkpoint_id)
        return found


class NegativeLimitSaver(_PostProcessedList):
    """LST-005: a negative limit lists everything (LangGraph SQLite)."""

    def _limit(self, limit: int | None) -> int | None:
        return None if limit is not None and limit < 0 else super()._limit(limit)


class LockedListSaver(MemorySaver):
    """LST-007: ``list`` holds the saver's lock while it yields (LangGraph's SQL savers).

    Sync calls made during an iteration wait on the lock; a watchdog turns the deadlock into
    an error after ``DEADLOCK_SECONDS``. The async twins hold an ``asyncio.Lock`` and simply
    hang, so the kit's own call timeout (``CHECKPOINTKIT_CALL_TIMEOUT``) has to catch them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._io = threading.Lock()
        self._aio: asyncio.Lock | None = None

    @contextlib.contextmanager
    def _held(self) -> Iterator[None]:
        if not self._io.acquire(timeout=DEADLOCK_SECONDS):
            raise TimeoutError("LockedListSaver: deadlock (the lock is held by a list iteration)")
        try:
            yield
        finally:
            self._io.release()

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        with self._held():
            return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self, config: Config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        with self._held():
            super().put_writes(config, writes, task_id, task_path)

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        with self._held():
            return super().get_tuple(config)

    def list(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        rows = super().list(config, filter=filter, before=before, limit=limit)
        return self._iterate_holding_lock(rows)

    def _iterate_holding_lock(self, rows: Iterator[CheckpointTuple]) -> Iterator[CheckpointTuple]:
        with self._held():
            yield from rows

    # The async twins use an asyncio.Lock and call the unlocked memory-saver methods.
    def _alock(self) -> asyncio.Lock:
        if self._aio is None:
            self._aio = asyncio.Lock()
        return self._aio

    async def aput(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        async with self._alock():
            return MemorySaver.put(self, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: Config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        async with self._alock():
            MemorySaver.put_writes(self, config, writes, task_id, task_path)

    async def aget_tuple(self, config: Config) -> CheckpointTuple | None:
        async with self._alock():
            return MemorySaver.get_tuple(self, config)

    async def alist(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        rows = MemorySaver.list(self, config, filter=filter, before=before, limit=limit)
        async with self._alock():
            for row in rows:
                yield row


# -- DEL ------------------------------------------------------------------------------------


class DeleteKeepsWritesSaver(MemorySaver):
    """DEL-001: ``delete_thread`` forgets the thread's pending writes table."""

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            kept = self._writes.pop(thread_id, None)
            super().delete_thread(thread_id)
            if kept is not None:
                self._writes[thread_id] = kept


# -- LIN ------------------------------------------------------------------------------------


class IntVersionSaver(MemorySaver):
    """LIN-002: plain int versions (LangGraph InMemory), so forks mint the same version."""

    def get_next_version(self, current: str | int | float | None, channel: Any = None) -> str:
        return (0 if current is None else version_number(current)) + 1  # type: ignore[return-value]


# -- KEY ------------------------------------------------------------------------------------


def _strip_nul(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


def _strip_config(config: Config) -> Config:
    configurable = {k: _strip_nul(v) for k, v in (config.get("configurable") or {}).items()}
    return {**config, "configurable": configurable}


class NulStrippingSaver(MemorySaver):
    """KEY-002: NUL characters in keys are stripped silently instead of rejected."""

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        return super().put(_strip_config(config), checkpoint, metadata, new_versions)

    def put_writes(
        self, config: Config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        clean = [(_strip_nul(channel), value) for channel, value in writes]
        super().put_writes(_strip_config(config), clean, _strip_nul(task_id), task_path)

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        return super().get_tuple(_strip_config(config))


# -- THR, CPY, PRN, RUN ---------------------------------------------------------------------


class ListThreadsIgnoresAfterSaver(MemorySaver):
    """THR-001: ``list_threads`` ignores ``after`` (always pages from the start)."""

    def list_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        return super().list_threads(limit=limit)


class CopyWithoutWritesSaver(MemorySaver):
    """CPY-001: ``copy_thread`` copies checkpoints and values but not pending writes."""

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        with self._lock:
            super().copy_thread(source_thread_id, target_thread_id)
            if source_thread_id != target_thread_id:
                self._writes.pop(target_thread_id, None)


class MergingCopySaver(MemorySaver):
    """CPY-002: ``copy_thread`` into a thread that has checkpoints merges the two."""

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        with self._lock:
            stores: list[dict[str, Any]] = [self._checkpoints, self._blobs, self._writes]
            stash = [store.pop(target_thread_id, {}) for store in stores]
            super().copy_thread(source_thread_id, target_thread_id)
            for store, old in zip(stores, stash, strict=True):
                merged = store.setdefault(target_thread_id, {})
                for key, value in old.items():
                    merged.setdefault(key, value)


class PruneDropsOldValuesSaver(MemorySaver):
    """PRN-001: ``keep_latest`` keeps only the values the kept checkpoint itself wrote."""

    def __init__(self) -> None:
        super().__init__()
        self._wrote: dict[tuple[str, str, str], set[tuple[str, str]]] = {}

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        stored = super().put(config, checkpoint, metadata, new_versions)
        c = stored["configurable"]
        self._wrote[(c["thread_id"], c["checkpoint_ns"], c["checkpoint_id"])] = {
            (channel, str(version)) for channel, version in (new_versions or {}).items()
        }
        return stored

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        super().prune(thread_ids, strategy=strategy)
        if strategy != "keep_latest":
            return
        with self._lock:
            for thread_id in thread_ids:
                blobs = self._blobs.get(thread_id, {})
                for ns, rows in self._checkpoints.get(thread_id, {}).items():
                    for cid in rows:
                        wrote = self._wrote.get((thread_id, ns, cid), set())
                        for key in [k for k in blobs if k[0] == ns and k[1:] not in wrote]:
                            del blobs[key]


class DanglingParentSaver(MemorySaver):
    """RUN-001: ``delete_for_runs`` deletes checkpoints but leaves children pointing at them."""

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        doomed = set(run_ids)
        with self._lock:
            for thread_id, spaces in self._checkpoints.items():
                for rows in spaces.values():
                    for cid in [c for c, row in rows.items() if row.run_id in doomed]:
                        del rows[cid]
                self._drop_orphans(thread_id)


# -- CON ------------------------------------------------------------------------------------


class RacyWritesSaver(MemorySaver):
    """CON-002: ``put_writes`` copies, updates and stores back a checkpoint's writes unlocked."""

    def put_writes(
        self, config: Config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        rows = _core.prepare_writes(self.serde, config, writes, task_id, task_path)
        if not rows:
            return
        first = rows[0]
        per_thread = self._writes.setdefault(first.thread_id, {})
        key = (first.checkpoint_ns, first.checkpoint_id)
        bucket = dict(per_thread.get(key, {}))  # read ...
        for row in rows:
            if row.special or (row.task_id, row.idx) not in bucket:
                bucket[(row.task_id, row.idx)] = row
        time.sleep(0.001)  # ... a context switch later ...
        per_thread[key] = bucket  # ... write back: concurrent calls overwrite each other


# -- MOD ------------------------------------------------------------------------------------


class StaleLatestCacheSaver(MemorySaver):
    """MOD-001: caches "latest" reads and forgets that ``put_writes`` changes them.

    Every single-operation test passes; only a sequence such as read latest, add writes to
    it, read latest again shows the stale pending writes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._latest: dict[tuple[str, str], CheckpointTuple] = {}

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        thread_id, ns, checkpoint_id = _core.read_scope(config, "get_tuple")
        if checkpoint_id is not None:
            return super().get_tuple(config)
        with self._lock:
            cached = self._latest.get((thread_id, ns))
            if cached is None:
                found = super().get_tuple(config)
                if found is None:
                    return None
                cached = self._latest[(thread_id, ns)] = copy.deepcopy(found)
            return copy.deepcopy(cached)

    def _forget(self) -> None:
        self._latest.clear()

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        with self._lock:
            self._forget()
            return super().put(config, checkpoint, metadata, new_versions)

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            self._forget()
            super().delete_thread(thread_id)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        with self._lock:
            self._forget()
            super().copy_thread(source_thread_id, target_thread_id)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        with self._lock:
            self._forget()
            super().prune(thread_ids, strategy=strategy)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        with self._lock:
            self._forget()
            super().delete_for_runs(run_ids)


# -- PER ------------------------------------------------------------------------------------


class PickleFileSaver(MemorySaver):
    """Not broken: a memory saver loaded from and saved to one pickle file (for PER tests)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = Path(path)
        if self._path.exists():
            state = pickle.loads(self._path.read_bytes())
            self._checkpoints, self._blobs, self._writes = state

    def close(self) -> None:
        with self._lock:
            state = (self._checkpoints, self._blobs, self._writes)
            self._path.write_bytes(pickle.dumps(state))


class ForgetfulSaver(PickleFileSaver):
    """PER-001/PER-002: claims to persist to ``path`` but never writes the file."""

    def close(self) -> None:
        pass
