"""SQLite concurrency: processes sharing a file, threads sharing a saver, re-entrant list, loops."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from checkpointkit.backends.sqlite import AsyncSqliteSaver, SqliteSaver
from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.factories import make_checkpoint

STRESS_SECONDS = 30.0 if os.environ.get("CHECKPOINTKIT_SLOW") == "1" else 5.0
PROCESSES = 4


def _writer(path: str, worker: int, seconds: float, start: Any, out: Any) -> None:
    """Writes as fast as it can to its own threads; reports every stored id or the error."""
    stored: list[tuple[str, str]] = []
    try:
        with SqliteSaver.from_conn_string(path) as saver:
            start.wait(60)
            deadline = time.monotonic() + seconds
            heads: dict[str, str | None] = {}
            messages: dict[str, list[str]] = {}
            n = 0
            while time.monotonic() < deadline:
                thread = f"w{worker}-t{n % 3}"
                messages[thread] = [*messages.get(thread, []), f"m{n}"]
                version = saver.get_next_version(None if n < 3 else f"{n // 3:032d}.0")
                checkpoint = make_checkpoint(
                    {"messages": messages[thread], "n": n}, {"messages": version, "n": version}
                )
                config = saver.put(
                    checkpoint_config(thread, "", heads.get(thread)),
                    checkpoint,
                    {"step": n, "worker": worker},
                    {"messages": version, "n": version},
                )
                saver.put_writes(config, [("out", n), ("__error__", None)], f"task-{n}")
                heads[thread] = config["configurable"]["checkpoint_id"]
                stored.append((thread, checkpoint["id"]))
                if n % 25 == 0:  # readers interleave with writers
                    assert saver.get_tuple(checkpoint_config(thread)) is not None
                    next(iter(saver.list(None, limit=5)), None)
                n += 1
        out.put(("ok", worker, stored))
    except BaseException as exc:
        out.put(("error", worker, f"{type(exc).__name__}: {exc}"))


def test_four_processes_write_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SqliteSaver(path).close()  # schema first, so the race is on data (setup races: schema tests)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(path, w, STRESS_SECONDS, start, out))
        for w in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=STRESS_SECONDS + 120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    errors = [r for r in results if r[0] != "ok"]
    assert errors == []
    stored = [item for r in results for item in r[2]]
    assert len(stored) > 100 * PROCESSES  # "full speed": each process did real work
    with SqliteSaver.from_conn_string(path) as saver:
        listed = {
            (t.config["configurable"]["thread_id"], t.checkpoint["id"]) for t in saver.list(None)
        }
        assert listed == set(stored)  # no lost checkpoint, nothing extra
        for thread in {t for t, _ in stored}:
            latest = saver.get_tuple(checkpoint_config(thread))
            assert latest is not None
            n = latest.checkpoint["channel_values"]["n"]
            assert latest.checkpoint["channel_values"]["messages"][-1] == f"m{n}"
            assert latest.pending_writes == [
                (f"task-{n}", "__error__", None),
                (f"task-{n}", "out", n),
            ]


@pytest.mark.parametrize("where", ["file", "memory"])
def test_one_instance_shared_by_threads(tmp_path: Path, where: str) -> None:
    path = ":memory:" if where == "memory" else str(tmp_path / "threads.db")
    errors: list[BaseException] = []
    with SqliteSaver.from_conn_string(path) as saver:

        def work(worker: int) -> None:
            try:
                parent = None
                for i in range(40):
                    thread = f"thread-{worker}"
                    config = saver.put(
                        checkpoint_config(thread, "", parent),
                        make_checkpoint(
                            {"i": i, "log": list(range(i))}, {"i": i + 1, "log": i + 1}
                        ),
                        {"worker": worker},
                        {"i": i + 1, "log": i + 1},
                    )
                    saver.put_writes(config, [("w", worker)], "task")
                    parent = config["configurable"]["checkpoint_id"]
                    got = saver.get_tuple(config)
                    assert got is not None and got.checkpoint["channel_values"]["log"] == list(
                        range(i)
                    )
                    assert len(list(saver.list({"configurable": {"thread_id": thread}}))) == i + 1
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        assert len(list(saver.list(None))) == 8 * 40
        assert saver.list_threads() == [f"thread-{w}" for w in range(8)]


def _fill(saver: SqliteSaver, thread: str, n: int) -> list[str]:
    parent = None
    ids = []
    for i in range(n):
        config = saver.put(
            checkpoint_config(thread, "", parent),
            make_checkpoint({"i": i}, {"i": i + 1}),
            {},
            {"i": i + 1},
        )
        parent = config["configurable"]["checkpoint_id"]
        ids.append(parent)
    return ids


def test_saver_calls_while_iterating_list(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(tmp_path / "re.db", synchronous="OFF") as saver:
        ids = _fill(saver, "t", 450)  # more than two pages
        seen = []
        done = threading.Event()

        def iterate() -> None:
            for item in saver.list({"configurable": {"thread_id": "t"}}):
                seen.append(item.checkpoint["id"])
                assert saver.get_tuple(item.config) is not None
                new = saver.put(
                    checkpoint_config("t", "", item.checkpoint["id"]),
                    make_checkpoint({"i": -1}, {"i": 10_000}),
                    {},
                    {"i": 10_000},
                )
                saver.put_writes(item.config, [("x", 1)], "nested")
                saver.delete_thread("other")
                assert new["configurable"]["checkpoint_id"] > ids[-1]
            done.set()

        runner = threading.Thread(target=iterate, daemon=True)
        runner.start()
        runner.join(120)
        assert done.is_set(), "list iteration deadlocked or failed"
        # Checkpoints put during the iteration are newer than the cursor: not yielded.
        assert seen == ids[::-1]
        listed = list(saver.list({"configurable": {"thread_id": "t"}}, limit=900))
        assert len(listed) == 900
        assert all(
            t.pending_writes == [("nested", "x", 1)]
            for t in listed
            if t.checkpoint["id"] in set(ids)
        )


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["aiosqlite", "sync-saver"])
async def test_async_calls_while_iterating_alist(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "are.db"
    with SqliteSaver.from_conn_string(path, synchronous="OFF") as filler:
        ids = _fill(filler, "t", 450)
    saver: Any = (
        AsyncSqliteSaver(path, synchronous="OFF")
        if kind == "aiosqlite"
        else SqliteSaver(path, synchronous="OFF")
    )

    async def iterate() -> list[str]:
        seen = []
        async for item in saver.alist({"configurable": {"thread_id": "t"}}):
            seen.append(item.checkpoint["id"])
            assert await saver.aget_tuple(item.config) is not None
            await saver.aput(
                checkpoint_config("t", "", item.checkpoint["id"]),
                make_checkpoint({"i": -1}, {"i": 10_000}),
                {},
                {"i": 10_000},
            )
            await saver.aput_writes(item.config, [("x", 1)], "nested")
        return seen

    try:
        assert await asyncio.wait_for(iterate(), 120) == ids[::-1]
        got = await saver.aget_tuple(checkpoint_config("t", "", ids[0]))
        assert got.pending_writes == [("nested", "x", 1)]
    finally:
        if kind == "aiosqlite":
            await saver.aclose()
        else:
            saver.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["aiosqlite", "sync-saver"])
async def test_waiting_for_a_locked_database_never_blocks_the_loop(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "busy.db"
    SqliteSaver(path).close()
    saver: Any = AsyncSqliteSaver(path) if kind == "aiosqlite" else SqliteSaver(path)
    await saver.aget_tuple(checkpoint_config("t"))  # connect and set up first
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    try:
        put = asyncio.create_task(
            saver.aput(checkpoint_config("t"), make_checkpoint({"a": 1}), {}, {"a": 1})
        )
        await asyncio.sleep(1.0)
        assert not put.done()  # it is waiting for the lock (busy timeout) ...
        blocker.execute("COMMIT")
        config = await asyncio.wait_for(put, 30)  # ... and succeeds once it is released
        assert (await saver.aget_tuple(config)) is not None
    finally:
        tick.cancel()
        blocker.close()
        if kind == "aiosqlite":
            await saver.aclose()
        else:
            saver.close()
    assert len(gaps) > 50
    assert max(gaps) < 0.25  # the loop kept running while the put waited


def test_async_saver_sync_methods(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()

    def on_loop(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    saver = AsyncSqliteSaver(tmp_path / "s.db")
    try:
        with pytest.raises(RuntimeError, match="SqliteSaver"):
            saver.get_tuple(checkpoint_config("t"))  # no loop yet: a clear error
        on_loop(saver.setup())
        # From another thread, sync methods run on the saver's loop.
        config = saver.put(checkpoint_config("t"), make_checkpoint({"a": 1}), {}, {"a": 1})
        saver.put_writes(config, [("x", 1)], "task")
        got = saver.get_tuple(config)
        assert got is not None and got.pending_writes == [("task", "x", 1)]
        assert [t.config for t in saver.list(None)] == [config]
        assert saver.list_threads() == ["t"]

        async def sync_calls_on_loop() -> list[str]:
            failures = []
            calls = [
                lambda: saver.get_tuple(config),
                lambda: saver.put(checkpoint_config("t"), make_checkpoint({"a": 2}), {}, {"a": 2}),
                lambda: saver.put_writes(config, [("y", 1)], "task"),
                lambda: list(saver.list(None)),
                lambda: saver.delete_thread("t"),
            ]
            for call in calls:
                try:
                    call()
                except asyncio.InvalidStateError as exc:
                    failures.append(str(exc))
            return failures

        failures = on_loop(sync_calls_on_loop())
        assert len(failures) == 5
        assert all("await the a-prefixed method" in f for f in failures)
        assert saver.get_tuple(config) is not None  # nothing was deleted
    finally:
        on_loop(saver.aclose())
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        loop.close()
