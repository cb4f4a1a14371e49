"""SQLite savers: ``SqliteSaver`` (sqlite3) and ``AsyncSqliteSaver`` (aiosqlite), one schema."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from checkpointkit.backends import _core, _sql
from checkpointkit.backends._core import DeltaEncoder, PreparedPut
from checkpointkit.backends._sql import Dialect, FilterTerm, Migration, Plan, Query
from checkpointkit.backends.base import SaverBase
from checkpointkit.checkpoint import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    Config,
    checkpoint_config,
    validate_key,
)
from checkpointkit.runs import FileRunLocks, InProcessRunLocks, RunLease
from checkpointkit.serde import SerializerProtocol

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["MIGRATIONS", "SQLITE", "AsyncSqliteSaver", "SqliteSaver"]

T = TypeVar("T")
PathLike = str | os.PathLike[str]

DEFAULT_BUSY_TIMEOUT_MS = 30_000
_BUSY_RETRIES = 5


def _render_filter_term(column: str, term: FilterTerm, p: str) -> tuple[str, builtins.list[Any]]:
    # json_each matches the key as bound data: no JSON path is ever built from a key, so a
    # key with quotes, dots or "$" is just a string compared for equality.
    head = f"EXISTS (SELECT 1 FROM json_each({column}) AS j WHERE j.key = {p} AND "
    if term.kind == "text":
        return head + f"j.type = 'text' AND j.atom = {p})", [term.key, term.value]
    if term.kind == "number":
        return head + f"j.type IN ('integer', 'real') AND j.atom = {p})", [term.key, term.value]
    # null/true/false/array/object: type only (array/object are checked exactly in Python).
    kind = {"null": "null", "true": "true", "false": "false", "array": "array"}.get(
        term.kind, "object"
    )
    return head + f"j.type = '{kind}')", [term.key]


SQLITE = Dialect(name="sqlite", param="?", render_filter_term=_render_filter_term)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema",
        (
            "CREATE TABLE checkpoints (thread_id TEXT NOT NULL, checkpoint_ns TEXT NOT NULL "
            "DEFAULT '', checkpoint_id TEXT NOT NULL, parent_checkpoint_id TEXT, checkpoint "
            "BLOB NOT NULL, metadata TEXT NOT NULL, source TEXT, step INTEGER, "
            "PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id))",
            "CREATE TABLE checkpoint_blobs (thread_id TEXT NOT NULL, checkpoint_ns TEXT NOT NULL, "
            "channel TEXT NOT NULL, version TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT "
            "NULL, type TEXT, data BLOB, base_version TEXT, snapshot_seq INTEGER, "
            "PRIMARY KEY (thread_id, checkpoint_ns, channel, version))",
            "CREATE TABLE checkpoint_writes (thread_id TEXT NOT NULL, checkpoint_ns TEXT NOT NULL, "
            "checkpoint_id TEXT NOT NULL, task_id TEXT NOT NULL, idx INTEGER NOT NULL, channel "
            "TEXT NOT NULL, type TEXT NOT NULL, data BLOB NOT NULL, task_path TEXT NOT NULL "
            "DEFAULT '', PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx))",
        ),
    ),
    Migration(
        2,
        "run_id column, list and delta-chain indexes",
        (
            "ALTER TABLE checkpoints ADD COLUMN run_id TEXT",
            # Rows written by schema 1 get their run_id from metadata, as put stores it.
            "UPDATE checkpoints SET run_id = json_extract(metadata, '$.run_id') "
            "WHERE json_type(metadata, '$.run_id') = 'text'",
            "CREATE INDEX checkpoints_run_id_idx ON checkpoints (run_id) WHERE run_id IS NOT NULL",
            "CREATE INDEX checkpoints_id_idx ON checkpoints (checkpoint_id, thread_id, checkpoint_ns)",
            "CREATE INDEX checkpoint_blobs_seq_idx ON checkpoint_blobs "
            "(thread_id, checkpoint_ns, channel, seq)",
        ),
    ),
    Migration(
        3,
        "index for listing a thread newest first",
        (
            "CREATE INDEX checkpoints_thread_list_idx ON checkpoints "
            "(thread_id, checkpoint_id DESC, checkpoint_ns)",
        ),
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def _setup_plan() -> Plan[builtins.list[int]]:
    found = yield Query(
        "SELECT name FROM sqlite_master WHERE type = 'table' "
        "AND name IN ('checkpoints', 'writes', 'checkpoint_migrations')"
    )
    names = {r[0] for r in found}
    if "checkpoints" in names and "checkpoint_migrations" not in names:
        raise ValueError(
            "this SQLite file already has a 'checkpoints' table not made by checkpointkit "
            "(LangGraph's SqliteSaver uses that name); use a separate file"
        )
    return (yield from _sql.migrate_plan(SQLITE, MIGRATIONS))


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _configure(conn: sqlite3.Connection, busy_timeout_ms: int, synchronous: str) -> None:
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        with contextlib.suppress(sqlite3.OperationalError):  # read-only or :memory: files
            conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")


def _check_synchronous(synchronous: str) -> str:
    value = synchronous.upper()
    if value not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
    return value


class _Common(SaverBase):
    """Argument handling shared by the sync and async savers (plans are built here)."""

    _delta: DeltaEncoder | None

    def _init_common(self, serde: SerializerProtocol | None, snapshot_every: int | None) -> None:
        SaverBase.__init__(self, serde=serde)
        # Append-only list channels are stored as deltas; None turns that off.
        self._delta = DeltaEncoder(snapshot_every) if snapshot_every else None

    def _put_plan(
        self, config: Config, checkpoint: Checkpoint, metadata: Any, new_versions: Any
    ) -> Callable[[], Plan[PreparedPut]]:
        prepared = _core.prepare_put(
            self.serde, config, checkpoint, metadata, new_versions, self._delta
        )
        return lambda: _sql.put_plan(SQLITE, prepared)

    def _stored(self, prepared: PreparedPut) -> Config:
        if self._delta is not None:
            self._delta.remember(prepared)
        row = prepared.row
        return checkpoint_config(row.thread_id, row.checkpoint_ns, row.checkpoint_id)

    def _forget(self, thread_ids: Sequence[str] | None) -> None:
        if self._delta is not None:
            self._delta.forget(thread_ids)

    # -- exclusive runs (capability exclusive_runs) ----------------------------------------
    _run_lock_table: FileRunLocks | InProcessRunLocks | None = None

    def _database_file(self) -> str | None:
        raise NotImplementedError

    def _run_locks(self) -> FileRunLocks | InProcessRunLocks:
        if self._run_lock_table is None:
            path = self._database_file()
            self._run_lock_table = (
                FileRunLocks(path) if path else InProcessRunLocks(f"sqlite:{uuid.uuid4()}")
            )
        return self._run_lock_table

    def acquire_run(self, thread_id: str, *, owner: str | None = None) -> RunLease:
        """Hold ``thread_id`` for one run: an ``flock`` on a file in ``<database>.runs/``,
        dropped by the kernel if this process dies. A held thread raises
        ``ThreadBusyError`` at once."""
        return self._run_locks().acquire(thread_id, owner)

    async def aacquire_run(self, thread_id: str, *, owner: str | None = None) -> RunLease:
        return self._run_locks().acquire(thread_id, owner)


class SqliteSaver(_Common):
    """A saver on one SQLite file (or ``":memory:"``) through the standard ``sqlite3``.

    One connection serves the instance and a lock serialises transactions, so the instance
    is safe to share between Python threads; the lock is never held while a caller
    iterates ``list``. Several processes can share a file: the database runs in WAL mode
    and waits up to ``busy_timeout_ms`` for the write lock. ``synchronous`` is the SQLite
    durability level (``FULL``: a committed put survives power loss; ``NORMAL``: survives a
    process crash, faster). Coroutine methods run the sync ones in a worker thread.
    """

    def __init__(
        self,
        conn: sqlite3.Connection | PathLike,
        *,
        serde: SerializerProtocol | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        synchronous: str = "FULL",
        snapshot_every: int | None = 32,
        setup: bool = True,
    ) -> None:
        self._init_common(serde, snapshot_every)
        self._lock = threading.RLock()
        self._owns_conn = not isinstance(conn, sqlite3.Connection)
        if isinstance(conn, sqlite3.Connection):
            self.conn = conn
        else:
            self.conn = sqlite3.connect(
                os.fspath(conn),
                check_same_thread=False,
                isolation_level=None,
                timeout=busy_timeout_ms / 1000,
            )
        _configure(self.conn, busy_timeout_ms, _check_synchronous(synchronous))
        self._is_setup = False
        if setup:
            self.setup()

    @classmethod
    @contextlib.contextmanager
    def from_conn_string(cls, conn_string: PathLike, **kwargs: Any) -> Iterator[SqliteSaver]:
        """``with SqliteSaver.from_conn_string("checkpoints.db") as saver: ...``"""
        saver = cls(conn_string, **kwargs)
        try:
            yield saver
        finally:
            saver.close()

    def close(self) -> None:
        """Close the connection if this saver opened it."""
        if self._owns_conn:
            with self._lock:
                self.conn.close()

    def __enter__(self) -> SqliteSaver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def setup(self) -> None:
        """Create or upgrade the schema; idempotent and safe when processes race on it."""
        with self._lock:
            self._run(_setup_plan, "write")
            self._is_setup = True

    def _database_file(self) -> str | None:
        with self._lock:
            rows = self.conn.execute("PRAGMA database_list").fetchall()
        main = [r[2] for r in rows if r[1] == "main"]
        return main[0] if main and main[0] else None

    # -- transactions ---------------------------------------------------------------------
    def _execute(self, query: Query) -> builtins.list[_sql.Row]:
        if query.many:
            self.conn.executemany(query.sql, query.params)
            return []
        return self.conn.execute(query.sql, query.params).fetchall()

    def _run(self, make_plan: Callable[[], Plan[T]], mode: str) -> T:
        """Run a plan in one transaction (``write``: ``BEGIN IMMEDIATE``; ``read``: a
        snapshot). A busy database is retried from the start: nothing was stored yet."""
        with self._lock:
            if self.conn.in_transaction:
                raise RuntimeError(
                    "the SQLite connection has an open transaction; commit it before using "
                    "the saver"
                )
            for attempt in range(_BUSY_RETRIES + 1):
                try:
                    self.conn.execute("BEGIN IMMEDIATE" if mode == "write" else "BEGIN")
                except sqlite3.OperationalError as exc:
                    if attempt < _BUSY_RETRIES and _is_busy(exc):
                        time.sleep(0.01 * 2**attempt)
                        continue
                    raise
                try:
                    result = _sql.run_plan(self._execute, make_plan())
                    self.conn.execute("COMMIT")
                    return result
                except BaseException as exc:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    if (
                        isinstance(exc, sqlite3.OperationalError)
                        and _is_busy(exc)
                        and attempt < _BUSY_RETRIES
                    ):
                        time.sleep(0.01 * 2**attempt)
                        continue
                    raise
            raise AssertionError("unreachable")

    # -- core protocol --------------------------------------------------------------------
    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        with self._lock:  # encode deltas against the cache state the write will see
            prepared = self._run(
                self._put_plan(config, checkpoint, metadata, new_versions), "write"
            )
            return self._stored(prepared)

    def put_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        rows = _core.prepare_writes(self.serde, config, writes, task_id, task_path)
        if rows:
            self._run(lambda: _sql.put_writes_plan(SQLITE, rows), "write")

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        thread_id, ns, checkpoint_id = _core.read_scope(config, "get_tuple")
        return self._run(
            lambda: _sql.get_tuple_plan(SQLITE, self.serde, thread_id, ns, checkpoint_id), "read"
        )

    def list(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        cursor = _sql.list_cursor(config, filter, before, limit)
        return self._pages(cursor)

    def _pages(self, cursor: _sql.ListCursor) -> Iterator[CheckpointTuple]:
        # Each page is read in its own transaction and fully fetched before yielding, so
        # the caller may call the saver (or another thread may write) between items.
        while not cursor.done:
            yield from self._run(lambda: _sql.list_page_plan(SQLITE, self.serde, cursor), "read")

    def delete_thread(self, thread_id: str) -> None:
        thread_id = validate_key("thread_id", thread_id)
        with self._lock:
            self._run(lambda: _sql.delete_thread_plan(SQLITE, thread_id), "write")
            self._forget([thread_id])

    # -- optional capabilities -------------------------------------------------------------
    def list_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        """Thread ids with at least one checkpoint, ascending, paged by ``after``."""
        limit = _core.check_limit(limit)
        return self._run(lambda: _sql.list_threads_plan(SQLITE, limit, after), "read")

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        source = validate_key("source_thread_id", source_thread_id)
        target = validate_key("target_thread_id", target_thread_id)
        with self._lock:
            self._run(lambda: _sql.copy_thread_plan(SQLITE, source, target, self.serde), "write")
            self._forget([target])

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.check_strategy(strategy)
        threads = [validate_key("thread_id", t) for t in thread_ids]
        if not threads:
            return
        with self._lock:
            self._run(lambda: _sql.prune_plan(SQLITE, threads, strategy), "write")
            self._forget(threads)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        runs = _sql.validate_run_ids(run_ids)
        if not runs:
            return
        with self._lock:
            touched = self._run(lambda: _sql.delete_for_runs_plan(SQLITE, runs), "write")
            self._forget(sorted(touched))

    # -- async twins (worker thread, so the event loop never blocks) ----------------------
    async def aput(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def aget_tuple(self, config: Config) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        cursor = _sql.list_cursor(config, filter, before, limit)
        while not cursor.done:
            page = await asyncio.to_thread(
                self._run, lambda: _sql.list_page_plan(SQLITE, self.serde, cursor), "read"
            )
            for item in page:
                yield item

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def alist_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        return await asyncio.to_thread(self.list_threads, limit=limit, after=after)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)


class AsyncSqliteSaver(_Common):
    """The asyncio saver on ``aiosqlite``: every statement runs on aiosqlite's own thread,
    so the event loop never waits on the database.

    Give it a path (the connection opens on first use or in ``from_conn_string``) or an
    ``aiosqlite`` connection. It belongs to the event loop that first uses it. Its sync
    methods work from other threads (they run on that loop); called on the loop's own
    thread they raise ``asyncio.InvalidStateError`` instead of deadlocking.
    """

    def __init__(
        self,
        conn: aiosqlite.Connection | PathLike,
        *,
        serde: SerializerProtocol | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        synchronous: str = "FULL",
        snapshot_every: int | None = 32,
    ) -> None:
        self._init_common(serde, snapshot_every)
        self._path: str | None = None
        self._conn: aiosqlite.Connection | None = None
        if isinstance(conn, str | os.PathLike):
            self._path = os.fspath(conn)
        else:
            self._conn = conn
        self._owns_conn = self._path is not None
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = _check_synchronous(synchronous)
        self._configured = False
        self._lock = asyncio.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def from_conn_string(
        cls, conn_string: PathLike, **kwargs: Any
    ) -> AsyncIterator[AsyncSqliteSaver]:
        """``async with AsyncSqliteSaver.from_conn_string("checkpoints.db") as saver: ...``"""
        saver = cls(conn_string, **kwargs)
        try:
            await saver.setup()
            yield saver
        finally:
            await saver.aclose()

    def _database_file(self) -> str | None:
        path = self._path
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        return path

    async def __aenter__(self) -> AsyncSqliteSaver:
        await self.setup()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection if this saver opened it."""
        if self._owns_conn and self._conn is not None:
            async with self._lock:
                conn, self._conn = self._conn, None
                self._configured = False
                await conn.close()

    async def setup(self) -> None:
        """Create or upgrade the schema; idempotent and safe when processes race on it."""
        await self._run(_setup_plan, "write")

    # -- transactions ---------------------------------------------------------------------
    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is None or self.loop.is_closed():
            self.loop = loop
        elif self.loop is not loop:
            raise RuntimeError(
                "this AsyncSqliteSaver belongs to another event loop; create one saver per loop"
            )

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            import aiosqlite

            assert self._path is not None
            self._conn = await aiosqlite.connect(
                self._path, isolation_level=None, timeout=self._busy_timeout_ms / 1000
            )
        if not self._configured:
            conn = self._conn
            await conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            mode = await conn.execute_fetchall("PRAGMA journal_mode")
            if next(iter(mode))[0].lower() != "wal":
                with contextlib.suppress(Exception):
                    await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            self._configured = True
            await self._transaction(conn, _setup_plan, "write")
        return self._conn

    async def _execute(self, query: Query) -> builtins.list[_sql.Row]:
        conn = self._conn
        assert conn is not None
        if query.many:
            await conn.executemany(query.sql, query.params)
            return []
        return builtins.list(await conn.execute_fetchall(query.sql, query.params))

    async def _transaction(
        self, conn: aiosqlite.Connection, make_plan: Callable[[], Plan[T]], mode: str
    ) -> T:
        if conn.in_transaction:
            raise RuntimeError(
                "the aiosqlite connection has an open transaction; commit it before using the saver"
            )
        for attempt in range(_BUSY_RETRIES + 1):
            try:
                await conn.execute("BEGIN IMMEDIATE" if mode == "write" else "BEGIN")
            except sqlite3.OperationalError as exc:
                if attempt < _BUSY_RETRIES and _is_busy(exc):
                    await asyncio.sleep(0.01 * 2**attempt)
                    continue
                raise
            try:
                result = await _sql.arun_plan(self._execute, make_plan())
                await conn.execute("COMMIT")
                return result
            except BaseException as exc:
                if conn.in_transaction:
                    await asyncio.shield(conn.execute("ROLLBACK"))
                if (
                    isinstance(exc, sqlite3.OperationalError)
                    and _is_busy(exc)
                    and attempt < _BUSY_RETRIES
                ):
                    await asyncio.sleep(0.01 * 2**attempt)
                    continue
                raise
        raise AssertionError("unreachable")

    async def _run(self, make_plan: Callable[[], Plan[T]], mode: str) -> T:
        self._bind_loop()
        async with self._lock:
            conn = await self._connection()
            return await self._transaction(conn, make_plan, mode)

    def _sync(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            coro.close()
            raise asyncio.InvalidStateError(
                "AsyncSqliteSaver's synchronous methods cannot be called from an event loop "
                "thread (it would block or deadlock the loop); await the a-prefixed method "
                "(e.g. `await saver.aget_tuple(...)`), or use SqliteSaver in sync code"
            )
        loop = self.loop
        if loop is None or not loop.is_running():
            coro.close()
            raise RuntimeError(
                "AsyncSqliteSaver's synchronous methods need the saver's event loop running in "
                "another thread; use SqliteSaver in sync code"
            )
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    # -- core protocol (async) -------------------------------------------------------------
    async def aput(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        self._bind_loop()
        async with self._lock:  # delta encoding and commit see the same cache state
            conn = await self._connection()
            plan = self._put_plan(config, checkpoint, metadata, new_versions)
            prepared = await self._transaction(conn, plan, "write")
            return self._stored(prepared)

    async def aput_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        rows = _core.prepare_writes(self.serde, config, writes, task_id, task_path)
        if rows:
            await self._run(lambda: _sql.put_writes_plan(SQLITE, rows), "write")

    async def aget_tuple(self, config: Config) -> CheckpointTuple | None:
        thread_id, ns, checkpoint_id = _core.read_scope(config, "get_tuple")
        return await self._run(
            lambda: _sql.get_tuple_plan(SQLITE, self.serde, thread_id, ns, checkpoint_id), "read"
        )

    async def alist(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        cursor = _sql.list_cursor(config, filter, before, limit)
        while not cursor.done:
            # The lock is released between pages: the caller may await the saver meanwhile.
            page = await self._run(lambda: _sql.list_page_plan(SQLITE, self.serde, cursor), "read")
            for item in page:
                yield item

    async def adelete_thread(self, thread_id: str) -> None:
        thread_id = validate_key("thread_id", thread_id)
        await self._run(lambda: _sql.delete_thread_plan(SQLITE, thread_id), "write")
        self._forget([thread_id])

    async def alist_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        limit = _core.check_limit(limit)
        return await self._run(lambda: _sql.list_threads_plan(SQLITE, limit, after), "read")

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        source = validate_key("source_thread_id", source_thread_id)
        target = validate_key("target_thread_id", target_thread_id)
        await self._run(lambda: _sql.copy_thread_plan(SQLITE, source, target, self.serde), "write")
        self._forget([target])

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.check_strategy(strategy)
        threads = [validate_key("thread_id", t) for t in thread_ids]
        if threads:
            await self._run(lambda: _sql.prune_plan(SQLITE, threads, strategy), "write")
            self._forget(threads)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        runs = _sql.validate_run_ids(run_ids)
        if runs:
            touched = await self._run(lambda: _sql.delete_for_runs_plan(SQLITE, runs), "write")
            self._forget(sorted(touched))

    # -- sync bridges ---------------------------------------------------------------------
    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        return self._sync(self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._sync(self.aput_writes(config, writes, task_id, task_path))

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        return self._sync(self.aget_tuple(config))

    def list(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        cursor = _sql.list_cursor(config, filter, before, limit)
        while not cursor.done:
            yield from self._sync(
                self._run(lambda: _sql.list_page_plan(SQLITE, self.serde, cursor), "read")
            )

    def delete_thread(self, thread_id: str) -> None:
        self._sync(self.adelete_thread(thread_id))

    def list_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        return self._sync(self.alist_threads(limit=limit, after=after))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._sync(self.acopy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._sync(self.aprune(thread_ids, strategy=strategy))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._sync(self.adelete_for_runs(run_ids))
