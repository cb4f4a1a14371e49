"""In-memory reference saver: the whole protocol, every optional capability, thread-safe."""

from __future__ import annotations

import builtins
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import orjson

from checkpointkit.backends import _core
from checkpointkit.backends._core import BlobRow, CheckpointRow, WriteRow
from checkpointkit.backends.base import SaverBase
from checkpointkit.checkpoint import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    Config,
    checkpoint_config,
    validate_key,
)
from checkpointkit.runs import InProcessRunLocks, RunLease
from checkpointkit.serde import SerializerProtocol

__all__ = ["InMemorySaver", "MemorySaver"]

_BlobKey = tuple[str, str, str]  # (ns, channel, version)
_WriteKey = tuple[str, int]  # (task_id, idx)


class MemorySaver(SaverBase):
    """Keeps serialized rows in dicts, so returned values can never alias stored state.

    Channel values are stored once per (thread, namespace, channel, version). One lock
    guards every structure; it is never held while a caller iterates ``list``.
    """

    def __init__(self, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self._lock = threading.RLock()
        self._checkpoints: dict[str, dict[str, dict[str, CheckpointRow]]] = {}
        self._blobs: dict[str, dict[_BlobKey, BlobRow]] = {}
        self._writes: dict[str, dict[tuple[str, str], dict[_WriteKey, WriteRow]]] = {}
        self._runs = InProcessRunLocks(f"memory:{uuid.uuid4()}")

    # -- core protocol ------------------------------------------------------------------
    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        prepared = _core.prepare_put(self.serde, config, checkpoint, metadata, new_versions)
        row = prepared.row
        with self._lock:
            blobs = self._blobs.setdefault(row.thread_id, {})
            for blob in prepared.blobs:
                blobs.setdefault((blob.checkpoint_ns, blob.channel, blob.version), blob)
            self._checkpoints.setdefault(row.thread_id, {}).setdefault(row.checkpoint_ns, {})[
                row.checkpoint_id
            ] = row
        return checkpoint_config(row.thread_id, row.checkpoint_ns, row.checkpoint_id)

    def put_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        rows = _core.prepare_writes(self.serde, config, writes, task_id, task_path)
        if not rows:
            return
        first = rows[0]
        with self._lock:
            bucket = self._writes.setdefault(first.thread_id, {}).setdefault(
                (first.checkpoint_ns, first.checkpoint_id), {}
            )
            for w in rows:
                key = (w.task_id, w.idx)
                if w.special or key not in bucket:
                    bucket[key] = w

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        thread_id, ns, checkpoint_id = _core.read_scope(config, "get_tuple")
        with self._lock:
            rows = self._checkpoints.get(thread_id, {}).get(ns)
            if not rows:
                return None
            if checkpoint_id is None:
                checkpoint_id = max(rows)
            row = rows.get(checkpoint_id)
            if row is None:
                return None
            blobs, writes = self._row_parts(row)
        return _core.to_tuple(self.serde, row, blobs, writes)

    def list(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        thread_id, ns, checkpoint_id = _core.list_scope(config)
        wanted = _core.validate_filter(filter)
        cutoff = _core.before_id(before)
        limit = _core.check_limit(limit)
        with self._lock:
            threads = [thread_id] if thread_id is not None else sorted(self._checkpoints)
            rows: builtins.list[CheckpointRow] = []
            for t in threads:
                spaces = self._checkpoints.get(t, {})
                for n in [ns] if ns is not None else sorted(spaces):
                    for cid, row in spaces.get(n, {}).items():
                        if checkpoint_id is not None and cid != checkpoint_id:
                            continue
                        if cutoff is not None and cid >= cutoff:
                            continue
                        rows.append(row)
        # Stable sorts: newest id first, ties (copied threads) by thread, then namespace.
        rows.sort(key=lambda r: (r.thread_id, r.checkpoint_ns))
        rows.sort(key=lambda r: r.checkpoint_id, reverse=True)
        return self._iter_tuples(rows, wanted, limit)

    def _iter_tuples(
        self, rows: builtins.list[CheckpointRow], wanted: dict[str, Any], limit: int | None
    ) -> Iterator[CheckpointTuple]:
        if limit == 0:
            return
        count = 0
        for row in rows:
            if wanted and not _core.filter_matches(_core.load_metadata(row.metadata), wanted):
                continue
            with self._lock:
                blobs, writes = self._row_parts(row)
            yield _core.to_tuple(self.serde, row, blobs, writes)
            count += 1
            if limit is not None and count >= limit:
                return

    def _row_parts(
        self, row: CheckpointRow
    ) -> tuple[builtins.list[BlobRow], builtins.list[WriteRow]]:
        blobs = self._blobs.get(row.thread_id, {})
        versions = orjson.loads(row.checkpoint).get("channel_versions") or {}
        found = [
            blob
            for channel, version in versions.items()
            if (blob := blobs.get((row.checkpoint_ns, channel, str(version)))) is not None
        ]
        bucket = self._writes.get(row.thread_id, {}).get((row.checkpoint_ns, row.checkpoint_id), {})
        return found, list(bucket.values())

    def delete_thread(self, thread_id: str) -> None:
        thread_id = validate_key("thread_id", thread_id)
        with self._lock:
            self._checkpoints.pop(thread_id, None)
            self._blobs.pop(thread_id, None)
            self._writes.pop(thread_id, None)

    # -- optional capabilities -----------------------------------------------------------
    def list_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        """Thread ids with at least one checkpoint, ascending, paged by ``after``."""
        limit = _core.check_limit(limit)
        with self._lock:
            ids = sorted(t for t, spaces in self._checkpoints.items() if any(spaces.values()))
        if after is not None:
            ids = [t for t in ids if t > after]
        return ids if limit is None else ids[:limit]

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        source = validate_key("source_thread_id", source_thread_id)
        target = validate_key("target_thread_id", target_thread_id)
        with self._lock:
            if any(self._checkpoints.get(target, {}).values()):
                raise ValueError(f"copy_thread: target thread {target!r} already has checkpoints")
            if source == target or not any(self._checkpoints.get(source, {}).values()):
                return
            self._checkpoints[target] = {
                ns: {cid: _retarget(row, target) for cid, row in rows.items()}
                for ns, rows in self._checkpoints[source].items()
            }
            # Re-encoded, not just relabelled: an authenticating serde binds values to the thread.
            self._blobs[target] = {
                key: _core.rebind_blob(self.serde, blob, target)
                for key, blob in self._blobs.get(source, {}).items()
            }
            self._writes[target] = {
                key: {wk: _core.rebind_write(self.serde, w, target) for wk, w in bucket.items()}
                for key, bucket in self._writes.get(source, {}).items()
            }

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.check_strategy(strategy)
        threads = [validate_key("thread_id", t) for t in thread_ids]
        with self._lock:
            for thread_id in threads:
                if strategy == "delete":
                    self.delete_thread(thread_id)
                    continue
                spaces = self._checkpoints.get(thread_id, {})
                for ns, rows in spaces.items():
                    if not rows:
                        continue
                    keep = max(rows)
                    kept = rows[keep]
                    spaces[ns] = {keep: _with_parent(kept, None)}
                self._drop_orphans(thread_id)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        doomed_runs = {validate_key("run_id", r) for r in run_ids}
        if not doomed_runs:
            return
        with self._lock:
            for thread_id, spaces in self._checkpoints.items():
                touched = False
                for rows in spaces.values():
                    doomed = [cid for cid, row in rows.items() if row.run_id in doomed_runs]
                    if not doomed:
                        continue
                    touched = True
                    parents = {cid: row.parent_checkpoint_id for cid, row in rows.items()}
                    for cid, parent in _core.reparent(parents, doomed).items():
                        rows[cid] = _with_parent(rows[cid], parent)
                    for cid in doomed:
                        del rows[cid]
                if touched:
                    self._drop_orphans(thread_id)

    def _drop_orphans(self, thread_id: str) -> None:
        # Writes and values no surviving checkpoint reads are deleted, so storage shrinks.
        spaces = self._checkpoints.get(thread_id, {})
        alive = {(ns, cid) for ns, rows in spaces.items() for cid in rows}
        writes = self._writes.get(thread_id, {})
        for wkey in [k for k in writes if k not in alive]:
            del writes[wkey]
        blobs = self._blobs.get(thread_id, {})
        live = _core.referenced_blobs(
            ((ns, row.checkpoint) for ns, rows in spaces.items() for row in rows.values()), blobs
        )
        for bkey in [k for k in blobs if k not in live]:
            del blobs[bkey]

    def acquire_run(self, thread_id: str, *, owner: str | None = None) -> RunLease:
        """Hold ``thread_id`` for one run (capability ``exclusive_runs``); a held thread
        raises ``ThreadBusyError`` at once."""
        return self._runs.acquire(thread_id, owner)

    async def aacquire_run(self, thread_id: str, *, owner: str | None = None) -> RunLease:
        return self._runs.acquire(thread_id, owner)

    # -- async twins ---------------------------------------------------------------------
    async def aput(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def aget_tuple(self, config: Config) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)

    async def alist_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        return self.list_threads(limit=limit, after=after)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.copy_thread(source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.prune(thread_ids, strategy=strategy)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.delete_for_runs(run_ids)


InMemorySaver = MemorySaver


def _retarget(row: Any, thread_id: str) -> Any:
    from dataclasses import replace

    return replace(row, thread_id=thread_id)


def _with_parent(row: CheckpointRow, parent: str | None) -> CheckpointRow:
    from dataclasses import replace

    return replace(row, parent_checkpoint_id=parent)
