"""DuckDB history views: checkpoints, writes and values queried with SQL, and the README queries."""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, TypedDict

import duckdb
import orjson
import pytest

from checkpointkit.backends.duckdb import DuckDBSaver
from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter, make_checkpoint
from checkpointkit.reference_engine import END, START, StateGraph, interrupt
from checkpointkit.serde import JsonSerializer

spec = pytest.mark.spec
README = Path(__file__).resolve().parents[2] / "README.md"


class State(TypedDict):
    log: Annotated[list[str], operator.add]
    last: str


def _node(name: str, fail: set[str] | None = None, last: bool = True) -> Any:
    def fn(state: State) -> dict[str, Any]:
        if fail is not None and name in fail:
            fail.discard(name)
            raise ValueError(f"{name} boom")
        return {"log": [name], "last": name} if last else {"log": [name]}

    return fn


def _linear(saver: DuckDBSaver, fail: set[str] | None = None) -> Any:
    b = StateGraph(State)
    for n in "abc":
        b.add_node(n, _node(n, fail))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "c")
    b.add_edge("c", END)
    return b.compile(checkpointer=saver)


def _asking(saver: DuckDBSaver) -> Any:
    def ask(state: State) -> dict[str, Any]:
        answer = interrupt("name?")
        return {"log": [f"hi {answer}"], "last": "ask"}

    b = StateGraph(State)
    b.add_node("ask", ask)
    b.add_edge(START, "ask")
    b.add_edge("ask", END)
    return b.compile(checkpointer=saver)


@pytest.fixture
def saver(tmp_path: Path) -> Iterator[DuckDBSaver]:
    with DuckDBSaver.from_conn_string(tmp_path / "history.duckdb") as saver:
        yield saver


def _query(saver: DuckDBSaver, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    # A separate connection of this process shares the saver's open database.
    assert saver.path is not None
    with duckdb.connect(saver.path) as con:
        result = con.execute(sql, params or [])
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


@spec("DUCK-HIST-001")
def test_checkpoints_view(saver: DuckDBSaver) -> None:
    started = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=1)
    graph = _linear(saver)
    graph.invoke({"log": ["in"]}, _cfg("t1"))
    graph.invoke({"log": ["again"]}, {"configurable": {"thread_id": "t1", "run_id": "r2"}})
    ended = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=1)
    rows = _query(
        saver,
        "SELECT * FROM history_checkpoints WHERE thread_id = 't1' ORDER BY checkpoint_id",
    )
    listed = list(reversed(list(saver.list(checkpoint_config("t1")))))
    assert [r["checkpoint_id"] for r in rows] == [
        t.config["configurable"]["checkpoint_id"] for t in listed
    ]
    for row, t in zip(rows, listed, strict=True):
        parent = t.parent_config["configurable"]["checkpoint_id"] if t.parent_config else None
        assert row["parent_checkpoint_id"] == parent
        assert row["checkpoint_ns"] == ""
        assert row["step"] == t.metadata["step"]
        assert row["source"] == t.metadata["source"]
        assert row["run_id"] == t.metadata.get("run_id")
        assert orjson.loads(row["metadata"]) == t.metadata
        assert row["updated_channels"] == t.checkpoint["updated_channels"]
        assert started <= row["created_at"] <= ended
        body = orjson.loads(row["checkpoint"])
        assert body["channel_versions"] == t.checkpoint["channel_versions"]
        assert "channel_values" not in body
    # Each step names the node that ran in it; input checkpoints name none.
    assert [(r["source"], r["step"], r["nodes"]) for r in rows] == [
        ("input", -1, []),
        ("loop", 0, ["__start__"]),
        ("loop", 1, ["a"]),
        ("loop", 2, ["b"]),
        ("loop", 3, ["c"]),
        ("input", 4, []),
        ("loop", 5, ["__start__"]),
        ("loop", 6, ["a"]),
        ("loop", 7, ["b"]),
        ("loop", 8, ["c"]),
    ]
    assert {r["run_id"] for r in rows[5:]} == {"r2"}


@spec("DUCK-HIST-001")
def test_created_at_falls_back_to_the_id_time(saver: DuckDBSaver) -> None:
    checkpoint = make_checkpoint({"a": 1})
    checkpoint["ts"] = ""  # unparsable: the UUIDv6 id still carries the time
    saver.put(checkpoint_config("t"), checkpoint, {}, {"a": 1})
    odd = make_checkpoint({"a": 1}, checkpoint_id="not-a-uuid")
    odd["ts"] = "yesterday"
    saver.put(checkpoint_config("u"), odd, {}, {"a": 1})
    rows = _query(saver, "SELECT thread_id, created_at FROM history_checkpoints ORDER BY 1")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    assert rows[0]["thread_id"] == "t"
    assert abs(rows[0]["created_at"] - now) < timedelta(minutes=1)
    assert rows[1] == {"thread_id": "u", "created_at": None}


