"""Tampered and corrupted rows: rewritten bytes, tags and payloads must fail loudly and run nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import os
import pickle
import tempfile
import uuid
from typing import Any, Protocol, runtime_checkable

import pytest

from checkpointkit.conformance.capabilities import Capability
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter
from checkpointkit.conformance.reliability.figures import record_figure

__all__ = [
    "Mutation",
    "StoredValue",
    "Tamper",
    "TamperTests",
    "mutations",
]


@dataclasses.dataclass(frozen=True)
class StoredValue:
    """One stored value row: a channel value (``kind="blob"``) or a pending write."""

    kind: str  # "blob" | "write"
    thread_id: str
    checkpoint_ns: str
    channel: str
    type_tag: str | None
    data: bytes | None
    version: str | None = None  # blob: the channel version it holds
    checkpoint_id: str | None = None  # write: the checkpoint it is attached to
    task_id: str | None = None  # write
    idx: int | None = None  # write


@runtime_checkable
class Tamper(Protocol):
    """What the saver author's ``tamper`` fixture returns (capability ``tamper``)."""

    def stored_values(self, thread_id: str) -> list[StoredValue]:
        """Every value row of the thread, in every namespace, as stored (tag and bytes)."""
        ...

    def overwrite(self, stored: StoredValue, type_tag: str, data: bytes) -> None:
        """Replace the tag and bytes of that one row in storage, bypassing the saver."""
        ...


@dataclasses.dataclass(frozen=True)
class Mutation:
    name: str
    tag: str | None  # None: keep the stored tag
    data: bytes | None  # None: derived from the stored bytes by ``derive``
    derive: str = ""  # flip | truncate | empty
    must_fail: bool = False  # an error is the only acceptable outcome


def _msgpack_str(s: str) -> bytes:
    raw = s.encode()
    if len(raw) < 32:
        return bytes([0xA0 | len(raw)]) + raw
    return bytes([0xD9, len(raw)]) + raw


def _msgpack_ext_call(module: str, name: str, arg: str, code: int = 0) -> bytes:
    """A msgpack ext value whose payload is ``(module, name, arg)``: LangGraph's constructor
    shape that CVE-2026-28277 abused (ext code 0 = single-argument constructor)."""
    payload = bytes([0x93]) + _msgpack_str(module) + _msgpack_str(name) + _msgpack_str(arg)
    return bytes([0xC7, len(payload), code]) + payload


class _Reduce:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


def mutations(sentinel: str) -> list[Mutation]:
    """The rewrites; every code-running payload would create ``sentinel``."""
    touch = f"touch {sentinel}"
    lc = {
        "lc": 2,
        "type": "constructor",
        "id": ["subprocess", "Popen"],
        "kwargs": {"args": ["touch", sentinel]},
        "method": "communicate",
    }
    legacy_lc1 = {"lc": 1, "type": "constructor", "id": ["os", "system"], "kwargs": {"x": touch}}
    ours: list[dict[str, Any]] = [
        {"__ck__": "object", "t": "os.system", "v": touch},
        {"__ck__": "object", "t": "subprocess.Popen", "v": {"args": ["touch", sentinel]}},
        {"__ck__": "enum", "t": "builtins.eval", "v": f"open({sentinel!r}, 'w')"},
    ]
    out = [
        Mutation("flip-first-byte", None, None, "flip"),
        Mutation("truncate-half", None, None, "truncate"),
        Mutation("empty", None, None, "empty"),
        Mutation("tag-os.system", "os.system", touch.encode(), must_fail=True),
        Mutation("tag-subprocess.Popen", "subprocess.Popen", touch.encode(), must_fail=True),
        Mutation(
            "tag-builtins.eval", "builtins.eval", f"open({sentinel!r},'w')".encode(), must_fail=True
        ),
        Mutation("tag-unknown", "x-unknown-tag", b"{}", must_fail=True),
        Mutation("pickle-reduce", "pickle", pickle.dumps(_Reduce(touch))),
        Mutation("msgpack-ext-os.system", "msgpack", _msgpack_ext_call("os", "system", touch)),
        Mutation(
            "msgpack-ext-eval",
            "msgpack",
            _msgpack_ext_call("builtins", "eval", f"open({sentinel!r},'w')", code=1),
        ),
        Mutation("json-lc2-Popen", "json", json.dumps(lc).encode()),
        Mutation("json-lc1-os.system", "json", json.dumps(legacy_lc1).encode()),
    ]
    out += [
        Mutation(f"envelope-{e['t']}", "json", json.dumps(e).encode(), must_fail=True) for e in ours
    ]
    return out


