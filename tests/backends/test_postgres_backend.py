"""PostgreSQL savers: setup, schema, connections, options, filters and keys on a real server."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from checkpointkit.backends._sql import SchemaTooNewError
from checkpointkit.backends.memory import MemorySaver
from checkpointkit.backends.postgres import SCHEMA_VERSION, AsyncPostgresSaver, PostgresSaver
from checkpointkit.checkpoint import MAX_ID_BYTES, MAX_KEY_BYTES, Checkpoint, empty_checkpoint
from checkpointkit.ids import next_version

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _schema() -> str:
    return f"s_{uuid.uuid4().hex[:10]}"


def _checkpoint(values: dict[str, Any], versions: dict[str, Any]) -> Checkpoint:
    cp = empty_checkpoint()
    cp["channel_values"] = dict(values)
    cp["channel_versions"] = dict(versions)
    return cp


def _config(thread: str, ns: str = "", checkpoint_id: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ns}
    if checkpoint_id is not None:
        c["checkpoint_id"] = checkpoint_id
    return {"configurable": c}


def _put(saver: Any, thread: str, metadata: dict[str, Any], **values: Any) -> dict[str, Any]:
    versions = {k: next_version(None) for k in values}
    out: dict[str, Any] = saver.put(
        _config(thread), _checkpoint(values, versions), metadata, versions
    )
    return out


@pytest.fixture
def saver(pg_url: str) -> Iterator[PostgresSaver]:
    with PostgresSaver.from_conn_string(pg_url, schema=_schema()) as s:
        yield s


# -- setup ----------------------------------------------------------------------------------


def test_setup_is_idempotent_and_versioned(pg_url: str) -> None:
    schema = _schema()
    with PostgresSaver.from_conn_string(pg_url, schema=schema, setup=False) as s:
        s.setup()
        s.setup()
        _put(s, "t", {"step": 1}, a=1)
        s.setup()
        assert s.get_tuple(_config("t")) is not None
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT version FROM {}.ck_migrations ORDER BY version").format(
                sql.Identifier(schema)
            )
        ).fetchall()
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))


def test_using_a_saver_before_setup_says_so(pg_url: str) -> None:
    with (
        PostgresSaver.from_conn_string(pg_url, schema=_schema(), setup=False) as s,
        pytest.raises(RuntimeError, match=r"setup\(\)"),
    ):
        s.get_tuple(_config("t"))


def test_concurrent_setup_from_many_processes(pg_url: str) -> None:
    schema = _schema()
    code = (
        "import sys\n"
        "from checkpointkit.backends.postgres import PostgresSaver\n"
        "with PostgresSaver.from_conn_string(sys.argv[1], schema=sys.argv[2]) as s:\n"
        "    s.setup()\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, pg_url, schema], env=env, stderr=subprocess.PIPE
        )
        for _ in range(6)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT version FROM {}.ck_migrations").format(sql.Identifier(schema))
        ).fetchall()
    assert sorted(r[0] for r in rows) == list(range(1, SCHEMA_VERSION + 1))


def test_setup_inside_an_open_transaction_joins_it(pg_url: str) -> None:
    schema = _schema()
    with psycopg.connect(pg_url) as conn:  # autocommit off
        conn.execute("SELECT 1")  # a transaction is now open
        s = PostgresSaver(conn, schema=schema)
        s.setup()
        _put(s, "t", {}, a=1)
        conn.rollback()  # setup and the put were part of the caller's transaction
        s.setup()
        _put(s, "t", {}, a=2)
        conn.commit()
    with psycopg.connect(pg_url) as other:
        (n,) = other.execute(
            sql.SQL("SELECT count(*) FROM {}.ck_checkpoints").format(sql.Identifier(schema))
        ).fetchone() or (0,)
    assert n == 1


def test_setup_in_a_failed_transaction_says_why(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1/0")
        with pytest.raises(RuntimeError, match="failed transaction"):
            PostgresSaver(conn, schema=_schema()).setup()


def test_schema_newer_than_this_release_is_refused(pg_url: str) -> None:
    schema = _schema()
    with PostgresSaver.from_conn_string(pg_url, schema=schema) as s:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.ck_migrations (version, name, applied_at) "
                    "VALUES (99, 'future', 'now')"
                ).format(sql.Identifier(schema))
            )
        with pytest.raises(SchemaTooNewError, match="upgrade checkpointkit"):
            s.setup()


def test_schema_option_isolates_savers(pg_url: str) -> None:
    with (
        PostgresSaver.from_conn_string(pg_url, schema=_schema()) as a,
        PostgresSaver.from_conn_string(pg_url, schema='we"ird sch;ema') as b,
    ):
        _put(a, "t", {}, x=1)
        assert b.get_tuple(_config("t")) is None
        _put(b, "t", {}, x=2)
        got_a, got_b = a.get_tuple(_config("t")), b.get_tuple(_config("t"))
        assert got_a is not None and got_b is not None
        assert got_a.checkpoint["channel_values"] == {"x": 1}
        assert got_b.checkpoint["channel_values"] == {"x": 2}


# -- metadata and filters -------------------------------------------------------------------


def test_metadata_is_jsonb_and_reads_back_exactly(saver: PostgresSaver, pg_url: str) -> None:
    meta = {"source": "loop", "step": 3, "big": 1e16, "tiny": 1.5e-7, "neg0": -0.0, "f": 2.0,
            "nested": {"b": [1, 2.5, None, True], "a": "x"}}  # fmt: skip
    cfg = _put(saver, "t", meta, a=1)
    got = saver.get_tuple(cfg)
    assert got is not None
    assert got.metadata == meta
    for key in ("big", "tiny", "f"):
        assert type(got.metadata[key]) is float  # type: ignore[literal-required]
    assert str(got.metadata["neg0"]) == "-0.0"  # type: ignore[typeddict-item]
    with psycopg.connect(pg_url) as conn:
        (kind,) = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'ck_checkpoints' AND column_name = 'metadata'",
            (saver.schema,),
        ).fetchone() or ("",)
        (step,) = conn.execute(
            sql.SQL("SELECT metadata -> 'step' FROM {}.ck_checkpoints").format(
                sql.Identifier(saver.schema)
            )
        ).fetchone() or (None,)
    assert kind == "jsonb"
    assert step == 3


FILTER_CASES: list[dict[str, Any]] = [
    {"tags": ["a"]},  # containment would match ["a", "b"]; equality must not
    {"tags": ["a", "b"]},
    {"nested": {"x": 1}},
    {"nested": {"x": 1, "y": 2}},
    {"missing": None},
    {"nothing": None},
    {"flag": 1},  # a bool is not a number
    {"flag": True},
    {"n": 1},
    {"n": 1.0},
    {"s": "1"},
    {"n": 1, "flag": True},
    {"a.b": 1},
    {"a": {"b": 1}},
]


def test_filters_mean_exact_equality_like_memory(saver: PostgresSaver) -> None:
    memory = MemorySaver()
    rows = [
        {"tags": ["a", "b"], "nested": {"x": 1, "y": 2}, "flag": True, "n": 1, "nothing": None},
        {"tags": ["a"], "nested": {"x": 1}, "flag": 1, "n": 1.0, "s": "1"},
        {"a.b": 1, "a": {"b": 2}},
        {"a": {"b": 1}, "flag": False},
    ]
    thread = f"f-{uuid.uuid4()}"
    for meta in rows:
        cp = _checkpoint({}, {})
        for s in (saver, memory):
            s.put(_config(thread), cp, meta, {})
    for case in FILTER_CASES:
        want = [t.config for t in memory.list(_config(thread), filter=case)]
        got = [t.config for t in saver.list(_config(thread), filter=case)]
        assert got == want, case
        assert len(got) <= 2


HOSTILE_KEYS = [
    "x') OR 1=1 --",
    "'; DROP TABLE ck_checkpoints; --",
    '"; DELETE FROM ck_writes; --',
    "%s",
    "%(thread)s",
    "$1",
    "?",
    "\\",
    "a' || (SELECT pg_sleep(5)) || '",
    "🔥 ünïcode",
]


def test_hostile_filter_keys_never_reach_sql_text(pg_url: str, tmp_path: Path) -> None:
    marker = f"canary{uuid.uuid4().hex}"
    keys = [k + marker for k in HOSTILE_KEYS]
    trace = tmp_path / "libpq.trace"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        s = PostgresSaver(conn, schema=_schema())
        s.setup()
        thread = f"h-{uuid.uuid4()}"
        metas = [{k: i} for i, k in enumerate(keys)]
        for meta in metas:
            s.put(_config(thread), _checkpoint({}, {}), meta, {})
        with trace.open("w") as f:
            conn.pgconn.trace(f.fileno())
            try:
                for i, key in enumerate(keys):
                    found = list(s.list(_config(thread), filter={key: i}))
                    assert [t.metadata for t in found] == [metas[i]]
                    assert list(s.list(None, filter={key: "nope"})) == []
            finally:
                conn.pgconn.untrace()
        assert len(list(s.list(_config(thread)))) == len(keys)  # nothing was dropped
    text = trace.read_text(errors="replace")
    parses = [line for line in text.splitlines() if "\tParse\t" in line or " Parse " in line]
    assert parses, "the libpq trace recorded no statements"
    assert marker in text  # the keys did travel: as bound parameters
    assert not [p for p in parses if marker in p]


# -- keys -----------------------------------------------------------------------------------


def _incompressible(nbytes: int) -> str:
    rng = random.Random(nbytes)
    return "".join(chr(rng.randint(0x10000, 0x10FFFF)) for _ in range(nbytes // 4))


def test_thread_ids_at_the_limit_work_and_longer_ones_fail_clearly(saver: PostgresSaver) -> None:
    for thread in ("t" * MAX_KEY_BYTES, _incompressible(MAX_KEY_BYTES)):
        ns = _incompressible(MAX_KEY_BYTES)
        cp = _checkpoint({"c": [1, 2]}, {"c": "1"})
        cfg = saver.put(_config(thread, ns), cp, {"step": 1}, {"c": "1"})
        saver.put_writes(cfg, [("c", 3), ("__error__", "boom")], _incompressible(MAX_ID_BYTES))
        got = saver.get_tuple(cfg)
        assert got is not None and got.checkpoint["channel_values"] == {"c": [1, 2]}
        assert len(got.pending_writes or []) == 2
        assert [t.config for t in saver.list(_config(thread, ns))] == [cfg]
        assert thread in saver.list_threads()
        saver.delete_thread(thread)
        assert saver.get_tuple(cfg) is None
    too_long = "t" * (MAX_KEY_BYTES + 1)
    with pytest.raises(ValueError, match=f"limit is {MAX_KEY_BYTES} bytes"):
        _put(saver, too_long, {}, a=1)
    with pytest.raises(ValueError, match=f"limit is {MAX_KEY_BYTES} bytes"):
        saver.get_tuple(_config(too_long))
    with pytest.raises(ValueError, match=f"limit is {MAX_KEY_BYTES} bytes"):
        saver.delete_thread(too_long)
    assert too_long not in saver.list_threads()


def test_keys_that_cannot_fit_together_fail_with_a_clear_error(saver: PostgresSaver) -> None:
    # Each key is within its own limit; the three together exceed a b-tree entry.
    thread, ns, channel = (_incompressible(MAX_KEY_BYTES) for _ in range(3))
    cp = _checkpoint({channel: 1}, {channel: "1"})
    with pytest.raises(ValueError, match="2704 bytes"):
        saver.put(_config(thread, ns), cp, {}, {channel: "1"})
    assert saver.get_tuple(_config(thread, ns)) is None


# -- connections and options ----------------------------------------------------------------


def _roundtrip(s: Any) -> None:
    thread = f"r-{uuid.uuid4()}"
    cfg = _put(s, thread, {"step": 1}, a=[1])
    s.put_writes(cfg, [("a", 2)], "task")
    got = s.get_tuple(_config(thread))
    assert got is not None and got.checkpoint["channel_values"] == {"a": [1]}
    assert got.pending_writes == [("task", "a", 2)]
    assert [t.config for t in s.list(_config(thread))] == [cfg]


@pytest.mark.parametrize("autocommit", [True, False])
def test_given_connection(pg_url: str, autocommit: bool) -> None:
    schema = _schema()
    with psycopg.connect(pg_url, autocommit=autocommit) as conn:
        s = PostgresSaver(conn, schema=schema)
        s.setup()
        if not autocommit:
            conn.commit()
        _roundtrip(s)
        # Nothing is left open on the caller's connection, and every write is committed.
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with psycopg.connect(pg_url) as other:
        (n,) = other.execute(
            sql.SQL("SELECT count(*) FROM {}.ck_checkpoints").format(sql.Identifier(schema))
        ).fetchone() or (0,)
    assert n == 1


def test_given_pool(pg_url: str) -> None:
    with ConnectionPool(pg_url, min_size=1, max_size=2, open=True) as pool:
        s = PostgresSaver(pool, schema=_schema())
        s.setup()
        _roundtrip(s)


def test_wrong_connection_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="ConnectionPool"):
        PostgresSaver(object())
    with pytest.raises(TypeError, match="AsyncConnectionPool"):
        AsyncPostgresSaver("postgresql://nowhere")


@pytest.mark.parametrize("pipeline", [True, False])
@pytest.mark.parametrize("threshold", [None, 0, 5])
def test_pipeline_and_prepare_threshold_options(
    pg_url: str, pipeline: bool, threshold: int | None
) -> None:
    with PostgresSaver.from_conn_string(
        pg_url, schema=_schema(), pipeline=pipeline, prepare_threshold=threshold, max_size=1
    ) as s:
        for _ in range(8):
            _roundtrip(s)
        with s.conn.connection() as conn:
            (prepared,) = conn.execute(
                "SELECT count(*) FROM pg_prepared_statements", prepare=False
            ).fetchone() or (-1,)
    if threshold is None:
        assert prepared == 0  # what PgBouncer in transaction mode needs
    else:
        assert prepared > 0


def test_prepare_threshold_none_wins_over_the_connection_setting(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True, prepare_threshold=0) as conn:
        s = PostgresSaver(conn, schema=_schema(), prepare_threshold=None)
        s.setup()
        for _ in range(6):
            _roundtrip(s)
        (prepared,) = conn.execute(
            "SELECT count(*) FROM pg_prepared_statements", prepare=False
        ).fetchone() or (-1,)
    assert prepared == 0


# -- concurrency ------------------------------------------------------------------------------


def _hold_row_lock(pg_url: str, schema: str, thread: str) -> psycopg.Connection[Any]:
    """A second session that row-locks every checkpoint of ``thread`` until it commits."""
    blocker = psycopg.connect(pg_url)
    blocker.execute(
        sql.SQL("SELECT 1 FROM {}.ck_checkpoints WHERE thread_id = %s FOR UPDATE").format(
            sql.Identifier(schema)
        ),
        (thread,),
    )
    return blocker


def _blocked_and_free_calls(s: PostgresSaver, pg_url: str) -> tuple[bool, float]:
    """Start a put that waits on a row lock; time an unrelated put meanwhile."""
    busy = f"busy-{uuid.uuid4()}"
    cp = _checkpoint({"a": 1}, {"a": "1"})
    s.put(_config(busy), cp, {}, {"a": "1"})
    blocker = _hold_row_lock(pg_url, s.schema, busy)
    waiting = threading.Thread(target=s.put, args=(_config(busy), cp, {"again": 1}, {}))
    waiting.start()
    time.sleep(0.5)
    started = time.monotonic()
    free = threading.Thread(target=_put, args=(s, f"free-{uuid.uuid4()}", {}), kwargs={"a": 2})
    free.start()
    free.join(3)
    finished_while_blocked = not free.is_alive()
    elapsed = time.monotonic() - started
    blocker.commit()
    blocker.close()
    waiting.join(10)
    free.join(10)
    assert not waiting.is_alive() and not free.is_alive()
    got = s.get_tuple(_config(busy))
    assert got is not None and got.metadata.get("again") == 1  # type: ignore[typeddict-item]
    return finished_while_blocked, elapsed


def test_pool_has_no_saver_wide_lock(pg_url: str) -> None:
    with PostgresSaver.from_conn_string(pg_url, schema=_schema(), max_size=4) as s:
        finished, elapsed = _blocked_and_free_calls(s, pg_url)
    assert finished and elapsed < 2.0


def test_single_connection_calls_are_serialised(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        s = PostgresSaver(conn, schema=_schema())
        s.setup()
        finished, _ = _blocked_and_free_calls(s, pg_url)
    assert not finished  # waited for the lock instead of corrupting the connection


@pytest.mark.parametrize("use_pool", [True, False])
def test_list_can_be_reentered(pg_url: str, use_pool: bool) -> None:
    schema = _schema()
    thread = f"re-{uuid.uuid4()}"

    def body(s: PostgresSaver) -> None:
        s.setup()
        for i in range(5):
            _put(s, thread, {"step": i}, a=i)
        seen = 0
        for item in s.list(_config(thread)):
            assert s.get_tuple(item.config) is not None
            _put(s, f"{thread}-other", {}, b=1)
            seen += 1
        assert seen == 5

    if use_pool:
        with ConnectionPool(pg_url, min_size=1, max_size=1, open=True) as pool:
            body(PostgresSaver(pool, schema=schema))
    else:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            body(PostgresSaver(conn, schema=schema))


def test_list_pages_through_many_checkpoints(saver: PostgresSaver) -> None:
    thread = f"many-{uuid.uuid4()}"
    ids = [
        _put(saver, thread, {"step": i}, a=i)["configurable"]["checkpoint_id"] for i in range(300)
    ]
    listed = [t.config["configurable"]["checkpoint_id"] for t in saver.list(_config(thread))]
    assert listed == sorted(ids, reverse=True)
    assert len([t for t in saver.list(_config(thread), limit=200)]) == 200
    odd = list(saver.list(_config(thread), filter={"step": 299}))
    assert len(odd) == 1


# -- async ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_given_connection_and_pool(pg_url: str) -> None:
    schema = _schema()
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        s = AsyncPostgresSaver(conn, schema=schema)
        await s.asetup()
        cfg = await s.aput(_config("t"), _checkpoint({"a": [1]}, {"a": "1"}), {}, {"a": "1"})
        await asyncio.gather(*(s.aput_writes(cfg, [("a", i)], f"task{i}") for i in range(5)))
        got = await s.aget_tuple(cfg)
        assert got is not None and len(got.pending_writes or []) == 5
    async with AsyncConnectionPool(pg_url, min_size=1, max_size=4, open=False) as pool:
        s2 = AsyncPostgresSaver(pool, schema=schema)
        got = await s2.aget_tuple(cfg)
        assert got is not None and got.checkpoint["channel_values"] == {"a": [1]}
        assert [t.config async for t in s2.alist(_config("t"))] == [cfg]


@pytest.mark.asyncio
async def test_async_pool_calls_run_concurrently(pg_url: str) -> None:
    async with AsyncPostgresSaver.from_conn_string(pg_url, schema=_schema(), max_size=4) as s:
        busy = f"busy-{uuid.uuid4()}"
        cp = _checkpoint({"a": 1}, {"a": "1"})
        await s.aput(_config(busy), cp, {}, {"a": "1"})
        blocker = await psycopg.AsyncConnection.connect(pg_url)
        await blocker.execute(
            sql.SQL("SELECT 1 FROM {}.ck_checkpoints WHERE thread_id = %s FOR UPDATE").format(
                sql.Identifier(s.schema)
            ),
            (busy,),
        )
        waiting = asyncio.create_task(s.aput(_config(busy), cp, {"again": 1}, {}))
        await asyncio.sleep(0.3)
        free_cp = _checkpoint({"b": 1}, {"b": "1"})
        await asyncio.wait_for(s.aput(_config(f"free-{uuid.uuid4()}"), free_cp, {}, {"b": "1"}), 2)
        assert not waiting.done()
        await blocker.commit()
        await blocker.close()
        await asyncio.wait_for(waiting, 10)


@pytest.mark.asyncio
async def test_sync_methods_on_the_async_savers_loop_refuse_to_deadlock(pg_url: str) -> None:
    async with AsyncPostgresSaver.from_conn_string(pg_url, schema=_schema()) as s:
        with pytest.raises(asyncio.InvalidStateError, match="a\\* methods"):
            s.get_tuple(_config("t"))
        # From another thread the sync face works.
        cfg = await asyncio.to_thread(_put, s, "t", {}, a=1)
        got = await asyncio.to_thread(s.get_tuple, cfg)
        assert got is not None and got.checkpoint["channel_values"] == {"a": 1}


# -- storage ----------------------------------------------------------------------------------


def _chat(
    saver: Any, thread: str, turns: int, start: tuple[list[Any], Any] = ([], None)
) -> tuple[list[Any], Any]:
    """Append one message per turn, like a chat graph; returns (messages, last version)."""
    messages, version = start
    parent = None
    for turn in range(len(messages), len(messages) + turns):
        messages = [*messages, {"role": "user", "content": f"message {turn} " * 4}]
        version = next_version(version)
        cp = _checkpoint(
            {"messages": messages, "turn": turn}, {"messages": version, "turn": version}
        )
        cfg = saver.put(
            _config(thread, "", parent), cp, {"step": turn}, {"messages": version, "turn": version}
        )
        parent = cfg["configurable"]["checkpoint_id"]
    return messages, version


def test_append_deltas_keep_storage_linear(saver: PostgresSaver, pg_url: str) -> None:
    thread = f"chat-{uuid.uuid4()}"
    messages, _ = _chat(saver, thread, 200)
    got = saver.get_tuple(_config(thread))
    assert got is not None and got.checkpoint["channel_values"]["messages"] == messages
    for item in saver.list(_config(thread), limit=40):
        turn = item.checkpoint["channel_values"]["turn"]
        assert item.checkpoint["channel_values"]["messages"] == messages[: turn + 1]
    with psycopg.connect(pg_url) as conn:
        (stored,) = conn.execute(
            sql.SQL("SELECT sum(octet_length(data)) FROM {}.ck_blobs WHERE thread_id = %s").format(
                sql.Identifier(saver.schema)
            ),
            (thread,),
        ).fetchone() or (0,)
    full_every_time = sum(len(str(messages[: i + 1])) for i in range(200))
    assert isinstance(stored, int)
    assert stored < full_every_time / 10


@pytest.mark.parametrize("action", ["delete_thread", "prune", "copy_over"])
def test_deltas_survive_another_saver_removing_their_base(pg_url: str, action: str) -> None:
    schema = _schema()
    thread = f"d-{uuid.uuid4()}"
    with (
        PostgresSaver.from_conn_string(pg_url, schema=schema) as a,
        PostgresSaver.from_conn_string(pg_url, schema=schema) as b,
    ):
        start = _chat(a, thread, 5)  # a's delta cache now points at rows of this thread
        if action == "delete_thread":
            b.delete_thread(thread)
        elif action == "prune":
            b.prune([thread], strategy="delete")
        else:
            b.delete_thread(thread)
            _chat(b, "seed", 2)
            b.copy_thread("seed", thread)
        # Versions keep counting up, so `a` would store deltas on bases that are gone.
        messages, _ = _chat(a, thread, 3, start)
        got = a.get_tuple(_config(thread))
        assert got is not None and got.checkpoint["channel_values"]["messages"] == messages
        fresh = b.get_tuple(_config(thread))
        assert fresh is not None and fresh.checkpoint == got.checkpoint
