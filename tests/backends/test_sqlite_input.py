"""SQLite bad input: hostile filter keys stay data; odd keys behave exactly as on MemorySaver."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from checkpointkit.backends.memory import MemorySaver
from checkpointkit.backends.sqlite import SqliteSaver
from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.factories import make_checkpoint

HOSTILE_KEYS = [
    "x') OR 1=1 --",
    "'; DROP TABLE canary; --",
    '"; DROP TABLE canary; --',
    "$.step",
    "a.b",
    "$",
    "step' IS NOT NULL OR '",
    "]]><!--",
    'k\\"ey',
    "ключ",
    "%_*",
]


@pytest.fixture
def saver(tmp_path: Path) -> Any:
    with SqliteSaver.from_conn_string(tmp_path / "input.db") as saver:
        saver.conn.execute("CREATE TABLE canary (alive INTEGER)")
        saver.conn.execute("INSERT INTO canary VALUES (1)")
        yield saver


def test_hostile_filter_keys_are_data(saver: SqliteSaver) -> None:
    statements: list[str] = []
    execute = saver._execute

    def recording(query: Any) -> Any:
        statements.append(query.sql)  # the statement text, before parameters are bound
        return execute(query)

    saver._execute = recording  # type: ignore[method-assign]
    matched = {}
    for i, key in enumerate(HOSTILE_KEYS):
        config = saver.put(
            checkpoint_config(f"t{i}"), make_checkpoint({"a": i}), {key: "v", "step": i}, {"a": 1}
        )
        matched[key] = config
    for key in HOSTILE_KEYS:
        for value in ("v", 1, None, True, ["v"], {"k": "v"}):
            found = list(saver.list(None, filter={key: value}))
            if value == "v":
                # Only the checkpoint whose metadata has exactly this key matches.
                assert [t.config for t in found] == [matched[key]]
            else:
                assert found == []
    # No key ever reached SQL text: filters name keys only as bound parameters.
    assert any("json_each" in s for s in statements)
    for key in HOSTILE_KEYS:
        assert not any(key in s for s in statements), key
    assert saver.conn.execute("SELECT alive FROM canary").fetchall() == [(1,)]
    assert len(list(saver.list(None))) == len(HOSTILE_KEYS)
    # A dotted key is a literal key, not a path into nested metadata.
    saver.put(checkpoint_config("nested"), make_checkpoint({"a": 1}), {"a": {"b": 1}}, {"a": 1})
    assert list(saver.list(None, filter={"a.b": 1})) == []


BAD_KEYS: list[tuple[str, Any]] = [
    ("nul", "a\x00b"),
    ("surrogate", "a\ud800b"),
    ("long_thread", "t" * 1025),
    ("max_thread", "t" * 1024),
    ("long_unicode", "é" * 513),  # 1026 bytes in UTF-8
    ("int", 42),
]


def _outcome(fn: Any) -> Any:
    try:
        result = fn()
    except (ValueError, TypeError, KeyError) as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("ok", result)


@pytest.mark.parametrize("label,key", BAD_KEYS, ids=[k for k, _ in BAD_KEYS])
def test_odd_keys_behave_like_memory(saver: SqliteSaver, label: str, key: Any) -> None:
    memory = MemorySaver()
    cid = "1f000000-0000-6000-8000-000000000001"

    def calls(s: Any) -> list[Any]:
        checkpoint = make_checkpoint({"a": "x\x00y"}, checkpoint_id=cid)  # NUL in values is fine
        checkpoint["ts"] = "2026-01-01T00:00:00+00:00"
        out = [
            _outcome(lambda: s.put(checkpoint_config(key), checkpoint, {}, {"a": 1})),
            _outcome(lambda: s.put(checkpoint_config("t", key), checkpoint, {}, {"a": 1})),
            _outcome(
                lambda: s.put_writes(checkpoint_config("t", "", cid), [("c", 1)], task_id=key)
            ),
            _outcome(lambda: s.put_writes(checkpoint_config("t", "", cid), [(key, 1)], "task")),
            _outcome(lambda: s.put(checkpoint_config("u"), checkpoint, {"k": key}, {"a": 1})),
            _outcome(lambda: s.put(checkpoint_config("v"), checkpoint, {key: 1}, {"a": 1})),
            _outcome(lambda: s.get_tuple(checkpoint_config(key))),
            _outcome(lambda: list(s.list(None, filter={"k": key}))),
            _outcome(lambda: s.delete_thread(key)),
            _outcome(lambda: s.list_threads()),
        ]
        return out

    assert calls(saver) == calls(memory)
    assert [t[:3] for t in saver.list(None)] == [t[:3] for t in memory.list(None)]


def test_values_keep_nul_and_unicode(saver: SqliteSaver) -> None:
    values = {"nul": "a\x00b", "emoji": "🦜", "bytes": b"\x00\xff", "big": 2**100}
    config = saver.put(
        checkpoint_config("t"), make_checkpoint(values), {}, dict.fromkeys(values, 1)
    )
    got = saver.get_tuple(config)
    assert got is not None and got.checkpoint["channel_values"] == values


def test_corrupt_row_names_where(saver: SqliteSaver) -> None:
    config = saver.put(checkpoint_config("t"), make_checkpoint({"a": 1}), {}, {"a": 1})
    with sqlite3.connect(saver.conn.execute("PRAGMA database_list").fetchone()[2]) as other:
        other.execute("UPDATE checkpoint_blobs SET data = x'ff00'")
    with pytest.raises(ValueError, match=r"channel 'a'.*thread 't'"):
        saver.get_tuple(config)
