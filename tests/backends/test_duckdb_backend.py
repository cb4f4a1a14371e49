"""DuckDB saver: connections, setup, one writing process per file, threads and the event loop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from checkpointkit.backends._sql import SchemaTooNewError
from checkpointkit.backends.duckdb import (
    MIGRATIONS,
    SCHEMA_VERSION,
    AsyncDuckDBSaver,
    DatabaseLockedError,
    DuckDBSaver,
)
from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter, make_checkpoint

spec = pytest.mark.spec


def _state(saver: Any, thread: str) -> list[tuple[Any, ...]]:
    return [
        (t.config, t.checkpoint, t.metadata, t.parent_config, t.pending_writes)
        for t in saver.list(checkpoint_config(thread))
    ]


def _fill(saver: Any, thread: str, n: int = 3) -> Any:
    w = ThreadWriter(SaverDriver(saver, "sync"), thread)
    for i in range(n):
        cfg = w.put({"log": [f"m{j}" for j in range(i + 1)], "i": i})
        saver.put_writes(cfg, [("w", i), ("__error__", f"e{i}")], f"task-{i}")
    return w


# -- connections and schema ---------------------------------------------------------------


@spec("DUCK-CONN-001")
@pytest.mark.parametrize("kind", ["str", "pathlike"])
def test_opens_a_path_and_closes_it(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "a.duckdb"
    target: Any = str(path) if kind == "str" else path
    with DuckDBSaver.from_conn_string(target) as saver:
        _fill(saver, "t")
        before = _state(saver, "t")
    with pytest.raises(RuntimeError, match="closed"):
        saver.get_tuple(checkpoint_config("t"))
    saver.close()  # idempotent
    # Closed means released: another connection (even read-only) opens it at once.
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM checkpoints").fetchone() == (3,)
    with DuckDBSaver(path) as again:
        assert _state(again, "t") == before


@spec("DUCK-CONN-001")
def test_in_memory_databases_are_private() -> None:
    with DuckDBSaver(":memory:") as one, DuckDBSaver() as two:
        _fill(one, "t")
        assert len(_state(one, "t")) == 3
        assert _state(two, "t") == []


@spec("DUCK-CONN-001")
def test_borrowed_connection_is_never_closed(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "b.duckdb"))
    saver = DuckDBSaver(con)
    _fill(saver, "t")
    saver.close()
    with pytest.raises(RuntimeError, match="closed"):
        saver.list_threads()
    assert con.execute("SELECT count(*) FROM checkpoints").fetchone() == (3,)
    with DuckDBSaver(con) as again:
        assert len(_state(again, "t")) == 3
    con.close()


@spec("DUCK-CONN-001")
def test_bad_conn_type() -> None:
    with pytest.raises(TypeError, match=r"path or a duckdb\.DuckDBPyConnection"):
        DuckDBSaver(42)  # type: ignore[arg-type]


@spec("DUCK-CONN-001", "DUCK-ASYNC-001")
@pytest.mark.asyncio
async def test_async_from_conn_string(tmp_path: Path) -> None:
    path = tmp_path / "async.duckdb"
    async with AsyncDuckDBSaver.from_conn_string(path) as saver:
        config = await saver.aput(checkpoint_config("t"), make_checkpoint({"a": 1}), {}, {"a": 1})
        await saver.aput_writes(config, [("x", 1)], "task")
        got = await saver.aget_tuple(config)
        assert got is not None and got.pending_writes == [("task", "x", 1)]
        assert [t.config async for t in saver.alist(None)] == [config]
    with pytest.raises(RuntimeError, match="closed"):
        await saver.aget_tuple(config)
    with DuckDBSaver(path) as again:
        assert again.get_tuple(config) is not None


def _migrations(con: Any) -> list[tuple[int, str]]:
    return [
        (int(r[0]), r[1])
        for r in con.execute(
            "SELECT version, name FROM checkpoint_migrations ORDER BY version"
        ).fetchall()
    ]


@spec("DUCK-CONN-002")
def test_setup_is_versioned_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    expected = [(m.version, m.name) for m in MIGRATIONS]
    assert [v for v, _ in expected] == list(range(1, SCHEMA_VERSION + 1))
    with DuckDBSaver(path) as saver:
        _fill(saver, "t")
        before = _state(saver, "t")
        saver.setup()
        saver.setup()
        assert _state(saver, "t") == before
    with DuckDBSaver(path) as saver:
        saver.setup()
        assert _state(saver, "t") == before
    with duckdb.connect(str(path)) as con:
        assert _migrations(con) == expected
        views = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
        }
        assert views == {
            "history_checkpoints",
            "history_writes",
            "history_values",
            "history_channels",
        }


@spec("DUCK-CONN-002")
def test_lazy_setup_on_first_call(tmp_path: Path) -> None:
    with DuckDBSaver(tmp_path / "lazy.duckdb", setup=False) as saver:
        with duckdb.connect(str(tmp_path / "lazy.duckdb")) as con:
            assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
        saver.delete_thread("nothing-yet")  # the first call creates the schema
        assert saver.list_threads() == []


@spec("DUCK-CONN-002")
def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    with DuckDBSaver(path) as saver:
        _fill(saver, "t")
    with duckdb.connect(str(path)) as con:
        con.execute(
            "INSERT INTO checkpoint_migrations VALUES (99, 'from the future', '2030-01-01')"
        )
        before = con.execute("SELECT * FROM checkpoints ORDER BY checkpoint_id").fetchall()
    with pytest.raises(SchemaTooNewError, match=rf"version 99.*\({SCHEMA_VERSION}\)"):
        DuckDBSaver(path)
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT * FROM checkpoints ORDER BY checkpoint_id").fetchall() == before
        assert _migrations(con)[-1] == (99, "from the future")


# -- one writing process per file ---------------------------------------------------------

_OPEN_CHILD = r"""
import json, sys, time
from checkpointkit.backends.duckdb import DatabaseLockedError, DuckDBSaver
started = time.monotonic()
try:
    DuckDBSaver(sys.argv[1])
