"""Checkpoint data model, config helpers and the saver protocol (LangGraph v4 shapes)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal, NamedTuple, Protocol, TypedDict, runtime_checkable

from checkpointkit.ids import NULL_TASK_ID, new_checkpoint_id

__all__ = [
    "ERROR",
    "EXCLUDED_METADATA_KEYS",
    "INTERRUPT",
    "MAX_ID_BYTES",
    "MAX_KEY_BYTES",
    "NULL_TASK_ID",
    "RESUME",
    "SCHEDULED",
    "WRITES_IDX_MAP",
    "AsyncCheckpointSaver",
    "ChannelVersions",
    "Checkpoint",
    "CheckpointMetadata",
    "CheckpointSaver",
    "CheckpointTuple",
    "Config",
    "PendingWrite",
    "checkpoint_config",
    "copy_checkpoint",
    "empty_checkpoint",
    "merged_metadata",
    "validate_key",
    "validate_metadata",
    "write_index",
]

Config = dict[str, Any]
"""A run config: ``{"configurable": {"thread_id", "checkpoint_ns", "checkpoint_id"}, ...}``."""

Version = str | int | float
ChannelVersions = dict[str, Version]
PendingWrite = tuple[str, str, Any]
"""``(task_id, channel, value)``."""

ERROR = "__error__"
SCHEDULED = "__scheduled__"
INTERRUPT = "__interrupt__"
RESUME = "__resume__"
# Special channels are stored at fixed negative indices, so a task holds at most one of each.
WRITES_IDX_MAP: dict[str, int] = {ERROR: -1, SCHEDULED: -2, INTERRUPT: -3, RESUME: -4}

# Limits in UTF-8 bytes; chosen so that a write's whole primary key fits a PostgreSQL
# b-tree entry (2704 bytes) on every backend, and enforced identically everywhere.
MAX_KEY_BYTES = 1024
MAX_ID_BYTES = 256

EXCLUDED_METADATA_KEYS = frozenset(
    {
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    }
)


class Checkpoint(TypedDict):
    """A snapshot of every channel at the end of a super-step."""

    v: int
    id: str
    ts: str
    channel_values: dict[str, Any]
    channel_versions: ChannelVersions
    versions_seen: dict[str, ChannelVersions]
    updated_channels: list[str] | None


class CheckpointMetadata(TypedDict, total=False):
    """Metadata stored beside a checkpoint; open for more keys."""

    source: Literal["input", "loop", "update", "fork"]
    step: int
    parents: dict[str, str]
    run_id: str


class CheckpointTuple(NamedTuple):
    """What a saver returns for one stored checkpoint."""

    config: Config
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    parent_config: Config | None = None
    pending_writes: list[PendingWrite] | None = None


def empty_checkpoint() -> Checkpoint:
    """A fresh checkpoint with no channels, a new id and the current time."""
    return Checkpoint(
        v=4,
        id=new_checkpoint_id(),
        ts=datetime.now(timezone.utc).isoformat(),
        channel_values={},
        channel_versions={},
        versions_seen={},
        updated_channels=None,
    )


def copy_checkpoint(checkpoint: Checkpoint) -> Checkpoint:
    """A copy whose containers can be changed without touching the original."""
    return Checkpoint(
        v=checkpoint["v"],
        id=checkpoint["id"],
        ts=checkpoint["ts"],
        channel_values=dict(checkpoint["channel_values"]),
        channel_versions=dict(checkpoint["channel_versions"]),
        versions_seen={k: dict(v) for k, v in checkpoint["versions_seen"].items()},
        updated_channels=(
            None
            if checkpoint.get("updated_channels") is None
            else list(checkpoint["updated_channels"] or [])
        ),
    )


def checkpoint_config(
    thread_id: str, checkpoint_ns: str = "", checkpoint_id: str | None = None
) -> Config:
    """The normalised config every saver returns."""
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def write_index(channel: str, position: int) -> int:
    """Storage index of a write: special channels at their fixed negative index."""
    return WRITES_IDX_MAP.get(channel, position)


def validate_key(what: str, value: object, max_bytes: int = MAX_KEY_BYTES) -> str:
    """Check a key (thread id, namespace, checkpoint id, task id, channel) and return it.

    Keys must be strings that every backend can store and index: valid UTF-8 (no lone
    surrogates), no NUL character, at most ``max_bytes`` bytes. Ints are accepted as thread
    ids and converted with ``str`` because LangGraph's engine does the same.
    """
    if isinstance(value, int) and not isinstance(value, bool) and what == "thread_id":
        value = str(value)
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError(f"{what} must not contain a NUL character: {value[:64]!r}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{what} is not valid Unicode (lone surrogate at position {exc.start}): {value[:64]!r}"
        ) from None
    if size > max_bytes:
        raise ValueError(f"{what} is {size} bytes in UTF-8; the limit is {max_bytes} bytes")
    return value


_JSON_SCALARS = (str, int, float, bool, type(None))
_MAX_INT = 2**63 - 1
_MIN_INT = -(2**63)


def _check_json(path: str, value: Any, depth: int = 0) -> Any:
    if depth > 64:
        raise ValueError(f"metadata {path} is nested more than 64 levels deep")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not _MIN_INT <= value <= _MAX_INT:
            raise ValueError(f"metadata {path} is an int outside the signed 64-bit range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"metadata {path} is {value!r}; metadata floats must be finite")
        return value
    if isinstance(value, str):
        return validate_key(f"metadata {path}", value, max_bytes=2**31)
    if isinstance(value, list | tuple):
        return [_check_json(f"{path}[{i}]", v, depth + 1) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"metadata {path} has a non-str key {k!r}")
            validate_key(f"metadata key {path}.{k}", k, max_bytes=MAX_KEY_BYTES)
            out[k] = _check_json(f"{path}.{k}", v, depth + 1)
        return out
    raise TypeError(
        f"metadata {path} has type {type(value).__name__}; metadata values must be JSON "
        "(None, bool, int, float, str, list, dict with str keys)"
    )


def validate_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Return metadata as plain JSON data, or raise naming the offending key.

    Tuples become lists (the one documented normalisation); anything that is not JSON, NaN,
    infinities, ints beyond 64 bits, NUL characters and lone surrogates are rejected, so
    every backend stores exactly the same thing.
    """
    return _check_json("", dict(metadata))  # type: ignore[no-any-return]