@spec("DUCK-HIST-001")
def test_nodes_of_parallel_branches(saver: DuckDBSaver) -> None:
    b = StateGraph(State)
    for n in ("a", "b1", "b2", "c"):
        b.add_node(n, _node(n, last=n not in ("b1", "b2")))
    b.add_edge(START, "a")
    b.add_edge("a", "b1")
    b.add_edge("a", "b2")
    b.add_edge(["b1", "b2"], "c")
    b.add_edge("c", END)
    graph = b.compile(checkpointer=saver)
    graph.invoke({"log": ["in"]}, _cfg("fan"))
    rows = _query(
        saver,
        "SELECT step, nodes FROM history_checkpoints WHERE thread_id = 'fan' ORDER BY checkpoint_id",
    )
    assert [r["nodes"] for r in rows] == [[], ["__start__"], ["a"], ["b1", "b2"], ["c"]]


@spec("DUCK-HIST-002")
def test_writes_view(saver: DuckDBSaver) -> None:
    graph = _linear(saver, fail={"c"})
    with pytest.raises(ValueError, match="c boom"):
        graph.invoke({"log": ["in"]}, _cfg("t1"))
    asking = _asking(saver)
    asking.invoke({"log": []}, _cfg("t2"))
    rows = _query(
        saver,
        "SELECT * FROM history_writes ORDER BY thread_id, checkpoint_id, task_id, idx",
    )
    errors = [r for r in rows if r["is_error"]]
    assert len(errors) == 1
    error = errors[0]
    head = saver.get_tuple(checkpoint_config("t1"))
    assert head is not None
    assert error["checkpoint_id"] == head.config["configurable"]["checkpoint_id"]
    assert error["step"] == head.metadata["step"] == 2
    assert error["node"] == "c"
    assert error["channel"] == "__error__" and error["idx"] == -1
    assert not error["is_interrupt"]
    assert orjson.loads(error["value"]) == "ValueError('c boom')"
    assert (error["task_id"], "__error__", "ValueError('c boom')") in head.pending_writes
    interrupts = [r for r in rows if r["is_interrupt"]]
    assert len(interrupts) == 1 and interrupts[0]["thread_id"] == "t2"
    assert interrupts[0]["node"] == "ask" and not interrupts[0]["is_error"]
    assert "name?" in interrupts[0]["value"]
    # Every pending write of every checkpoint is listed, with its task and channel.
    expected = sorted(
        (t.config["configurable"]["checkpoint_id"], task, channel)
        for thread in ("t1", "t2")
        for t in saver.list(checkpoint_config(thread))
        for task, channel, _ in t.pending_writes or []
    )
    assert sorted((r["checkpoint_id"], r["task_id"], r["channel"]) for r in rows) == expected
    by_node = {r["node"] for r in rows if r["channel"] == "log"}
    assert {"__start__", "a", "b"} <= by_node


@spec("DUCK-HIST-002")
def test_writes_before_their_checkpoint_are_listed(saver: DuckDBSaver) -> None:
    cid = "1f000000-0000-6000-8000-000000000009"
    saver.put_writes(
        checkpoint_config("early", "", cid), [("x", 1), ("__interrupt__", ["i"])], "t", "p"
    )
    rows = _query(saver, "SELECT * FROM history_writes WHERE thread_id = 'early' ORDER BY idx")
    assert [
        (r["idx"], r["channel"], r["step"], r["is_interrupt"], r["task_path"]) for r in rows
    ] == [
        (-3, "__interrupt__", None, True, "p"),
        (0, "x", None, False, "p"),
    ]
    assert [orjson.loads(r["value"]) for r in rows] == [["i"], 1]
    assert rows[0]["node"] is None