except DatabaseLockedError as exc:
    print(json.dumps({"type": type(exc).__name__, "message": str(exc), "path": exc.path,
                      "pid": exc.holder_pid, "oserror": isinstance(exc, OSError),
                      "seconds": time.monotonic() - started}))
else:
    print(json.dumps({"type": None}))
"""


@spec("DUCK-LOCK-001")
def test_second_process_gets_a_clear_error(tmp_path: Path) -> None:
    path = str(tmp_path / "locked.duckdb")
    with DuckDBSaver(path) as saver:
        w = _fill(saver, "t")
        before = _state(saver, "t")
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", _OPEN_CHILD, path], capture_output=True, text=True, timeout=60
        )
        assert time.monotonic() - started < 30
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["type"] == "DatabaseLockedError" and report["oserror"]
        assert report["path"] == path and report["pid"] == os.getpid()
        message = report["message"]
        assert path in message
        assert f"locked by process {os.getpid()}" in message
        assert "only one process" in message
        # The first process is unaffected: it reads and writes as before.
        assert _state(saver, "t") == before
        w.put({"after": True})
        assert saver.get_tuple(checkpoint_config("t")).checkpoint["channel_values"]["after"]


_HOLDER_CHILD = r"""
import sys, time
from checkpointkit.backends.duckdb import DuckDBSaver
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter
saver = DuckDBSaver(sys.argv[1])
w = ThreadWriter(SaverDriver(saver, "sync"), "held")
for i in range(int(sys.argv[2])):
    cfg = w.put({"i": i, "log": list(range(i + 1))})
    saver.put_writes(cfg, [("w", i)], f"task-{i}")
    print(cfg["configurable"]["checkpoint_id"], flush=True)
if sys.argv[3] == "exit":
    saver.close()
    sys.exit(0)
