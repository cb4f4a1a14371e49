"""Backend-neutral storage logic: validation, row shapes, write rules, append deltas, reads.

Every backend (memory, SQLite, PostgreSQL, DuckDB) goes through these functions, so the
rules of the spec live in one place and a backend only moves rows in and out of storage.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from checkpointkit.checkpoint import (
    MAX_ID_BYTES,
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    Config,
    PendingWrite,
    checkpoint_config,
    merged_metadata,
    validate_key,
    validate_metadata,
)
from checkpointkit.ids import version_number
from checkpointkit.serde.base import (
    DeserializationError,
    SerializerProtocol,
    dumps_bound,
    loads_bound,
)

__all__ = [
    "KIND_DELTA",
    "KIND_EMPTY",
    "KIND_VALUE",
    "BlobRow",
    "CheckpointRow",
    "CorruptCheckpointError",
    "DeltaEncoder",
    "PreparedPut",
    "WriteRow",
    "as_full",
    "before_id",
    "blob_context",
    "check_limit",
    "delta_ranges",
    "dump_metadata",
    "filter_matches",
    "list_scope",
    "load_metadata",
    "prepare_put",
    "prepare_writes",
    "read_scope",
    "rebind_blob",
    "rebind_write",
    "resolve_channel_values",
    "to_tuple",
    "validate_filter",
    "write_context",
]

KIND_VALUE = "value"
KIND_EMPTY = "empty"
KIND_DELTA = "delta"


class CorruptCheckpointError(ValueError):
    """A stored row cannot be loaded; the message names thread, namespace, checkpoint, channel."""


# -- rows ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    checkpoint: bytes  # JSON of the checkpoint without channel_values
    metadata: bytes  # JSON of the merged metadata
    source: str | None
    step: int | None
    run_id: str | None


@dataclass(frozen=True, slots=True)
class BlobRow:
    """One channel value at one version; ``delta`` rows hold only the appended items."""

    thread_id: str
    checkpoint_ns: str
    channel: str
    version: str
    seq: int  # integer part of the version: orders a channel's versions
    kind: str  # value | empty | delta
    type: str | None
    data: bytes | None
    base_version: str | None = None  # delta: the version whose value this one extends
    snapshot_seq: int | None = None  # delta: seq of the full value the chain starts from


@dataclass(frozen=True, slots=True)
class WriteRow:
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    task_id: str
    idx: int
    channel: str
    type: str
    data: bytes
    task_path: str

    @property
    def special(self) -> bool:
        """Special writes (negative idx) are last-wins; regular ones first-wins."""
        return self.idx < 0


@dataclass(frozen=True, slots=True)
class PreparedPut:
    row: CheckpointRow
    blobs: list[BlobRow]
    full_lists: dict[tuple[str, str], bytes]  # (channel, version) -> full JSON of list values


# -- storage places (bound into ciphertexts by authenticating serializers) ------------------


def blob_context(thread_id: str, ns: str, channel: str, version: str) -> tuple[str, ...]:
    return ("blob", thread_id, ns, channel, version)


def write_context(
    thread_id: str, ns: str, checkpoint_id: str, task_id: str, channel: str
) -> tuple[str, ...]:
    return ("write", thread_id, ns, checkpoint_id, task_id, channel)


def _load_blob(serde: SerializerProtocol, row: BlobRow) -> Any:
    context = blob_context(row.thread_id, row.checkpoint_ns, row.channel, row.version)
    return loads_bound(serde, (row.type or "", row.data or b""), context)


def rebind_blob(serde: SerializerProtocol, row: BlobRow, thread_id: str) -> BlobRow:
    """The row re-encoded for another thread (copy_thread under an authenticating serde)."""
    if row.kind == KIND_EMPTY or not hasattr(serde, "dumps_typed_bound"):
        return dataclasses.replace(row, thread_id=thread_id)
    value = _load_blob(serde, row)
    tag, data = dumps_bound(
        serde, value, blob_context(thread_id, row.checkpoint_ns, row.channel, row.version)
    )
    return dataclasses.replace(row, thread_id=thread_id, type=tag, data=data)


def rebind_write(serde: SerializerProtocol, row: WriteRow, thread_id: str) -> WriteRow:
    """The write re-encoded for another thread (copy_thread under an authenticating serde)."""
    if not hasattr(serde, "dumps_typed_bound"):
        return dataclasses.replace(row, thread_id=thread_id)
    old = write_context(
        row.thread_id, row.checkpoint_ns, row.checkpoint_id, row.task_id, row.channel
    )
    value = loads_bound(serde, (row.type, row.data), old)
    new = write_context(thread_id, row.checkpoint_ns, row.checkpoint_id, row.task_id, row.channel)
    tag, data = dumps_bound(serde, value, new)
    return dataclasses.replace(row, thread_id=thread_id, type=tag, data=data)


# -- validation ---------------------------------------------------------------------------


def _configurable(config: Config | None, method: str) -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise TypeError(f"{method}: config must be a dict, got {type(config).__name__}")
    configurable = config.get("configurable")
    if not isinstance(configurable, Mapping):
        raise ValueError(f"{method}: config has no 'configurable' dict")
    return dict(configurable)


def read_scope(config: Config, method: str) -> tuple[str, str, str | None]:
    """``(thread_id, checkpoint_ns, checkpoint_id)`` of a config addressing one thread."""
    c = _configurable(config, method)
    if "thread_id" not in c:
        raise ValueError(f"{method}: config['configurable'] has no 'thread_id'")
    thread_id = validate_key("thread_id", c["thread_id"])
    ns = validate_key("checkpoint_ns", c.get("checkpoint_ns") or "")
    checkpoint_id = c.get("checkpoint_id")
    if checkpoint_id is not None:
        checkpoint_id = validate_key("checkpoint_id", checkpoint_id, MAX_ID_BYTES)
    return thread_id, ns, checkpoint_id


def list_scope(config: Config | None) -> tuple[str | None, str | None, str | None]:
    """Scope of ``list``: ``None`` for thread or namespace means every one."""
    if config is None:
        return None, None, None
    c = _configurable(config, "list")
    thread_id = c.get("thread_id")
    if thread_id is not None:
        thread_id = validate_key("thread_id", thread_id)
    ns = c.get("checkpoint_ns")
    if ns is not None:
        ns = validate_key("checkpoint_ns", ns)
    checkpoint_id = c.get("checkpoint_id")
    if checkpoint_id is not None:
        checkpoint_id = validate_key("checkpoint_id", checkpoint_id, MAX_ID_BYTES)
    return thread_id, ns, checkpoint_id


def before_id(before: Config | None) -> str | None:
    if before is None:
        return None
    c = _configurable(before, "list(before=...)")
    value = c.get("checkpoint_id")
    if value is None:
        raise ValueError("list: 'before' config has no checkpoint_id")
    return validate_key("before checkpoint_id", value, MAX_ID_BYTES)


def check_limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"list: limit must be an int or None, got {type(limit).__name__}")
    if limit < 0:
        raise ValueError(f"list: limit must be >= 0 or None, got {limit}")
    return limit


def validate_filter(filter: Mapping[str, Any] | None) -> dict[str, Any]:
    """Filters are exact-equality on top-level metadata keys; values must be JSON."""
    if not filter:
        return {}
    if not isinstance(filter, Mapping):
        raise TypeError(f"list: filter must be a dict, got {type(filter).__name__}")
    return validate_metadata(filter)


def _json_equal(a: Any, b: Any) -> bool:
    # JSON equality: bools are not numbers, numbers compare by value, lists by order.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def filter_matches(metadata: Mapping[str, Any], filter: Mapping[str, Any]) -> bool:
    """True when every filter key is present in ``metadata`` with an equal JSON value."""
    return all(k in metadata and _json_equal(metadata[k], v) for k, v in filter.items())


def dump_metadata(metadata: Mapping[str, Any]) -> bytes:
    return orjson.dumps(metadata, option=orjson.OPT_SORT_KEYS)


def load_metadata(data: bytes | str) -> dict[str, Any]:
    loaded = orjson.loads(data)
    if not isinstance(loaded, dict):
        raise ValueError("stored metadata is not a JSON object")
    return loaded


# -- write path ---------------------------------------------------------------------------


def prepare_put(
    serde: SerializerProtocol,
    config: Config,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata | Mapping[str, Any],
    new_versions: ChannelVersions,
    delta: DeltaEncoder | None = None,
) -> PreparedPut:
    """Validate a ``put`` and turn it into one checkpoint row and the blob rows it adds."""
    thread_id, ns, parent_id = read_scope(config, "put")
    if not isinstance(checkpoint, Mapping):
        raise TypeError(f"put: checkpoint must be a dict, got {type(checkpoint).__name__}")
    checkpoint_id = validate_key("checkpoint['id']", checkpoint.get("id"), MAX_ID_BYTES)
    versions = checkpoint.get("channel_versions") or {}
    for channel, version in versions.items():
        validate_key("channel name", channel)
        version_number(version)
    for channel, version in (new_versions or {}).items():
        validate_key("channel name", channel)
        version_number(version)
    stored_meta = merged_metadata(config, metadata or {})
    values: Mapping[str, Any] = checkpoint.get("channel_values") or {}
    blobs: list[BlobRow] = []
    full_lists: dict[tuple[str, str], bytes] = {}
    for channel in _channels_to_store(values, versions, new_versions or {}):
        found = (new_versions or {}).get(channel, versions.get(channel))
        assert found is not None
        version = found
        vkey = str(version)
        seq = version_number(version)
        if channel not in values:
            blobs.append(BlobRow(thread_id, ns, channel, vkey, seq, KIND_EMPTY, None, None))
            continue
        try:
            tag, data = dumps_bound(
                serde, values[channel], blob_context(thread_id, ns, channel, vkey)
            )
        except TypeError as exc:
            raise TypeError(f"put: channel {channel!r}: {exc}") from None
        if tag == "json" and data.startswith(b"["):
            full_lists[(channel, vkey)] = data
        if delta is not None:
            blobs.append(delta.encode(thread_id, ns, channel, vkey, seq, tag, data))
        else:
            blobs.append(BlobRow(thread_id, ns, channel, vkey, seq, KIND_VALUE, tag, data))
    body = {k: v for k, v in checkpoint.items() if k != "channel_values"}
    body["channel_versions"] = dict(versions)
    try:
        body_bytes = orjson.dumps(body)
    except TypeError as exc:
        raise TypeError(f"put: checkpoint fields must be JSON: {exc}") from None
    step = stored_meta.get("step")
    run_id = stored_meta.get("run_id")
    row = CheckpointRow(
        thread_id=thread_id,
        checkpoint_ns=ns,
        checkpoint_id=checkpoint_id,
        parent_checkpoint_id=parent_id,
        checkpoint=body_bytes,
        metadata=dump_metadata(stored_meta),
        source=stored_meta.get("source") if isinstance(stored_meta.get("source"), str) else None,
        step=step if isinstance(step, int) and not isinstance(step, bool) else None,
        run_id=run_id if isinstance(run_id, str) else None,
    )
    return PreparedPut(row, blobs, full_lists)


def _channels_to_store(
    values: Mapping[str, Any], versions: Mapping[str, Any], new_versions: Mapping[str, Any]
) -> list[str]:
    # new_versions says what changed; a value whose version is known but not listed as new is
    # stored too (first-wins), so callers that pass an empty new_versions lose nothing.
    seen = dict.fromkeys(new_versions)
    for channel in values:
        if channel in versions:
            seen.setdefault(channel)
    return list(seen)


def prepare_writes(
    serde: SerializerProtocol,
    config: Config,
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str = "",
) -> list[WriteRow]:
    """Validate a ``put_writes`` call; every value is serialized before anything is stored."""
    thread_id, ns, checkpoint_id = read_scope(config, "put_writes")
    if checkpoint_id is None:
        raise ValueError("put_writes: config['configurable'] has no 'checkpoint_id'")
    task_id = validate_key("task_id", task_id, MAX_ID_BYTES)
    task_path = validate_key("task_path", task_path or "")
    rows: list[WriteRow] = []
    for position, item in enumerate(writes):
        channel, value = item
        validate_key("channel name", channel)
        try:
            tag, data = dumps_bound(
                serde, value, write_context(thread_id, ns, checkpoint_id, task_id, channel)
            )
        except TypeError as exc:
            raise TypeError(f"put_writes: channel {channel!r}: {exc}") from None
        idx = WRITES_IDX_MAP.get(channel, position)
        rows.append(
            WriteRow(thread_id, ns, checkpoint_id, task_id, idx, channel, tag, data, task_path)
        )
    return _last_special_wins(rows)


def _last_special_wins(rows: list[WriteRow]) -> list[WriteRow]:
    # Within one call a special channel written twice keeps its last value.
    out: dict[tuple[str, int], WriteRow] = {}
    for row in rows:
        key = (row.task_id, row.idx)
        if row.special or key not in out:
            out[key] = row
    return list(out.values())


# -- append deltas ------------------------------------------------------------------------


class DeltaEncoder:
    """Stores a list value that extends a recent version as only its appended items.

    Works on serialized JSON bytes: ``[a,b]`` extended to ``[a,b,c]`` is stored as ``[c]``
    plus the base version. A full snapshot is written every ``snapshot_every`` versions so
    a read touches a bounded number of rows. The cache holds the last value this saver
    stored per (thread, namespace, channel); a backend must call :meth:`remember` only
    after the row is durably stored, and :meth:`forget` when a thread's rows go away.
    """

    def __init__(self, snapshot_every: int = 32, cache_size: int = 2048) -> None:
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be >= 1")
        self.snapshot_every = snapshot_every
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str, str], tuple[str, int, bytes, int, int]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def encode(
        self, thread_id: str, ns: str, channel: str, version: str, seq: int, tag: str, data: bytes
    ) -> BlobRow:
        full = BlobRow(thread_id, ns, channel, version, seq, KIND_VALUE, tag, data)
        if tag != "json" or not data.startswith(b"["):
            return full
        with self._lock:
            cached = self._cache.get((thread_id, ns, channel))
        if cached is None:
            return full
        base_version, base_seq, base_data, depth, snapshot_seq = cached
        if base_seq >= seq or depth + 1 >= self.snapshot_every:
            return full
        appended = _appended_items(base_data, data)
        if appended is None:
            return full
        return BlobRow(
            thread_id, ns, channel, version, seq, KIND_DELTA, tag, appended,
            base_version=base_version, snapshot_seq=snapshot_seq,
        )  # fmt: skip

    def remember(self, prepared: PreparedPut) -> None:
        """Record the rows of a put that is now durably stored."""
        full_data = prepared.full_lists
        with self._lock:
            for row in prepared.blobs:
                if row.kind == KIND_EMPTY or row.type != "json":
                    continue
                data = full_data.get((row.channel, row.version))
                if data is None or not data.startswith(b"["):
                    continue
                key = (row.thread_id, row.checkpoint_ns, row.channel)
                if row.kind == KIND_DELTA:
                    cached = self._cache.get(key)
                    depth = cached[3] + 1 if cached and cached[0] == row.base_version else None
                    if depth is None:
                        self._cache.pop(key, None)
                        continue
                    snapshot_seq = row.snapshot_seq
                else:
                    depth, snapshot_seq = 0, row.seq
                assert snapshot_seq is not None
                self._cache[key] = (row.version, row.seq, data, depth, snapshot_seq)
                self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def forget(self, thread_ids: Iterable[str] | None = None) -> None:
        with self._lock:
            if thread_ids is None:
                self._cache.clear()
                return
            doomed = set(thread_ids)
            for key in [k for k in self._cache if k[0] in doomed]:
                del self._cache[key]


def _appended_items(base: bytes, new: bytes) -> bytes | None:
    """``[new items]`` if ``new`` is the JSON list ``base`` with items appended, else None."""
    if len(new) <= len(base) or not base.endswith(b"]"):
        return None
    head = base[:-1]
    if not new.startswith(head):
        return None
    if head == b"[":
        return new  # the base was empty: every item is new
    if new[len(head) : len(head) + 1] != b",":
        return None
    return b"[" + new[len(head) + 1 :]


def as_full(prepared: PreparedPut, row: BlobRow) -> BlobRow:
    """The full-value form of a delta row, used when its base turns out to be gone."""
    if row.kind != KIND_DELTA:
        return row
    data = prepared.full_lists[(row.channel, row.version)]
    return BlobRow(
        row.thread_id, row.checkpoint_ns, row.channel, row.version, row.seq,
        KIND_VALUE, row.type, data,
    )  # fmt: skip


# -- read path ----------------------------------------------------------------------------


def delta_ranges(rows: Iterable[BlobRow]) -> list[tuple[str, int, int]]:
    """``(channel, from_seq, to_seq)`` ranges a backend must fetch to rebuild delta rows."""
    return [
        (r.channel, r.snapshot_seq, r.seq)
        for r in rows
        if r.kind == KIND_DELTA and r.snapshot_seq is not None
    ]


def resolve_channel_values(
    serde: SerializerProtocol,
    versions: Mapping[str, Any],
    rows: Iterable[BlobRow],
    where: str,
) -> dict[str, Any]:
    """Channel values of a checkpoint from its blob rows (plus any delta chain rows)."""
    by_key = {(r.channel, r.version): r for r in rows}
    values: dict[str, Any] = {}
    for channel, version in versions.items():
        row = by_key.get((channel, str(version)))
        if row is None or row.kind == KIND_EMPTY:
            continue
        try:
            if row.kind == KIND_DELTA:
                values[channel] = _rebuild_delta(serde, row, by_key)
            else:
                values[channel] = _load_blob(serde, row)
        except (DeserializationError, ValueError, KeyError, TypeError) as exc:
            raise CorruptCheckpointError(
                f"cannot load channel {channel!r} of {where}: {exc}"
            ) from None
    return values


def _rebuild_delta(
    serde: SerializerProtocol, row: BlobRow, by_key: Mapping[tuple[str, str], BlobRow]
) -> Any:
    chain = [row]
    while chain[-1].kind == KIND_DELTA:
        base = by_key.get((row.channel, chain[-1].base_version or ""))
        if base is None:
            raise ValueError(f"delta base version {chain[-1].base_version!r} is missing")
        if len(chain) > 100_000:
            raise ValueError("delta chain does not end")
        chain.append(base)
    value = _load_blob(serde, chain[-1])
    if not isinstance(value, list):
        raise ValueError("delta chain does not start from a list")
    for link in reversed(chain[:-1]):
        items = _load_blob(serde, link)
        if not isinstance(items, list):
            raise ValueError("delta row does not hold a list")
        value.extend(items)
    return value


def to_tuple(
    serde: SerializerProtocol,
    row: CheckpointRow,
    blobs: Iterable[BlobRow],
    writes: Iterable[WriteRow],
) -> CheckpointTuple:
    """Build the returned tuple; every container in it is fresh (never aliases storage)."""
    where = (
        f"checkpoint {row.checkpoint_id!r} (thread {row.thread_id!r}, "
        f"namespace {row.checkpoint_ns!r})"
    )
    try:
        body = orjson.loads(row.checkpoint)
        metadata = load_metadata(row.metadata)
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise CorruptCheckpointError(f"cannot load {where}: {exc}") from None
    body["channel_values"] = resolve_channel_values(
        serde, body.get("channel_versions") or {}, blobs, where
    )
    pending: list[PendingWrite] = []
    for w in sorted(writes, key=lambda w: (w.task_id, w.idx)):
        try:
            value = loads_bound(
                serde,
                (w.type, w.data),
                write_context(w.thread_id, w.checkpoint_ns, w.checkpoint_id, w.task_id, w.channel),
            )
        except (DeserializationError, ValueError, TypeError) as exc:
            raise CorruptCheckpointError(
                f"cannot load write {w.channel!r} of task {w.task_id!r} on {where}: {exc}"
            ) from None
        pending.append((w.task_id, w.channel, value))
    parent = (
        checkpoint_config(row.thread_id, row.checkpoint_ns, row.parent_checkpoint_id)
        if row.parent_checkpoint_id is not None
        else None
    )
    return CheckpointTuple(
        config=checkpoint_config(row.thread_id, row.checkpoint_ns, row.checkpoint_id),
        checkpoint=body,
        metadata=metadata,  # type: ignore[arg-type]
        parent_config=parent,
        pending_writes=pending,
    )


# -- lifecycle helpers --------------------------------------------------------------------


def reparent(parents: Mapping[str, str | None], doomed: Iterable[str]) -> dict[str, str | None]:
    """New parents for survivors whose parent is deleted: the nearest surviving ancestor."""
    gone = set(doomed)
    out: dict[str, str | None] = {}
    for cid, parent in parents.items():
        if cid in gone or parent not in gone:
            continue
        seen: set[str] = set()
        while parent is not None and parent in gone and parent not in seen:
            seen.add(parent)
            parent = parents.get(parent)
        out[cid] = None if parent in gone else parent
    return out


def referenced_blobs(
    bodies: Iterable[tuple[str, bytes]],
    blobs: Mapping[tuple[str, str, str], BlobRow],
) -> set[tuple[str, str, str]]:
    """Keys ``(ns, channel, version)`` that surviving checkpoints still read, delta bases too."""
    live: set[tuple[str, str, str]] = set()
    for ns, body in bodies:
        versions = orjson.loads(body).get("channel_versions") or {}
        for channel, version in versions.items():
            key = (ns, channel, str(version))
            while key in blobs and key not in live:
                live.add(key)
                row = blobs[key]
                if row.kind != KIND_DELTA or row.base_version is None:
                    break
                key = (ns, channel, row.base_version)
    return live
