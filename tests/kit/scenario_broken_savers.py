"""Broken savers that pass every saver-contract test and fail only when an engine drives them."""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from checkpointkit.backends import _core
from checkpointkit.backends.memory import MemorySaver
from checkpointkit.checkpoint import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    Config,
    checkpoint_config,
)
from checkpointkit.serde import JsonSerializer

__all__ = [
    "CloseOnlyFileSaver",
    "DataclassFlatteningSaver",
    "StepOrderedLatestSaver",
    "WriteThroughFileSaver",
]


class StepOrderedLatestSaver(MemorySaver):
    """Picks "latest" as the greatest ``metadata.step`` (ties by id), like a table read with
    ``ORDER BY step DESC, checkpoint_id DESC``.

    Every hand-built history has steps that grow with the ids, forks included, so the contract
    cannot tell. An engine fork (``update_state`` on a past checkpoint, step 2) is newer than
    the old head (step 3) but loses to it: the thread silently stays on the old branch.
    """

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        thread_id, ns, checkpoint_id = _core.read_scope(config, "get_tuple")
        if checkpoint_id is None:
            with self._lock:
                rows = list(self._checkpoints.get(thread_id, {}).get(ns, {}).values())
            if rows:
                best = max(
                    rows, key=lambda r: (r.step if r.step is not None else -2, r.checkpoint_id)
                )
                config = checkpoint_config(thread_id, ns, best.checkpoint_id)
        return super().get_tuple(config)


def _flatten(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _flatten(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [_flatten(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_flatten(v) for v in value)
    if isinstance(value, dict):
        return {k: _flatten(v) for k, v in value.items()}
    return value


class _FlatteningSerializer(JsonSerializer):
    """The ``json.dumps(default=asdict)`` habit: dataclass instances are stored as dicts."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        return super().dumps_typed(_flatten(obj))


class DataclassFlatteningSaver(MemorySaver):
    """Stores dataclass instances as plain dicts.

    The contract's values are builtins, so it passes; an engine stores its own objects
    (``Send`` in pending writes, ``Interrupt`` in ``__interrupt__`` writes, ``Overwrite`` in a
    stored input), and they come back as dicts.
    """

    def __init__(self) -> None:
        super().__init__(serde=_FlatteningSerializer())


class _FileSaver(MemorySaver):
    """A memory saver whose state lives in one pickle file."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = Path(path)
        if self._path.exists():
            self._checkpoints, self._blobs, self._writes = pickle.loads(self._path.read_bytes())

    def _flush(self) -> None:
        with self._lock:
            tmp = self._path.with_name(self._path.name + f".{os.getpid()}.tmp")
            tmp.write_bytes(pickle.dumps((self._checkpoints, self._blobs, self._writes)))
            os.replace(tmp, self._path)


class CloseOnlyFileSaver(_FileSaver):
    """Writes its file when closed, like a write-back cache flushed at shutdown.

    A new instance, or another process, sees everything once the first one is closed, so it
    passes PER-001 and PER-002; a process killed mid-run leaves nothing to resume from.
    """

    def close(self) -> None:
        self._flush()


class WriteThroughFileSaver(_FileSaver):
    """Not broken (the control): the file is rewritten, atomically, after every change."""

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        with self._lock:
            stored = super().put(config, checkpoint, metadata, new_versions)
            self._flush()
            return stored

    def put_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        with self._lock:
            super().put_writes(config, writes, task_id, task_path)
            self._flush()

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            super().delete_thread(thread_id)
            self._flush()

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        with self._lock:
            super().copy_thread(source_thread_id, target_thread_id)
            self._flush()

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        with self._lock:
            super().prune(thread_ids, strategy=strategy)
            self._flush()

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        with self._lock:
            super().delete_for_runs(run_ids)
            self._flush()
