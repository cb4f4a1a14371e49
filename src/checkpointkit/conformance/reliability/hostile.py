"""Hostile input: generated keys, metadata, filters and values either round-trip or are refused."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from checkpointkit.checkpoint import MAX_ID_BYTES, MAX_KEY_BYTES, checkpoint_config
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter, make_checkpoint
from checkpointkit.conformance.reliability.figures import record_figure, slow_profile

__all__ = [
    "FRAGMENTS",
    "Canary",
    "HostileInputTests",
    "hostile_metadata",
    "hostile_text",
    "hostile_values",
    "same",
]

# Pieces of SQL, JSON paths, query operators and odd Unicode that broke real savers.
FRAGMENTS = (
    "'",
    '"',
    "\\",
    "%",
    "_",
    "$",
    ".",
    "|",
    ":",
    "*",
    "?",
    "' OR '1'='1",
    "' OR 1=1 --",
    "'); DROP TABLE checkpoints; --",
    '"); DROP TABLE checkpoint_writes; --',
    "x' UNION SELECT thread_id, checkpoint_ns FROM checkpoints --",
    "$.a.b",
    "$[0]",
    "a.b",
    "a') OR json_extract(metadata, '$.x",
    "->>",
    "::jsonb",
    "{$ne: null}",
    '{"$gt": ""}',
    "@ > 0",
    "* OR *",
    "\\' OR 1=1",
    "%00",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "🙂",
    "日本語",
    "\u202e",
    "\u200b",
    "\r\n",
    "\t",
    " ",
    "",
    "NULL",
    "null",
    "true",
    "__ck__",
    "__proto__",
    "x" * 300,
    "é" * 600,
)

_chars = st.characters(codec=None, exclude_categories=())


def hostile_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Strings built from :data:`FRAGMENTS` and arbitrary code points (surrogates included)."""
    piece = st.one_of(st.sampled_from(FRAGMENTS), st.text(_chars, max_size=12))
    return st.one_of(
        st.sampled_from(FRAGMENTS),
        st.lists(piece, min_size=1, max_size=4).map("".join),
        st.text(_chars, max_size=max_size),
        st.sampled_from(["k" * 1024, "k" * 1025, "é" * 512, "é" * 513, "🙂" * 257]),
    )


def _valid_text(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def key_is_valid(value: str, limit: int) -> bool:
    """KEY-002 and KEY-003: no NUL, no lone surrogate, at most ``limit`` UTF-8 bytes."""
    return "\x00" not in value and _valid_text(value) and len(value.encode("utf-8")) <= limit


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(min_value=2**63, max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text(),
)


def hostile_metadata() -> st.SearchStrategy[dict[str, Any]]:
    values = st.recursive(
        _json_scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(hostile_text(), inner, max_size=4)
        ),
        max_leaves=12,
    )
    return st.dictionaries(hostile_text(), values, min_size=1, max_size=5)


def metadata_is_valid(value: Any, depth: int = 0) -> bool:
    """PUT-008/PUT-009: JSON with str keys, finite floats, 64-bit ints, valid text, no NUL."""
    if depth > 64:
        return False
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -(2**63) <= value <= 2**63 - 1
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return "\x00" not in value and _valid_text(value)
    if isinstance(value, list):
        return all(metadata_is_valid(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(
            isinstance(k, str)
            and key_is_valid(k, MAX_KEY_BYTES)
            and metadata_is_valid(v, depth + 1)
            for k, v in value.items()
        )
    return False


def _hashables() -> st.SearchStrategy[Any]:
    return st.one_of(st.integers(), st.text(max_size=8), st.booleans(), st.none())


def hostile_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=2**63, max_value=2**300),
        st.integers(max_value=-(2**64), min_value=-(2**300)),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_text(60),
        st.binary(max_size=40),
        st.sampled_from(["x" * 200_000, "\x00" * 1000, b"\x00" * 70_000]),
    )
    tree = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.lists(inner, max_size=3).map(tuple),
            st.dictionaries(hostile_text(), inner, max_size=4),
            st.dictionaries(st.integers(), inner, max_size=3),
            st.sets(_hashables(), max_size=4),
            st.frozensets(_hashables(), max_size=4),
        ),
        max_leaves=16,
    )
    deep = st.integers(1, 300).map(_nested)
    return st.one_of(tree, deep)


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"d": value}
    return value