def merged_metadata(config: Config, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata as stored: explicit keys, then scalar ``config["metadata"]``, then scalar
    ``configurable`` entries; engine-internal and ``__``-prefixed keys are never copied."""
    merged = dict(metadata)
    for source in (config.get("metadata") or {}, config.get("configurable") or {}):
        for key, value in source.items():
            if (
                key in merged
                or key in EXCLUDED_METADATA_KEYS
                or not isinstance(key, str)
                or key.startswith("__")
                or not isinstance(value, _JSON_SCALARS)
                or value is None
            ):
                continue
            merged[key] = value
    return validate_metadata(merged)


@runtime_checkable
class CheckpointSaver(Protocol):
    """The synchronous saver contract (spec chapter ``saver-contract``)."""

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config: ...

    def put_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None: ...

    def get_tuple(self, config: Config) -> CheckpointTuple | None: ...

    def list(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]: ...

    def delete_thread(self, thread_id: str) -> None: ...

    def get_next_version(self, current: Version | None, channel: None) -> Version: ...


@runtime_checkable
class AsyncCheckpointSaver(Protocol):
    """The asynchronous twin of :class:`CheckpointSaver`."""

    async def aput(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config: ...

    async def aput_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None: ...

    async def aget_tuple(self, config: Config) -> CheckpointTuple | None: ...

    def alist(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]: ...

    async def adelete_thread(self, thread_id: str) -> None: ...
