"""SQLite storage: values stored once per version, append deltas, bounded reads, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from checkpointkit.backends.sqlite import SqliteSaver
from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.factories import make_checkpoint


def _conversation(saver: SqliteSaver, thread: str, turns: int, *, big: str = "") -> list[str]:
    """An engine-like thread: a growing message list plus four small or static channels."""
    messages: list[dict[str, str]] = []
    versions: dict[str, Any] = {}
    values: dict[str, Any] = {"system": big, "user": "u", "turn": 0, "flag": False}
    parent = None
    ids = []
    for turn in range(turns):
        messages = [*messages, {"role": "user", "content": f"message {turn} " + "x" * 200}]
        changed = ["messages", "turn"] + (["system", "user", "flag"] if turn == 0 else [])
        new = {c: saver.get_next_version(versions.get(c)) for c in changed}
        versions.update(new)
        values.update(messages=messages, turn=turn)
        config = saver.put(
            checkpoint_config(thread, "", parent),
            make_checkpoint(dict(values), dict(versions)),
            {"step": turn},
            new,
        )
        parent = config["configurable"]["checkpoint_id"]
        ids.append(parent)
    return ids


def _blob_bytes(saver: SqliteSaver) -> int:
    return int(saver.conn.execute("SELECT sum(length(data)) FROM checkpoint_blobs").fetchone()[0])


def _bytes_by_kind(saver: SqliteSaver, thread: str) -> dict[str, tuple[int, int]]:
    found = saver.conn.execute(
        "SELECT kind, count(*), sum(length(data)) FROM checkpoint_blobs "
        "WHERE thread_id = ? AND channel = 'messages' GROUP BY kind",
        (thread,),
    )
    return {kind: (count, size) for kind, count, size in found}


def test_append_only_channel_is_stored_as_deltas(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(tmp_path / "a.db") as saver:
        _conversation(saver, "t100", 100)
        _conversation(saver, "t200", 200)
        at_100, at_200 = _bytes_by_kind(saver, "t100"), _bytes_by_kind(saver, "t200")
        total_200 = _blob_bytes(saver)
    # One full snapshot every 32 versions; every other version holds one appended message.
    assert at_100["value"][0] == 4 and at_200["value"][0] == 7
    assert at_100["delta"][0] == 96 and at_200["delta"][0] == 193
    assert at_200["delta"][1] < 2.05 * at_100["delta"][1]  # the deltas grow linearly
    with SqliteSaver.from_conn_string(tmp_path / "b.db", snapshot_every=None) as full:
        _conversation(full, "t100", 100)
        _conversation(full, "t200", 200)
        assert _bytes_by_kind(full, "t200") == {
            "value": (200, _bytes_by_kind(full, "t200")["value"][1])
        }
        assert _blob_bytes(full) > 8 * total_200  # what storing the whole list each step costs


def test_reads_touch_a_bounded_number_of_rows(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(tmp_path / "r.db", snapshot_every=8) as saver:
        ids = _conversation(saver, "t", 100)
        rows: list[int] = []
        execute = saver._execute

        def counting(query: Any) -> Any:
            found = execute(query)
            rows.append(len(found))
            return found

        saver._execute = counting  # type: ignore[method-assign]
        for cid in ids:
            rows.clear()
            got = saver.get_tuple(checkpoint_config("t", "", cid))
            assert got is not None
            assert len(got.checkpoint["channel_values"]["messages"]) == got.metadata["step"] + 1
            assert len(rows) <= 4  # checkpoint, values, delta chain, writes
            assert sum(rows) <= 1 + 5 + 8  # chain length is capped by the snapshot interval


def test_stale_delta_base_falls_back_to_a_full_value(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteSaver.from_conn_string(path) as one, SqliteSaver.from_conn_string(path) as two:
        versions = [one.get_next_version(None)]
        versions.append(one.get_next_version(versions[0]))
        versions.append(one.get_next_version(versions[1]))
        one.put(
            checkpoint_config("t"),
            make_checkpoint({"m": [1]}, {"m": versions[0]}),
            {},
            {"m": versions[0]},
        )
        one.put(
            checkpoint_config("t"),
            make_checkpoint({"m": [1, 2]}, {"m": versions[1]}),
            {},
            {"m": versions[1]},
        )
        two.delete_thread("t")  # `one` still caches [1, 2] as the thread's last value
        config = one.put(
            checkpoint_config("t"),
            make_checkpoint({"m": [1, 2, 3]}, {"m": versions[2]}),
            {},
            {"m": versions[2]},
        )
        got = two.get_tuple(config)
        assert got is not None and got.checkpoint["channel_values"] == {"m": [1, 2, 3]}
        assert one.conn.execute("SELECT kind FROM checkpoint_blobs").fetchall() == [("value",)]


def test_first_value_wins_even_when_it_differs_from_the_cached_one(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(tmp_path / "f.db") as saver:
        saver.put(checkpoint_config("t"), make_checkpoint({"m": ["a"]}, {"m": 1}), {}, {"m": 1})
        # Same version again with another value: the stored ["a"] stays (first wins) ...
        saver.put(checkpoint_config("t"), make_checkpoint({"m": ["b"]}, {"m": 1}), {}, {"m": 1})
        # ... so a later version extending ["b"] must not be stored as a delta on top of ["a"].
        config = saver.put(
            checkpoint_config("t"), make_checkpoint({"m": ["b", "c"]}, {"m": 2}), {}, {"m": 2}
        )
        got = saver.get_tuple(config)
        assert got is not None and got.checkpoint["channel_values"] == {"m": ["b", "c"]}


_KILLED_CHILD = r"""
import sys
from checkpointkit.backends.sqlite import SqliteSaver
from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.factories import make_checkpoint
with SqliteSaver.from_conn_string(sys.argv[1]) as saver:
    parent, messages, n = None, [], 0
    while True:
        messages = messages + ["m%d" % n]
        v = "%032d.0" % (n + 1)
        cfg = saver.put(checkpoint_config("t", "", parent), make_checkpoint({"m": messages}, {"m": v}), {"n": n}, {"m": v})
        saver.put_writes(cfg, [("w", n)], "task")
        parent = cfg["configurable"]["checkpoint_id"]
        print(parent, flush=True)  # reported only after both commits
        n += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_writer_loses_nothing_it_committed(tmp_path: Path) -> None:
    path = str(tmp_path / "kill.db")
    SqliteSaver(path).close()
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CHILD, path], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    committed = []
    deadline = time.monotonic() + 60
    while len(committed) < 150 and time.monotonic() < deadline:
        committed.append(child.stdout.readline().strip())
    os.kill(child.pid, signal.SIGKILL)  # mid-stream: likely inside a transaction
    child.wait(30)
    committed += [line.strip() for line in child.stdout.read().splitlines() if line.strip()]
    assert len(committed) >= 150
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with SqliteSaver.from_conn_string(path) as saver:
        stored = {t.checkpoint["id"]: t for t in saver.list(None)}
        assert set(committed) <= set(stored)
        for n, cid in enumerate(committed):
            t = stored[cid]
            assert t.checkpoint["channel_values"]["m"] == [f"m{i}" for i in range(n + 1)]
            assert t.pending_writes == [("task", "w", n)]
        # The file is usable after the crash: the chain continues.
        latest = saver.get_tuple(checkpoint_config("t"))
        assert latest is not None
        v = saver.get_next_version(latest.checkpoint["channel_versions"]["m"])
        grown = [*latest.checkpoint["channel_values"]["m"], "after"]
        config = saver.put(latest.config, make_checkpoint({"m": grown}, {"m": v}), {}, {"m": v})
        assert saver.get_tuple(config).checkpoint["channel_values"]["m"][-1] == "after"