def _depth(value: Any) -> int:
    if isinstance(value, list | tuple | set | frozenset):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((max(_depth(k), _depth(v)) for k, v in value.items()), default=0)
    return 0


def _has_bad_text(value: Any) -> bool:
    if isinstance(value, str):
        return not _valid_text(value)
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_bad_text(v) for v in value)
    if isinstance(value, dict):
        return any(_has_bad_text(k) or _has_bad_text(v) for k, v in value.items())
    return False


def same(a: Any, b: Any) -> bool:
    """Exact equality with types: NaN equals NaN, the sign of zero counts, True is not 1."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        for k, v in a.items():
            match = [k2 for k2 in b if same(k, k2)]
            if len(match) != 1 or not same(v, b[match[0]]):
                return False
        return True
    return bool(a == b)


class Canary:
    """A thread stored before the hostile calls; :meth:`check` says it is unchanged."""

    def __init__(self, driver: SaverDriver) -> None:
        self.driver = driver
        w = ThreadWriter(driver, f"canary-{uuid.uuid4()}")
        w.put({"secret": "canary", "n": 1}, metadata={"role": "canary"})
        cfg = w.put({"msgs": ["a", "b"]}, metadata={"role": "canary", "k": "'"})
        driver.put_writes(cfg, [("w", {"x": "'; --"}), ("__error__", "e")], "canary-task")
        ThreadWriter(driver, w.thread_id, "sub:1").put({"deep": [1, [2]]})
        self.config = {"configurable": {"thread_id": w.thread_id}}
        self.before = self._state()

    def _state(self) -> list[tuple[Any, ...]]:
        return [
            (t.config, t.checkpoint, t.metadata, t.parent_config, t.pending_writes)
            for t in self.driver.list(self.config)
        ]

    def check(self) -> None:
        assert self._state() == self.before, "the canary thread changed"


def _settings(default: int) -> settings:
    """``default`` examples (ten times that when slow), no deadline, no example database."""
    return settings(
        max_examples=default * 10 if slow_profile() else default,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def _refused(call: Callable[[], Any], *errors: type[BaseException]) -> BaseException:
    with pytest.raises(errors) as caught:
        call()
    return caught.value


class HostileInputTests:
    """SEC-INPUT: hostile keys, metadata, filters and values; a canary survives all of them."""

    @pytest.mark.spec("SEC-INPUT-001", "SEC-INPUT-004")
    def test_hostile_keys(self, driver: SaverDriver, ck_saver_name: str) -> None:
        canary = Canary(driver)
        counts = {"tried": 0, "refused": 0}

        @_settings(60)
        @given(which=st.sampled_from(["thread_id", "checkpoint_ns", "task_id", "channel"]),
               key=hostile_text())  # fmt: skip
        @example(which="thread_id", key="%")
        @example(which="thread_id", key="_")
        @example(which="thread_id", key="' OR '1'='1")
        def run(which: str, key: str) -> None:
            counts["tried"] += 1
            if which == "thread_id" and key_is_valid(key, MAX_KEY_BYTES):
                # Deleting a thread that does not exist, named like a pattern or a query,
                # deletes nothing.
                driver.delete_thread(key)
                canary.check()
            thread_id, ns, task_id, channel = f"hk-{uuid.uuid4()}", "", "task", "chan"
            limit = MAX_KEY_BYTES
            if which == "thread_id":
                thread_id = key + "#" + uuid.uuid4().hex[:8]
            elif which == "checkpoint_ns":
                ns = key
            elif which == "task_id":
                task_id, limit = key, MAX_ID_BYTES
            else:
                channel = key
            chosen = {"thread_id": thread_id, "checkpoint_ns": ns, "task_id": task_id}
            chosen["channel"] = channel
            valid = key_is_valid(chosen[which], limit)
            checkpoint = make_checkpoint({channel: ["v", 1]}, {channel: 1})
            config = checkpoint_config(thread_id, ns)

            def put() -> Any:
                return driver.put(config, checkpoint, {"source": "input", "step": -1}, {channel: 1})

            if not valid and which in ("thread_id", "checkpoint_ns", "channel"):
                _refused(put, ValueError, TypeError)
                counts["refused"] += 1
                if which == "channel":
                    assert driver.get_tuple(checkpoint_config(thread_id, ns)) is None
                return
            stored = put()
            assert stored == checkpoint_config(thread_id, ns, checkpoint["id"])
            if not valid:  # the task id
                _refused(lambda: driver.put_writes(stored, [("w", 1)], task_id), ValueError)
                counts["refused"] += 1
                got = driver.get_tuple(stored)
                assert got is not None and got.pending_writes == []
                return
            driver.put_writes(stored, [(channel, {key: key}), ("__error__", key)], task_id)
            got = driver.get_tuple(checkpoint_config(thread_id, ns))
            assert got is not None and got.config == stored
            assert got.checkpoint["channel_values"] == {channel: ["v", 1]}
            assert got.pending_writes == [
                (task_id, "__error__", key),
                (task_id, channel, {key: key}),
            ]
            listed = driver.list(checkpoint_config(thread_id, ns))
            assert [t.config for t in listed] == [stored]

        run()
        canary.check()
        record_figure(ck_saver_name, "hostile-keys", {**counts, "flavor": driver.flavor})

    @pytest.mark.spec("SEC-INPUT-002", "SEC-INPUT-004")
    def test_hostile_metadata_and_filters(self, driver: SaverDriver, ck_saver_name: str) -> None:
        canary = Canary(driver)
        counts = {"tried": 0, "refused": 0, "filters": 0}

        @_settings(60)
        @given(metadata=hostile_metadata(), probe=hostile_text())
        def run(metadata: dict[str, Any], probe: str) -> None:
            counts["tried"] += 1
            w = ThreadWriter(driver, f"hm-{uuid.uuid4()}")
            full = {"source": "loop", "step": 0, "parents": {}, **metadata}
            if not metadata_is_valid(full):
                _refused(lambda: w.put({"a": 1}, metadata=metadata), ValueError, TypeError)
                counts["refused"] += 1
                assert driver.get_tuple(w.config()) is None, "a refused put stored something"
                return
            first = w.put({"a": 1}, metadata=metadata)
            other = {k: ["other", str(uuid.uuid4())] for k in metadata}
            w.put({"a": 2}, metadata=other)
            got = driver.get_tuple(first)
            assert got is not None
            assert same(got.metadata, full), "metadata did not round-trip"
            for key, value in metadata.items():
                counts["filters"] += 1
                found = driver.list(w.config(), filter={key: value})
                assert [t.config for t in found] == [first], f"filter on key {key!r}"
            if key_is_valid(probe, MAX_KEY_BYTES) and probe not in full:
                counts["filters"] += 1
                assert driver.list(w.config(), filter={probe: "x"}) == []
            if counts["tried"] % 10 == 0:
                canary.check()

        run()
        canary.check()
        record_figure(ck_saver_name, "hostile-metadata", {**counts, "flavor": driver.flavor})

    @pytest.mark.spec("SEC-INPUT-003", "SEC-INPUT-004")
    def test_hostile_values(self, driver: SaverDriver, ck_saver_name: str) -> None:
        canary = Canary(driver)
        counts = {"tried": 0, "refused": 0}

        @_settings(60)
        @given(value=hostile_values())
        def run(value: Any) -> None:
            counts["tried"] += 1
            w = ThreadWriter(driver, f"hv-{uuid.uuid4()}")
            may_refuse = _depth(value) > 100 or _has_bad_text(value)
            try:
                cfg = w.put({"v": value})
            except (ValueError, TypeError):
                assert may_refuse, "a supported value was refused"
                counts["refused"] += 1
                assert driver.get_tuple(w.config()) is None, "a refused put stored something"
                return
            driver.put_writes(cfg, [("v", value)], "t")
            got = driver.get_tuple(cfg)
            assert got is not None
            assert same(got.checkpoint["channel_values"]["v"], value), "value changed"
            assert len(got.pending_writes or []) == 1
            assert same(got.pending_writes[0][2], value), "write value changed"  # type: ignore[index]
            if counts["tried"] % 10 == 0:
                canary.check()

        run()
        canary.check()
        record_figure(ck_saver_name, "hostile-values", {**counts, "flavor": driver.flavor})
