"""PostgreSQL savers under faults and load: killed backends, many processes at once."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import operator
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from psycopg import conninfo, sql

from checkpointkit.backends.postgres import AsyncPostgresSaver, PostgresSaver
from checkpointkit.checkpoint import Checkpoint, empty_checkpoint
from checkpointkit.ids import next_version

SLOW = os.environ.get("CHECKPOINTKIT_SLOW", "") not in ("", "0")
LOAD_SECONDS = 30.0 if SLOW else 5.0
PROCESSES = 4
TASKS = 8


def _config(thread: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        c["checkpoint_id"] = checkpoint_id
    return {"configurable": c}


def _step(
    messages: list[Any], version: Any, turn: int
) -> tuple[Checkpoint, list[Any], str, dict[str, Any]]:
    messages = [*messages, f"turn {turn}"]
    version = next_version(version)
    cp = empty_checkpoint()
    cp["channel_values"] = {"messages": messages, "turn": turn}
    cp["channel_versions"] = {"messages": version, "turn": version}
    return cp, messages, version, {"messages": version, "turn": version}


@pytest.fixture
def schema(pg_url: str) -> Iterator[str]:
    name = f"f_{uuid.uuid4().hex[:10]}"
    with PostgresSaver.from_conn_string(pg_url, schema=name):
        pass  # setup
    yield name


def _backend_waiting_on_lock(pg_url: str, app: str, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    with psycopg.connect(pg_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                "AND wait_event_type = 'Lock'",
                (app,),
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError("the saver's call never reached the server")


def _terminate(pg_url: str, pid: int) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _lock_rows(pg_url: str, schema: str, thread: str) -> psycopg.Connection[Any]:
    blocker = psycopg.connect(pg_url)
    blocker.execute(
        sql.SQL("SELECT 1 FROM {}.ck_checkpoints WHERE thread_id = %s FOR UPDATE").format(
            sql.Identifier(schema)
        ),
        (thread,),
    )
    return blocker


def test_killed_backend_mid_call_fails_clearly_and_the_pool_recovers(
    pg_url: str, schema: str
) -> None:
    app = f"ck-fault-{uuid.uuid4().hex[:8]}"
    url = conninfo.make_conninfo(pg_url, application_name=app)
    thread = f"kill-{uuid.uuid4()}"
    with PostgresSaver.from_conn_string(url, schema=schema, max_size=2) as saver:
        messages: list[Any] = []
        version: Any = None
        parent = None
        stored = []
        for turn in range(5):
            cp, messages, version, new = _step(messages, version, turn)
            cfg = saver.put(_config(thread, parent), cp, {"step": turn}, new)
            saver.put_writes(cfg, [("messages", f"w{turn}")], "task")
            stored.append(cfg)
            parent = cfg["configurable"]["checkpoint_id"]
        # Re-putting the last checkpoint waits on a row lock held elsewhere; the saver's
        # backend is terminated while it waits.
        blocker = _lock_rows(pg_url, schema, thread)
        errors: list[BaseException] = []
        last = saver.get_tuple(stored[-1])
        assert last is not None

        def doomed_reput() -> None:
            try:
                saver.put(
                    _config(thread, stored[-2]["configurable"]["checkpoint_id"]),
                    last.checkpoint,
                    {"step": 4},
                    {},
                )
            except BaseException as exc:
                errors.append(exc)

        worker = threading.Thread(target=doomed_reput)
        worker.start()
        _terminate(pg_url, _backend_waiting_on_lock(pg_url, app))
        worker.join(10)
        blocker.rollback()
        blocker.close()
        assert not worker.is_alive()
        assert len(errors) == 1
        assert isinstance(errors[0], psycopg.OperationalError)
        assert "terminat" in str(errors[0]) or "closed" in str(errors[0])
        # The pool replaced the connection; nothing stored before the fault is lost.
        listed = list(saver.list(_config(thread)))
        assert [t.config for t in listed] == stored[::-1]
        for item in listed:
            turn = item.metadata["step"]
            assert item.checkpoint["channel_values"]["messages"] == [
                f"turn {i}" for i in range(turn + 1)
            ]
            assert item.pending_writes == [("task", "messages", f"w{turn}")]
        # The run goes on from where it stopped.
        cp, next_messages, next_version_, new = _step(messages, version, 5)
        saver.put(_config(thread, parent), cp, {"step": 5}, new)
        got = saver.get_tuple(_config(thread))
        assert got is not None
        assert got.checkpoint["channel_values"]["messages"] == next_messages
        assert got.checkpoint["channel_versions"]["messages"] == next_version_


def test_idle_pooled_connections_killed_are_replaced(pg_url: str, schema: str) -> None:
    app = f"ck-idle-{uuid.uuid4().hex[:8]}"
    url = conninfo.make_conninfo(pg_url, application_name=app)
    with PostgresSaver.from_conn_string(
        url, schema=schema, min_size=2, max_size=2, check=True
    ) as saver:
        cp, _, _, new = _step([], None, 0)
        cfg = saver.put(_config("idle"), cp, {}, new)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                (app,),
            )
        for _ in range(4):  # every pooled connection was killed; check=True replaces them
            assert saver.get_tuple(cfg) is not None


@pytest.mark.asyncio
async def test_async_killed_backend_mid_call_fails_clearly_and_the_pool_recovers(
    pg_url: str, schema: str
) -> None:
    app = f"ck-afault-{uuid.uuid4().hex[:8]}"
    url = conninfo.make_conninfo(pg_url, application_name=app)
    thread = f"akill-{uuid.uuid4()}"
    async with AsyncPostgresSaver.from_conn_string(url, schema=schema, max_size=2) as saver:
        cp, messages, version, new = _step([], None, 0)
        cfg = await saver.aput(_config(thread), cp, {"step": 0}, new)
        await saver.aput_writes(cfg, [("messages", "w0")], "task")
        blocker = await asyncio.to_thread(_lock_rows, pg_url, schema, thread)
        doomed = asyncio.create_task(saver.aput(_config(thread), cp, {"step": 0}, {}))
        pid = await asyncio.to_thread(_backend_waiting_on_lock, pg_url, app)
        await asyncio.to_thread(_terminate, pg_url, pid)
        with pytest.raises(psycopg.OperationalError):
            await asyncio.wait_for(doomed, 10)
        blocker.rollback()
        blocker.close()
        got = await saver.aget_tuple(cfg)
        assert got is not None
        assert got.checkpoint["channel_values"]["messages"] == messages
        assert got.pending_writes == [("task", "messages", "w0")]
        cp2, messages2, _, new2 = _step(messages, version, 1)
        await saver.aput(_config(thread, cp["id"]), cp2, {"step": 1}, new2)
        latest = await saver.aget_tuple(_config(thread))
        assert latest is not None and latest.checkpoint["channel_values"]["messages"] == messages2


# -- load ---------------------------------------------------------------------------------------


def _load_worker(url: str, schema: str, seconds: float, proc: int) -> dict[str, int]:
    """One process: TASKS coroutines, each writing its own thread until the deadline."""

    async def task(saver: AsyncPostgresSaver, thread: str, deadline: float) -> int:
        messages: list[Any] = []
        version: Any = None
        parent = None
        turn = 0
        while time.monotonic() < deadline:
            cp, messages, version, new = _step(messages, version, turn)
            cfg = await saver.aput(_config(thread, parent), cp, {"step": turn}, new)
            await saver.aput_writes(cfg, [("messages", turn), ("__error__", "x")], "t1")
            if turn % 5 == 4:
                got = await saver.aget_tuple(_config(thread))
                if got is None or got.checkpoint["channel_values"]["messages"] != messages:
                    raise AssertionError(f"{thread}: read back a different state")
            parent = cfg["configurable"]["checkpoint_id"]
            turn += 1
        return turn

    async def main() -> dict[str, int]:
        async with AsyncPostgresSaver.from_conn_string(
            url, schema=schema, max_size=4, setup=False
        ) as saver:
            deadline = time.monotonic() + seconds
            threads = [f"load-{proc}-{i}-{uuid.uuid4().hex[:6]}" for i in range(TASKS)]
            counts = await asyncio.gather(*(task(saver, t, deadline) for t in threads))
            return dict(zip(threads, counts, strict=True))

    return asyncio.run(main())


def test_load_many_processes_and_tasks(pg_url: str, schema: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(PROCESSES, mp_context=ctx) as pool:
        futures = [
            pool.submit(_load_worker, pg_url, schema, LOAD_SECONDS, p) for p in range(PROCESSES)
        ]
        # A deadlock shows up as a timeout here instead of a hung run.
        results = [f.result(timeout=LOAD_SECONDS + 120) for f in futures]
    counts = {t: n for r in results for t, n in r.items()}
    assert len(counts) == PROCESSES * TASKS
    assert all(n > 0 for n in counts.values())
    with PostgresSaver.from_conn_string(pg_url, schema=schema, setup=False) as saver:
        for thread, n in counts.items():
            listed = list(saver.list(_config(thread)))
            assert len(listed) == n, thread  # no lost checkpoint
            latest = listed[0]
            assert latest.checkpoint["channel_values"]["messages"] == [
                f"turn {i}" for i in range(n)
            ]
            assert latest.pending_writes == [("t1", "__error__", "x"), ("t1", "messages", n - 1)]
        assert set(counts) <= set(saver.list_threads())


# -- engine: a run that loses its connection resumes with invoke(None) -------------------------


class _LogState(TypedDict, total=False):
    log: Annotated[list[str], operator.add]


def test_run_that_loses_its_connection_resumes_with_invoke_none(pg_url: str, schema: str) -> None:
    from checkpointkit.reference_engine import END, START, StateGraph

    app = f"ck-engine-{uuid.uuid4().hex[:8]}"
    url = conninfo.make_conninfo(pg_url, application_name=app)
    ran: list[str] = []
    killed: list[bool] = []

    def step(name: str) -> Any:
        def fn(state: _LogState) -> _LogState:
            ran.append(name)
            if name == "b" and not killed:
                # Every connection of the saver's pool dies while this node runs.
                killed.append(True)
                with psycopg.connect(pg_url, autocommit=True) as conn:
                    conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = %s",
                        (app,),
                    )
            return {"log": [name]}

        return fn

    builder = StateGraph(_LogState)
    for name in ("a", "b", "c"):
        builder.add_node(name, step(name))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    config = {"configurable": {"thread_id": f"engine-{uuid.uuid4()}"}}
    with PostgresSaver.from_conn_string(url, schema=schema, min_size=1, max_size=1) as saver:
        graph = builder.compile(checkpointer=saver)
        with pytest.raises(psycopg.OperationalError):
            graph.invoke({"log": ["in"]}, config, durability="sync")
        # The pool replaced the dead connection; the run resumes from its last checkpoint.
        out = graph.invoke(None, config, durability="sync")
        assert out == {"log": ["in", "a", "b", "c"]}
        assert ran.count("a") == 1  # the step saved before the fault is not run again
        assert ran.count("c") == 1
        history = list(saver.list(_config(config["configurable"]["thread_id"])))
        assert history[0].checkpoint["channel_values"]["log"] == ["in", "a", "b", "c"]
