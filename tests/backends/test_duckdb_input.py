"""DuckDB bad input: hostile filter keys stay data; odd keys behave exactly as on MemorySaver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checkpointkit.backends import duckdb as duckdb_backend
from checkpointkit.backends.duckdb import DuckDBSaver
from checkpointkit.backends.memory import MemorySaver
from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.factories import make_checkpoint

spec = pytest.mark.spec

HOSTILE_KEYS = [
    "x') OR 1=1 --",
    "'; DROP TABLE canary; --",
    '"; DROP TABLE canary; --',
    "$.step",
    "/step",
    "a.b",
    "$",
    "step' IS NOT NULL OR '",
    "]]><!--",
    'k\\"ey',
    "[0]",
    "ключ",
    "%_*",
]


@pytest.fixture
def saver(tmp_path: Path) -> Iterator[DuckDBSaver]:
    with DuckDBSaver.from_conn_string(tmp_path / "input.duckdb") as saver:
        con = saver._cursors.conn
        con.execute("CREATE TABLE canary (alive INTEGER)")
        con.execute("INSERT INTO canary VALUES (1)")
        yield saver


@spec("DUCK-INPUT-001")
def test_hostile_filter_keys_are_data(saver: DuckDBSaver, monkeypatch: pytest.MonkeyPatch) -> None:
    statements: list[str] = []
    execute = duckdb_backend._execute

    def recording(cur: Any, query: Any) -> Any:
        statements.append(query.sql)  # the statement text, before parameters are bound
        return execute(cur, query)

    monkeypatch.setattr(duckdb_backend, "_execute", recording)
    matched = {}
    for i, key in enumerate(HOSTILE_KEYS):
        config = saver.put(
            checkpoint_config(f"t{i}"), make_checkpoint({"a": i}), {key: "v", "step": i}, {"a": 1}
        )
        matched[key] = config
    texts: dict[str, list[str]] = {}
    for key in [*HOSTILE_KEYS, "benign"]:
        statements.clear()
        for value in ("v", 1, None, True, ["v"], {"k": "v"}):
            found = list(saver.list(None, filter={key: value}))
            if value == "v" and key != "benign":
                # Only the checkpoint whose metadata has exactly this key matches.
                assert [t.config for t in found] == [matched[key]]
            else:
                assert found == []
        texts[key] = [q for q in statements if "FROM checkpoints c" in q]
    # Keys are bound parameters: the filtering SQL text is the same whatever the key.
    assert any("MAP(VARCHAR, JSON)" in s for s in texts["benign"])
    for key in HOSTILE_KEYS:
        assert texts[key] == texts["benign"], key
    assert saver._cursors.conn.execute("SELECT alive FROM canary").fetchall() == [(1,)]
    assert len(list(saver.list(None))) == len(HOSTILE_KEYS)
    # A dotted key is a literal key, not a path into nested metadata.
    saver.put(checkpoint_config("nested"), make_checkpoint({"a": 1}), {"a": {"b": 1}}, {"a": 1})
    assert list(saver.list(None, filter={"a.b": 1})) == []


@spec("DUCK-INPUT-001")
def test_filter_values_match_like_memory(saver: DuckDBSaver) -> None:
    memory = MemorySaver()
    metas: list[dict[str, Any]] = [
        {"n": 1},
        {"n": 1.0},
        {"n": 2**63 - 1},
        {"n": 2**53 + 1},
        {"n": True},
        {"n": "1"},
        {"n": None},
        {"n": [1, 2]},
        {"n": {"x": 1}},
        {"other": 1},
    ]
    for i, meta in enumerate(metas):
        checkpoint = make_checkpoint({"a": i}, checkpoint_id=f"1f000000-0000-6000-8000-{i:012d}")
        for s in (saver, memory):
            s.put(checkpoint_config(f"t{i}"), checkpoint, meta, {"a": 1})
    for probe in [
        1,
        1.0,
        2**63 - 1,
        2**53 + 1,
        float(2**53),
        True,
        False,
        "1",
        None,
        [1, 2],
        {"x": 1},
        0,
    ]:
        got = [t.config for t in saver.list(None, filter={"n": probe})]
        assert got == [t.config for t in memory.list(None, filter={"n": probe})], probe


BAD_KEYS: list[tuple[str, Any]] = [
    ("nul", "a\x00b"),
    ("surrogate", "a\ud800b"),
    ("long_thread", "t" * 1025),
    ("max_thread", "t" * 1024),
    ("long_unicode", "é" * 513),  # 1026 bytes in UTF-8
    ("int", 42),
    ("none", None),
    ("bytes", b"t"),
]


def _outcome(fn: Any) -> Any:
    try:
        result = fn()
    except (ValueError, TypeError, KeyError) as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("ok", result)


@spec("DUCK-INPUT-001")
@pytest.mark.parametrize("label,key", BAD_KEYS, ids=[k for k, _ in BAD_KEYS])
def test_odd_keys_behave_like_memory(saver: DuckDBSaver, label: str, key: Any) -> None:
    memory = MemorySaver()
    cid = "1f000000-0000-6000-8000-000000000001"

    def calls(s: Any) -> list[Any]:
        checkpoint = make_checkpoint({"a": "x\x00y"}, checkpoint_id=cid)  # NUL in values is fine
        checkpoint["ts"] = "2026-01-01T00:00:00+00:00"
        long_id = make_checkpoint({"a": 1}, checkpoint_id="c" * 257)
        return [
            _outcome(lambda: s.put(checkpoint_config(key), checkpoint, {}, {"a": 1})),
            _outcome(lambda: s.put(checkpoint_config("t", key), checkpoint, {}, {"a": 1})),
            _outcome(
                lambda: s.put_writes(checkpoint_config("t", "", cid), [("c", 1)], task_id=key)
            ),
            _outcome(lambda: s.put_writes(checkpoint_config("t", "", cid), [(key, 1)], "task")),
            _outcome(lambda: s.put(checkpoint_config("u"), checkpoint, {"k": key}, {"a": 1})),
            _outcome(lambda: s.put(checkpoint_config("v"), checkpoint, {key: 1}, {"a": 1})),
            _outcome(lambda: s.put(checkpoint_config("w"), long_id, {}, {"a": 1})),
            _outcome(lambda: s.get_tuple(checkpoint_config(key))),
            _outcome(lambda: s.get_tuple(checkpoint_config("t", "", key))),
            _outcome(lambda: list(s.list(checkpoint_config(key)))),
            _outcome(lambda: list(s.list(None, filter={"k": key}))),
            _outcome(lambda: list(s.list(None, before=checkpoint_config("t", "", key)))),
            _outcome(lambda: s.copy_thread("t", key)),
            _outcome(lambda: s.prune([key])),
            _outcome(lambda: s.delete_for_runs([key])),
            _outcome(lambda: s.delete_thread(key)),
            _outcome(lambda: s.list_threads()),
        ]

    assert calls(saver) == calls(memory)
    assert [t[:3] for t in saver.list(None)] == [t[:3] for t in memory.list(None)]


@spec("DUCK-INPUT-001")
def test_values_keep_nul_and_unicode(saver: DuckDBSaver) -> None:
    values = {"nul": "a\x00b", "emoji": "🦜", "bytes": b"\x00\xff", "big": 2**100, "none": None}
    config = saver.put(
        checkpoint_config("t"), make_checkpoint(values), {"emoji": "🦜"}, dict.fromkeys(values, 1)
    )
    saver.put_writes(config, [("nul", "\x00"), ("bytes", b"\x00")], "task")
    got = saver.get_tuple(config)
    assert got is not None and got.checkpoint["channel_values"] == values
    assert got.pending_writes == [("task", "nul", "\x00"), ("task", "bytes", b"\x00")]
    assert [t.config for t in saver.list(None, filter={"emoji": "🦜"})] == [config]