@spec("DUCK-HIST-003")
def test_values_readable_with_json_functions(saver: DuckDBSaver) -> None:
    serde = JsonSerializer()
    w = ThreadWriter(SaverDriver(saver, "sync"), "vals")
    w.put({"msgs": [], "meta": {"user": {"name": "ada"}}, "raw": b"\x00\xff", "none": None})
    for i in range(40):  # a growing list: stored as append deltas with periodic snapshots
        w.put({"msgs": [*w.head["channel_values"]["msgs"], {"role": "user", "text": f"m{i}"}]})
    w.put({"when": datetime(2026, 1, 2, tzinfo=timezone.utc), "pair": (1, "x")})
    kinds = _query(saver, "SELECT DISTINCT kind FROM checkpoint_blobs")
    assert {r["kind"] for r in kinds} >= {"value", "delta"}
    rows = _query(saver, "SELECT * FROM history_channels WHERE thread_id = 'vals'")
    by_checkpoint: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_checkpoint.setdefault(r["checkpoint_id"], {})[r["channel"]] = r
    listed = list(saver.list(checkpoint_config("vals")))
    assert set(by_checkpoint) == {t.config["configurable"]["checkpoint_id"] for t in listed}
    for t in listed:
        got = by_checkpoint[t.config["configurable"]["checkpoint_id"]]
        assert set(got) == set(t.checkpoint["channel_values"])
        for channel, value in t.checkpoint["channel_values"].items():
            row = got[channel]
            tag, data = serde.dumps_typed(value)
            assert row["size"] == len(data), channel
            assert row["version"] == str(t.checkpoint["channel_versions"][channel])
            if tag == "bytes":
                assert row["value"] is None
            else:
                assert serde.decode(orjson.loads(row["value"])) == value, channel
    # JSON functions reach inside values, delta-stored lists included.
    last = _query(
        saver,
        "SELECT value -> '$[39]' ->> 'text' AS text, json_array_length(value) AS n "
        "FROM history_channels WHERE channel = 'msgs' ORDER BY checkpoint_id DESC LIMIT 1",
    )
    assert last == [{"text": "m39", "n": 40}]
    name = _query(
        saver,
        "SELECT DISTINCT value ->> '$.user.name' AS name FROM history_values WHERE channel = 'meta'",
    )
    assert name == [{"name": "ada"}]
    stored = _query(saver, "SELECT count(*) AS n FROM history_values WHERE thread_id = 'vals'")
    assert stored[0]["n"] == len(
        _query(saver, "SELECT 1 FROM checkpoint_blobs WHERE kind <> 'empty'")
    )


# -- the README queries -------------------------------------------------------------------


def readme_queries() -> dict[str, str]:
    """The SQL blocks of the README's DuckDB section, by their leading ``-- title`` line."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Querying history with DuckDB", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    queries: dict[str, str] = {}
    for block in blocks:
        title, _, body = block.partition("\n")
        assert title.startswith("-- "), title
        queries[title[3:].strip()] = body
    return queries


def test_readme_has_the_three_queries() -> None:
    assert sorted(readme_queries()) == [
        "failed tasks with their error",
        "state size per step",
        "steps per node",
    ]


@spec("DUCK-HIST-004")
def test_readme_queries_run(saver: DuckDBSaver) -> None:
    queries = readme_queries()
    graph = _linear(saver, fail={"b"})
    with pytest.raises(ValueError, match="b boom"):
        graph.invoke({"log": ["in"]}, _cfg("t1"))
    graph.invoke(None, _cfg("t1"))  # resume: b runs again, then c
    graph.invoke({"log": ["more"]}, _cfg("t2"))

    steps = _query(saver, queries["steps per node"])
    assert [(r["thread_id"], r["node"], r["steps"]) for r in steps] == [
        ("t1", "__start__", 1),
        ("t1", "a", 1),
        ("t1", "b", 1),
        ("t1", "c", 1),
        ("t2", "__start__", 1),
        ("t2", "a", 1),
        ("t2", "b", 1),
        ("t2", "c", 1),
    ]
    assert all(r["first_run"] <= r["last_run"] for r in steps)

    failed = _query(saver, queries["failed tasks with their error"])
    assert failed == [
        {
            "thread_id": "t1",
            "checkpoint_ns": "",
            "step": 2,
            "task": "b",
            "error": "ValueError('b boom')",
        }
    ]

    sizes = _query(saver, queries["state size per step"])
    serde = JsonSerializer()
    expected = []
    for thread in ("t1", "t2"):
        for t in reversed(list(saver.list(checkpoint_config(thread)))):
            values = t.checkpoint["channel_values"]
            expected.append(
                (
                    thread,
                    t.config["configurable"]["checkpoint_id"],
                    t.metadata["step"],
                    len(values),
                    sum(len(serde.dumps_typed(v)[1]) for v in values.values()),
                )
            )
    assert [
        (r["thread_id"], r["checkpoint_id"], r["step"], r["channels"], r["state_bytes"])
        for r in sizes
    ] == expected
    # The state grows as the log grows.
    t1 = [r["state_bytes"] for r in sizes if r["thread_id"] == "t1"]
    assert t1[-1] > t1[1]