print("waiting", flush=True)
time.sleep(600)
"""


@spec("DUCK-LOCK-002")
@pytest.mark.parametrize("how", ["exit", "kill"])
def test_file_opens_after_the_holder_stops(tmp_path: Path, how: str) -> None:
    path = str(tmp_path / "held.duckdb")
    n = 5
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER_CHILD, path, str(n), how],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        ids = [child.stdout.readline().strip() for _ in range(n)]
        if how == "kill":
            assert child.stdout.readline().strip() == "waiting"
            with pytest.raises(DatabaseLockedError):
                DuckDBSaver(path)
            child.send_signal(signal.SIGKILL)
        child.wait(60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == (0 if how == "exit" else -signal.SIGKILL), child.stderr
    with DuckDBSaver(path) as saver:
        listed = list(saver.list(checkpoint_config("held")))
        assert [t.config["configurable"]["checkpoint_id"] for t in listed] == ids[::-1]
        assert listed[0].checkpoint["channel_values"] == {"i": n - 1, "log": list(range(n))}
        assert [t.pending_writes for t in listed] == [
            [(f"task-{i}", "w", i)] for i in reversed(range(n))
        ]
        # And it keeps working after the crash.
        saver.put_writes(listed[0].config, [("w2", 1)], "after")


# -- threads ------------------------------------------------------------------------------


def _run_threads(target: Any, args: list[tuple[Any, ...]]) -> None:
    errors: list[BaseException] = []

    def guarded(*a: Any) -> None:
        try:
            target(*a)
        except BaseException as exc:  # reported below with the other threads' errors
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=a) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


@spec("DUCK-LOCK-003")
def test_threads_share_one_saver(tmp_path: Path) -> None:
    with DuckDBSaver(tmp_path / "threads.duckdb") as saver:
        steps = 12

        def work(name: str) -> None:
            w = ThreadWriter(SaverDriver(saver, "sync"), name)
            for i in range(steps):
                cfg = w.put({"i": i, "log": list(range(i + 1))})
                saver.put_writes(cfg, [("w", i)], "task")
                got = saver.get_tuple(cfg)
                assert got is not None and got.checkpoint["channel_values"]["i"] == i
                assert len(list(saver.list(checkpoint_config(name)))) == i + 1

        names = [f"thread-{k}" for k in range(8)]
        _run_threads(work, [(n,) for n in names])
        assert saver.list_threads() == names
        for n in names:
            head = saver.get_tuple(checkpoint_config(n))
            assert head is not None
            assert head.checkpoint["channel_values"] == {"i": steps - 1, "log": list(range(steps))}


@spec("DUCK-LOCK-003")
def test_readers_see_whole_puts(tmp_path: Path) -> None:
    with DuckDBSaver(tmp_path / "snap.duckdb") as saver:
        stop = threading.Event()
        w = ThreadWriter(SaverDriver(saver, "sync"), "t")
        w.put({"a": 0, "b": 0})

        def write() -> None:
            try:
                for i in range(1, 60):
                    w.put({"a": i, "b": i})
            finally:
                stop.set()

        def read() -> None:
            while not stop.is_set():
                got = saver.get_tuple(checkpoint_config("t"))
                assert got is not None
                values = got.checkpoint["channel_values"]
                assert values["a"] == values["b"], values  # never half a put

        _run_threads(lambda f: f(), [(write,), (read,), (read,)])


@spec("DUCK-LOCK-003")
def test_cursors_of_ended_threads_are_closed(tmp_path: Path) -> None:
    with DuckDBSaver(tmp_path / "cursors.duckdb") as saver:
        _fill(saver, "t", 1)
        for _ in range(20):
            t = threading.Thread(target=saver.get_tuple, args=(checkpoint_config("t"),))
            t.start()
            t.join()
        saver.get_tuple(checkpoint_config("t"))
        # This thread's cursor and at most the one of the thread that ended last.
        assert len(saver._cursors._by_thread) <= 2


@spec("DUCK-LOCK-004")
def test_two_savers_on_one_file_in_one_process(tmp_path: Path) -> None:
    path = tmp_path / "shared.duckdb"
    with DuckDBSaver(path) as one, DuckDBSaver(str(path)) as two:
        config = one.put(checkpoint_config("t"), make_checkpoint({"a": 1}), {}, {"a": 1})
        assert two.get_tuple(config) is not None

        def write(saver: DuckDBSaver, k: int) -> None:
            for i in range(20):
                saver.put_writes(config, [(f"c{k}", i)], f"task-{k}-{i:02d}")
                w = ThreadWriter(SaverDriver(saver, "sync"), f"own-{k}-{i}")
                w.put({"x": i})

        _run_threads(write, [(one if k % 2 else two, k) for k in range(6)])
        got = one.get_tuple(config)
        assert got is not None and len(got.pending_writes) == 6 * 20
        assert len(two.list_threads()) == 1 + 6 * 20


# -- the event loop -----------------------------------------------------------------------


@spec("DUCK-ASYNC-001")
@pytest.mark.parametrize("cls", [DuckDBSaver, AsyncDuckDBSaver])
@pytest.mark.asyncio
async def test_async_calls_do_not_block_the_loop(tmp_path: Path, cls: type[DuckDBSaver]) -> None:
    saver = cls(tmp_path / "loop.duckdb")
    await saver.asetup()
    big = {"blob": [f"item-{i}-" + "x" * 100 for i in range(100_000)]}
    ticks = 0
    stop = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.01)
    started, before = time.monotonic(), ticks
    config = await saver.aput(checkpoint_config("t"), make_checkpoint(big), {}, {"blob": 1})
    got = await saver.aget_tuple(config)
    listed = [t async for t in saver.alist(None)]
    elapsed = time.monotonic() - started
    stop.set()
    await beat
    assert got is not None and got.checkpoint["channel_values"] == big
    assert len(listed) == 1
    # The loop kept ticking through the calls (they took far longer than one tick).
    assert elapsed > 0.05
    assert ticks - before >= 10
    assert threading.current_thread() is threading.main_thread()
    await asyncio.get_running_loop().run_in_executor(None, saver.close)