_PLAIN = (
    type(None), bool, int, float, str, bytes, bytearray, list, tuple, dict, set, frozenset,
    dt.datetime, dt.date, dt.time, dt.timedelta, uuid.UUID, decimal.Decimal,
)  # fmt: skip


def _plain(value: Any) -> bool:
    """Only data: JSON-like containers and the serializer's built-in scalar types."""
    if type(value) not in _PLAIN:
        return False
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return all(_plain(v) for v in value)
    return True


def _derive(m: Mutation, stored: StoredValue) -> tuple[str, bytes]:
    tag = m.tag if m.tag is not None else (stored.type_tag or "")
    if m.data is not None:
        return tag, m.data
    data = stored.data or b""
    if m.derive == "flip":
        return tag, bytes([data[0] ^ 0xFF]) + data[1:] if data else b"\xff"
    if m.derive == "truncate":
        return tag, data[: len(data) // 2]
    return tag, b""


def _store_thread(driver: SaverDriver, thread_id: str) -> Any:
    w = ThreadWriter(driver, thread_id)
    w.put({"doc": {"k": "v", "n": 1}, "text": "hello world", "msgs": ["m0"]})
    cfg = w.put({"doc": {"k": "v2", "n": 2}, "text": "second value", "msgs": ["m0", "m1"]})
    driver.put_writes(cfg, [("wdoc", {"w": [1, 2, 3]}), ("wtext", "pending text")], "task-1")
    return cfg


def _snapshot(driver: SaverDriver, thread_id: str) -> list[tuple[Any, ...]]:
    return [
        (t.config, t.checkpoint, t.metadata, t.parent_config, t.pending_writes)
        for t in driver.list({"configurable": {"thread_id": thread_id}})
    ]


def _targets(tamper: Tamper, head: Any) -> list[StoredValue]:
    """Rows the head checkpoint reads: its channel values (one per channel) and its writes."""
    conf = head.config["configurable"]
    versions = {k: str(v) for k, v in head.checkpoint["channel_versions"].items()}
    rows = [r for r in tamper.stored_values(conf["thread_id"]) if r.data]
    blobs = [
        r
        for r in rows
        if r.kind == "blob" and r.checkpoint_ns == "" and versions.get(r.channel) == r.version
    ]
    writes = [r for r in rows if r.kind == "write" and r.checkpoint_id == conf["checkpoint_id"]]
    picked: dict[str, StoredValue] = {}
    for r in blobs + writes:
        picked.setdefault(r.channel, r)
    return list(picked.values())


def _authenticates(saver: Any) -> bool:
    return hasattr(getattr(saver, "serde", None), "loads_typed_bound")


class TamperTests:
    """SEC-TAMPER: corrupted and rewritten value rows, through the author's ``tamper`` fixture."""

    @pytest.fixture
    def tamper(self) -> Tamper:
        pytest.fail(f"{type(self).__name__} declares tamper=True but gives no `tamper` fixture")

    @pytest.mark.spec("SEC-TAMPER-001", "SEC-TAMPER-002", "SEC-TAMPER-003", "SEC-TAMPER-004")
    @pytest.mark.requires(Capability.TAMPER, Capability.SYNC)
    def test_tampered_rows(self, saver: Any, tamper: Tamper, ck_saver_name: str) -> None:
        assert isinstance(tamper, Tamper), "the tamper fixture must implement Tamper"
        driver = SaverDriver(saver, "sync")
        authenticated = _authenticates(driver.saver)
        bystander = f"bystander-{uuid.uuid4()}"
        _store_thread(driver, bystander)
        untouched = _snapshot(driver, bystander)
        counts = {"rewrites": 0, "rejected": 0, "read_as_data": 0}
        with tempfile.TemporaryDirectory(prefix="ck-tamper-") as tmp:
            sentinel = os.path.join(tmp, "code-ran")
            for mutation in mutations(sentinel):
                thread_id = f"tamper-{mutation.name}-{uuid.uuid4()}"
                cfg = _store_thread(driver, thread_id)
                head = driver.get_tuple(cfg)
                assert head is not None
                targets = _targets(tamper, head)
                kinds = {t.kind for t in targets}
                assert kinds == {"blob", "write"}, f"tamper fixture found rows {targets!r}"
                for target in targets:
                    original = (target.type_tag or "", target.data or b"")
                    tag, data = _derive(mutation, target)
                    tamper.overwrite(target, tag, data)
                    counts["rewrites"] += 1
                    where = f"{mutation.name} on {target.kind} {target.channel!r}"
                    outcome = _load(driver, cfg, head, target)
                    assert not os.path.exists(sentinel), f"{where}: the payload ran code"
                    if isinstance(outcome, BaseException):
                        counts["rejected"] += 1
                        _check_error(outcome, thread_id, head, target, where)
                    else:
                        assert not (mutation.must_fail or authenticated), (
                            f"{where}: the rewritten row loaded as {outcome!r}"
                        )
                        assert _plain(outcome), f"{where}: loaded a non-data value {outcome!r}"
                        counts["read_as_data"] += 1
                    tamper.overwrite(target, *original)
                    assert driver.get_tuple(cfg) == head, f"{where}: restoring the row failed"
                assert _snapshot(driver, bystander) == untouched, "another thread changed"
            if authenticated:
                counts["rejected"] += _moved_rows(driver, tamper, where_from=bystander)
            assert not os.path.exists(sentinel)
        record_figure(ck_saver_name, "tamper", counts)


def _load(driver: SaverDriver, cfg: Any, head: Any, target: StoredValue) -> Any:
    """The tampered value as read back, or the exception reading raised."""
    try:
        got = driver.get_tuple(cfg)
        listed = driver.list(cfg)
    except Exception as exc:  # the error is the expected outcome, checked by the caller
        return exc
    assert got is not None and listed and listed[0].checkpoint == got.checkpoint
    if target.kind == "blob":
        return got.checkpoint["channel_values"].get(target.channel)
    for task_id, channel, value in got.pending_writes or []:
        if task_id == target.task_id and channel == target.channel:
            return value
    raise AssertionError(f"the write {target.channel!r} vanished instead of failing")


def _check_error(
    exc: BaseException, thread_id: str, head: Any, target: StoredValue, where: str
) -> None:
    text = str(exc)
    checkpoint_id = head.config["configurable"]["checkpoint_id"]
    assert isinstance(exc, ValueError | TypeError | LookupError), (
        f"{where}: raised {type(exc).__name__}, not a data error: {text}"
    )
    for part, label in ((thread_id, "thread"), (checkpoint_id, "checkpoint"),
                        (target.channel, "channel")):  # fmt: skip
        assert part in text, f"{where}: the error does not name the {label}: {text}"


def _moved_rows(driver: SaverDriver, tamper: Tamper, where_from: str) -> int:
    """Authenticated values copied onto another channel, checkpoint or thread must fail."""
    rejected = 0
    source_rows = [r for r in tamper.stored_values(where_from) if r.data]
    thread_id = f"tamper-moved-{uuid.uuid4()}"
    cfg = _store_thread(driver, thread_id)
    head = driver.get_tuple(cfg)
    assert head is not None
    for target in _targets(tamper, head):
        original = (target.type_tag or "", target.data or b"")
        candidates = [r for r in source_rows if r.kind == target.kind]
        same_thread = [
            r for r in tamper.stored_values(thread_id)
            if r.kind == target.kind and r.data and r != target
        ]  # fmt: skip
        for donor in candidates[:1] + same_thread[:2]:
            tamper.overwrite(target, donor.type_tag or "", donor.data or b"")
            outcome = _load(driver, cfg, head, target)
            where = f"row of {donor.channel!r} moved onto {target.channel!r}"
            assert isinstance(outcome, BaseException), f"{where}: loaded {outcome!r}"
            _check_error(outcome, thread_id, head, target, where)
            rejected += 1
        tamper.overwrite(target, *original)
    return rejected
