"""DuckDB savers: the shared SQL storage design plus views for querying checkpoint history."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import duckdb

from checkpointkit.backends import _core, _sql
from checkpointkit.backends._core import DeltaEncoder
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
from checkpointkit.runs import InProcessRunLocks, RunLease
from checkpointkit.serde import SerializerProtocol

__all__ = [
    "DUCKDB",
    "HISTORY_VIEWS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AsyncDuckDBSaver",
    "DatabaseLockedError",
    "DuckDBSaver",
]

T = TypeVar("T")
PathLike = str | os.PathLike[str]
Cursor = duckdb.DuckDBPyConnection

_RETRIES = 8  # optimistic write-write conflicts between connections of one database
_EXECUTOR_WORKERS = 4
_ROWS_PER_INSERT = 256  # rows of a batched insert sent as one multi-row VALUES statement


def _render_filter_term(column: str, term: FilterTerm, p: str) -> tuple[str, builtins.list[Any]]:
    # The metadata object becomes a MAP and the key is a bound map subscript: a key is data
    # compared for equality, never a JSON path, so quotes, dots and "$" mean nothing.
    value = f"json_transform({column}, '\"MAP(VARCHAR, JSON)\"')[{p}]"
    if term.kind == "text":
        return (
            f"(json_type({value}) = 'VARCHAR' AND json_extract_string({value}, '$') = {p})",
            [term.key, term.key, term.value],
        )
    if term.kind == "number":
        # DOUBLE equality keeps a superset (huge ints); the exact check runs in Python.
        return (
            f"(json_type({value}) IN ('BIGINT', 'UBIGINT', 'DOUBLE') "
            f"AND TRY_CAST({value} AS DOUBLE) = CAST({p} AS DOUBLE))",
            [term.key, term.key, float(term.value)],
        )
    if term.kind in ("true", "false"):
        return (
            f"(json_type({value}) = 'BOOLEAN' AND CAST({value} AS VARCHAR) = '{term.kind}')",
            [term.key, term.key],
        )
    if term.kind == "null":
        # A JSON null becomes a NULL map value; a missing key is not in the map at all.
        return (
            f"map_contains(json_transform({column}, '\"MAP(VARCHAR, JSON)\"'), {p}) "
            f"AND coalesce(json_type({value}), 'NULL') = 'NULL'",
            [term.key, term.key],
        )
    kind = "ARRAY" if term.kind == "array" else "OBJECT"
    return f"json_type({value}) = '{kind}'", [term.key]


DUCKDB = Dialect(name="duckdb", param="?", render_filter_term=_render_filter_term)

# -- schema -------------------------------------------------------------------------------

_TABLES = (
    "CREATE TABLE checkpoints (thread_id VARCHAR NOT NULL, checkpoint_ns VARCHAR NOT NULL "
    "DEFAULT '', checkpoint_id VARCHAR NOT NULL, parent_checkpoint_id VARCHAR, "
    "checkpoint BLOB NOT NULL, metadata JSON NOT NULL, source VARCHAR, step BIGINT, "
    "run_id VARCHAR, PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id))",
    "CREATE TABLE checkpoint_blobs (thread_id VARCHAR NOT NULL, checkpoint_ns VARCHAR NOT NULL, "
    "channel VARCHAR NOT NULL, version VARCHAR NOT NULL, seq BIGINT NOT NULL, kind VARCHAR "
    "NOT NULL, type VARCHAR, data BLOB, base_version VARCHAR, snapshot_seq BIGINT, "
    "PRIMARY KEY (thread_id, checkpoint_ns, channel, version))",
    "CREATE TABLE checkpoint_writes (thread_id VARCHAR NOT NULL, checkpoint_ns VARCHAR NOT "
    "NULL, checkpoint_id VARCHAR NOT NULL, task_id VARCHAR NOT NULL, idx INTEGER NOT NULL, "
    "channel VARCHAR NOT NULL, type VARCHAR NOT NULL, data BLOB NOT NULL, task_path VARCHAR "
    "NOT NULL DEFAULT '', PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx))",
)

# A serializer payload as JSON: tag "json" is JSON text, "null" is JSON null; raw "bytes"
# values have no JSON form (NULL; the bytes stay in the tables).
_JSON_OF = (
    "CASE {t}.type WHEN 'json' THEN CAST(decode({t}.data) AS JSON) "
    "WHEN 'null' THEN CAST('null' AS JSON) END"
)

# UUIDv6 checkpoint ids carry their creation time: 100 ns ticks since 1582-10-15.
_ID_TIME = (
    "CASE WHEN regexp_full_match(c.checkpoint_id, "
    "'[0-9a-f]{8}-[0-9a-f]{4}-6[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}') THEN make_timestamp("
    "(CAST('0x' || substr(c.checkpoint_id, 1, 8) || substr(c.checkpoint_id, 10, 4) AS BIGINT)"
    " * 4096 + CAST('0x' || substr(c.checkpoint_id, 16, 3) AS BIGINT)"
    " - 122192928000000000) // 10) END"
)

HISTORY_VIEWS: dict[str, str] = {
    "history_checkpoints": f"""
CREATE OR REPLACE VIEW history_checkpoints AS
WITH bodies AS (
    SELECT c.*, CAST(decode(c.checkpoint) AS JSON) AS body FROM checkpoints c
), seen AS (
    SELECT c.*,
        json_transform(c.body -> '$.versions_seen', '"MAP(VARCHAR, JSON)"') AS vs,
        json_transform(p.body -> '$.versions_seen', '"MAP(VARCHAR, JSON)"') AS pvs
    FROM bodies c
    LEFT JOIN bodies p
      ON p.thread_id = c.thread_id AND p.checkpoint_ns = c.checkpoint_ns
     AND p.checkpoint_id = c.parent_checkpoint_id
)
SELECT
    c.thread_id,
    c.checkpoint_ns,
    c.checkpoint_id,
    c.parent_checkpoint_id,
    c.step,
    c.source,
    c.run_id,
    list_sort(list_filter(coalesce(map_keys(c.vs), []), lambda k:
        k NOT IN ('__input__', '__interrupt__')
        AND (c.pvs IS NULL OR c.pvs[k] IS NULL
             OR list_sort(map_entries(json_transform(c.pvs[k], '"MAP(VARCHAR, VARCHAR)"')))
                <> list_sort(map_entries(json_transform(c.vs[k], '"MAP(VARCHAR, VARCHAR)"'))))
    )) AS nodes,
    json_transform(c.body -> '$.updated_channels', '["VARCHAR"]') AS updated_channels,
    coalesce(
        TRY_CAST(c.body ->> '$.ts' AS TIMESTAMPTZ) AT TIME ZONE 'UTC', {_ID_TIME}
    ) AS created_at,
    c.metadata,
    c.body AS checkpoint
FROM seen c
""",
    "history_writes": f"""
CREATE OR REPLACE VIEW history_writes AS
SELECT
    w.thread_id,
    w.checkpoint_ns,
    w.checkpoint_id,
    c.step,
    w.task_id,
    w.task_path,
    -- the node of a PULL task from its path: LangGraph's "~__pregel_pull, <node>" or the
    -- reference engine's "('__pregel_pull', '<node>')"
    nullif(coalesce(
        nullif(regexp_extract(w.task_path, '^~__pregel_pull, (.+)$', 1), ''),
        regexp_extract(w.task_path, '^\\(''__pregel_pull'', ''(.+)''\\)$', 1)
    ), '') AS node,
    w.idx,
    w.channel,
    w.channel = '__error__' AS is_error,
    w.channel = '__interrupt__' AS is_interrupt,
    w.type,
    {_JSON_OF.format(t="w")} AS value
FROM checkpoint_writes w
LEFT JOIN checkpoints c
  ON c.thread_id = w.thread_id AND c.checkpoint_ns = w.checkpoint_ns
 AND c.checkpoint_id = w.checkpoint_id
""",
    "history_values": f"""
CREATE OR REPLACE VIEW history_values AS
WITH RECURSIVE chain AS (
    -- An append delta stores only the new items; walk to the full value it extends.
    SELECT b.thread_id, b.checkpoint_ns, b.channel, b.version, b.seq AS link_seq,
        b.kind AS link_kind, b.base_version, b.data
    FROM checkpoint_blobs b WHERE b.kind = 'delta'
    UNION ALL
    SELECT c.thread_id, c.checkpoint_ns, c.channel, c.version, p.seq, p.kind,
        p.base_version, p.data
    FROM chain c JOIN checkpoint_blobs p
      ON p.thread_id = c.thread_id AND p.checkpoint_ns = c.checkpoint_ns
     AND p.channel = c.channel AND p.version = c.base_version
    WHERE c.link_kind = 'delta'
), rebuilt AS (
    SELECT thread_id, checkpoint_ns, channel, version,
        CAST(to_json(flatten(list(CAST(CAST(decode(data) AS JSON) AS JSON[])
            ORDER BY link_seq))) AS JSON) AS value,
        -- bytes of the whole JSON list: brackets, the items, one comma between items
        2 + sum(octet_length(data) - 2)
          + greatest(count(*) FILTER (WHERE octet_length(data) > 2) - 1, 0) AS size
    FROM chain GROUP BY ALL
)
SELECT b.thread_id, b.checkpoint_ns, b.channel, b.version, b.kind, b.type,
    CASE WHEN b.kind = 'delta' THEN r.size ELSE octet_length(b.data) END AS size,
    CASE WHEN b.kind = 'delta' THEN r.value ELSE {_JSON_OF.format(t="b")} END AS value
FROM checkpoint_blobs b
LEFT JOIN rebuilt r USING (thread_id, checkpoint_ns, channel, version)
WHERE b.kind <> 'empty'
""",
    "history_channels": """
CREATE OR REPLACE VIEW history_channels AS
WITH versions AS (
    SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.step,
        unnest(map_entries(json_transform(CAST(decode(c.checkpoint) AS JSON)
            -> '$.channel_versions', '"MAP(VARCHAR, VARCHAR)"'))) AS e
    FROM checkpoints c
)
SELECT v.thread_id, v.checkpoint_ns, v.checkpoint_id, v.step,
    v.e.key AS channel, v.e.value AS version, h.kind, h.type, h.size, h.value
FROM versions v
JOIN history_values h
  ON h.thread_id = v.thread_id AND h.checkpoint_ns = v.checkpoint_ns
 AND h.channel = v.e.key AND h.version = v.e.value
""",
}
"""Read-only views over the tables; ``docs``: the README section on querying history."""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _TABLES),
    Migration(2, "history views", tuple(HISTORY_VIEWS.values())),
)
SCHEMA_VERSION = len(MIGRATIONS)


class DatabaseLockedError(OSError):
    """Another process has the DuckDB file open: DuckDB allows one writing process per file."""

    def __init__(self, path: str, detail: str) -> None:
        pid = re.search(r"PID (\d+)", detail)
        holder = f"process {pid.group(1)}" if pid else "another process"
        super().__init__(
            f"cannot open DuckDB file {path!r}: it is locked by {holder}. DuckDB lets only "
            "one process open a database file for writing; close the saver in that process "
            f"first, or give this process its own file. (DuckDB: {detail})"
        )
        self.path = path
        self.holder_pid = int(pid.group(1)) if pid else None


# -- connections --------------------------------------------------------------------------

_DB_LOCKS: dict[str, threading.RLock] = {}
_DB_LOCKS_GUARD = threading.Lock()


def _database_lock(conn: Cursor) -> threading.RLock:
    # One write lock per database in this process: savers sharing a file queue their writes
    # instead of failing on DuckDB's optimistic write-write conflicts.
    row = conn.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    path = row[0] if row else None
    key = f"file:{os.path.realpath(path)}" if path else f"memory:{id(conn)}"
    with _DB_LOCKS_GUARD:
        return _DB_LOCKS.setdefault(key, threading.RLock())


def _connect(path: str) -> Cursor:
    try:
        return duckdb.connect(path)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseLockedError(path, str(exc)) from None
        raise


class _Cursors:
    """One DuckDB cursor per Python thread, as DuckDB requires for concurrent use."""

    def __init__(self, conn: Cursor, owned: bool) -> None:
        self.conn = conn
        self.owned = owned
        self._local = threading.local()
        self._by_thread: dict[threading.Thread, Cursor] = {}
        self._guard = threading.Lock()
        self.closed = False

    def get(self) -> Cursor:
        if self.closed:
            raise RuntimeError("the DuckDB saver is closed")
        cursor: Cursor | None = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._guard:
                if self.closed:
                    raise RuntimeError("the DuckDB saver is closed")
                for thread in [t for t in self._by_thread if not t.is_alive()]:
                    self._by_thread.pop(thread).close()
                cursor = self.conn.cursor()
                self._by_thread[threading.current_thread()] = cursor
            self._local.cursor = cursor
        return cursor

    def close(self) -> None:
        with self._guard:
            if self.closed:
                return
            self.closed = True
            cursors = list(self._by_thread.values())
            self._by_thread.clear()
        for cursor in cursors:
            with contextlib.suppress(duckdb.Error):
                cursor.close()
        if self.owned:
            self.conn.close()


_VALUES_GROUP = re.compile(r"VALUES (\(\?(?:, \?)*\))")


def _execute(cur: Cursor, query: Query) -> builtins.list[_sql.Row]:
    if not query.many:
        return builtins.list(cur.execute(query.sql, list(query.params)).fetchall())
    rows = [list(r) for r in query.params]
    group = _VALUES_GROUP.search(query.sql)
    if group is None or not query.sql.startswith("INSERT"):
        for row in rows:
            cur.execute(query.sql, row)
        return []
    # DuckDB runs one multi-row INSERT far faster than executemany's statement per row.
    head, tail = query.sql[: group.start()], query.sql[group.end() :]
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        values = ", ".join([group.group(1)] * len(chunk))
        cur.execute(f"{head}VALUES {values}{tail}", [x for row in chunk for x in row])
    return []


def _is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower()


def _rollback(cur: Cursor) -> None:
    with contextlib.suppress(duckdb.Error):
        cur.execute("ROLLBACK")


# -- the savers ---------------------------------------------------------------------------


class DuckDBSaver(SaverBase):
    """Checkpoint saver on a DuckDB database file, or in memory.

    ``conn`` is a path (``":memory:"`` for a private in-memory database) or an open
    ``duckdb.DuckDBPyConnection``, which the saver borrows and never closes. Each calling
    Python thread gets its own cursor; writes to one database are serialised within the
    process. Only one process may open a file (:class:`DatabaseLockedError` otherwise). The
    ``a*`` methods run the same code on worker threads, so they never block an event loop.
    The history views (``history_checkpoints``, ``history_writes``, ``history_values``,
    ``history_channels``) are created by :meth:`setup`.
    """

    def __init__(
        self,
        conn: PathLike | Cursor = ":memory:",
        *,
        serde: SerializerProtocol | None = None,
        snapshot_every: int | None = 32,
        setup: bool = True,
    ) -> None:
        super().__init__(serde=serde)
        if isinstance(conn, duckdb.DuckDBPyConnection):
            self.path: str | None = None
            self._cursors = _Cursors(conn, owned=False)
        elif isinstance(conn, str | os.PathLike):
            self.path = os.fspath(conn)
            self._cursors = _Cursors(_connect(self.path), owned=True)
        else:
            raise TypeError(
                f"conn must be a path or a duckdb.DuckDBPyConnection, got {type(conn).__name__}"
            )
        self._write_lock = _database_lock(self._cursors.conn)
        # Only this process can open the file, so run leases live in this process.
        self._runs = InProcessRunLocks(f"duckdb:{id(self._write_lock)}")
        # Append-only list channels are stored as deltas; None turns that off.
        self._delta = DeltaEncoder(snapshot_every) if snapshot_every else None
        self._executor: ThreadPoolExecutor | None = None
        self._executor_guard = threading.Lock()
        self._is_setup = False
        if setup:
            try:
                self.setup()
            except BaseException:
                self.close()
                raise

    @classmethod
    @contextlib.contextmanager
    def from_conn_string(cls, conn_string: PathLike, **kwargs: Any) -> Iterator[DuckDBSaver]:
        """``with DuckDBSaver.from_conn_string("checkpoints.duckdb") as saver: ...``"""
        saver = cls(conn_string, **kwargs)
        try:
            yield saver
        finally:
            saver.close()

    def __enter__(self) -> DuckDBSaver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every cursor, and the connection if the saver opened it; idempotent."""
        with self._executor_guard:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self._cursors.close()

    def acquire_run(self, thread_id: str, *, owner: str | None = None) -> RunLease:
        """Hold ``thread_id`` for one run (capability ``exclusive_runs``); a held thread
        raises ``ThreadBusyError`` at once. Savers of one file share the leases."""
        return self._runs.acquire(thread_id, owner)

    async def aacquire_run(self, thread_id: str, *, owner: str | None = None) -> RunLease:
        return self._runs.acquire(thread_id, owner)

    def setup(self) -> None:
        """Create or upgrade the schema and views; idempotent."""
        if self._read_only_at_current_schema():
            self._is_setup = True  # a read-only database is read as it is
            return
        self._run(lambda: _sql.migrate_plan(DUCKDB, MIGRATIONS), "write", setup=True)
        self._is_setup = True

    def _read_only_at_current_schema(self) -> bool:
        cur = self._cursors.get()
        row = cur.execute(
            "SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
        if not (row and row[0]):
            return False
        try:
            found = cur.execute(f"SELECT max(version) FROM {DUCKDB.migrations}").fetchone()
        except duckdb.Error:
            found = None
        version = found[0] if found else None
        if version != SCHEMA_VERSION:
            raise RuntimeError(
                f"the read-only DuckDB database is at schema version {version}, not "
                f"{SCHEMA_VERSION}; open it writable once so setup() can create or upgrade it"
            )
        return True

    # -- transactions ---------------------------------------------------------------------
    def _run(self, make_plan: Callable[[], Plan[T]], mode: str, *, setup: bool = False) -> T:
        """Run a plan in one transaction on this thread's cursor (reads see one snapshot).

        A write that loses an optimistic conflict to another connection is retried from
        the start: nothing of it was stored.
        """
        if not setup and not self._is_setup:
            self.setup()
        cur = self._cursors.get()
        execute = functools.partial(_execute, cur)
        if mode == "read":
            cur.execute("BEGIN TRANSACTION")
            try:
                return _sql.run_plan(execute, make_plan())
            finally:
                _rollback(cur)
        with self._write_lock:
            for attempt in range(_RETRIES):
                cur.execute("BEGIN TRANSACTION")
                try:
                    result = _sql.run_plan(execute, make_plan())
                    cur.execute("COMMIT")
                    return result
                except BaseException as exc:
                    _rollback(cur)
                    if not _is_conflict(exc) or attempt == _RETRIES - 1:
                        raise
                time.sleep(0.002 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _forget(self, thread_ids: Sequence[str] | None) -> None:
        if self._delta is not None:
            self._delta.forget(thread_ids)

    # -- core protocol --------------------------------------------------------------------
    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        prepared = _core.prepare_put(
            self.serde, config, checkpoint, metadata, new_versions, self._delta
        )
        stored = self._run(lambda: _sql.put_plan(DUCKDB, prepared), "write")
        if self._delta is not None:
            self._delta.remember(stored)
        row = prepared.row
        return checkpoint_config(row.thread_id, row.checkpoint_ns, row.checkpoint_id)

    def put_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        rows = _core.prepare_writes(self.serde, config, writes, task_id, task_path)
        if rows:
            self._run(lambda: _sql.put_writes_plan(DUCKDB, rows), "write")

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        thread_id, ns, checkpoint_id = _core.read_scope(config, "get_tuple")
        return self._run(
            lambda: _sql.get_tuple_plan(DUCKDB, self.serde, thread_id, ns, checkpoint_id), "read"
        )

    def list(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        cursor = _sql.list_cursor(config, filter, before, limit)  # validates now, not lazily
        return (item for page in self._pages(cursor) for item in page)

    def _pages(self, cursor: _sql.ListCursor) -> Iterator[builtins.list[CheckpointTuple]]:
        # Each page is its own read; nothing is held open while the caller iterates.
        while not cursor.done:
            page = self._next_page(cursor)
            if page:
                yield page

    def _next_page(self, cursor: _sql.ListCursor) -> builtins.list[CheckpointTuple]:
        return self._run(lambda: _sql.list_page_plan(DUCKDB, self.serde, cursor), "read")

    def delete_thread(self, thread_id: str) -> None:
        thread_id = validate_key("thread_id", thread_id)
        self._run(lambda: _sql.delete_thread_plan(DUCKDB, thread_id), "write")
        self._forget([thread_id])

    # -- optional capabilities ------------------------------------------------------------
    def list_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        """Thread ids with at least one checkpoint, ascending, paged by ``after``."""
        limit = _core.check_limit(limit)
        if after is not None and not isinstance(after, str):
            raise TypeError(
                f"list_threads: after must be a str or None, got {type(after).__name__}"
            )
        if limit == 0:
            return []
        return self._run(lambda: _sql.list_threads_plan(DUCKDB, limit, after), "read")

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        source = validate_key("source_thread_id", source_thread_id)
        target = validate_key("target_thread_id", target_thread_id)
        self._run(lambda: _sql.copy_thread_plan(DUCKDB, source, target, self.serde), "write")
        self._forget([target])

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.check_strategy(strategy)
        threads = [validate_key("thread_id", t) for t in thread_ids]
        if not threads:
            return
        self._run(lambda: _sql.prune_plan(DUCKDB, threads, strategy), "write")
        self._forget(threads)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        runs = _sql.validate_run_ids(run_ids)
        if not runs:
            return
        touched = self._run(lambda: _sql.delete_for_runs_plan(DUCKDB, runs), "write")
        self._forget(sorted(touched))

    # -- async twins ----------------------------------------------------------------------
    async def _in_worker(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._executor_guard:
            if self._executor is None:
                if self._cursors.closed:
                    raise RuntimeError("the DuckDB saver is closed")
                self._executor = ThreadPoolExecutor(
                    _EXECUTOR_WORKERS, thread_name_prefix="checkpointkit-duckdb"
                )
            executor = self._executor
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))

    async def asetup(self) -> None:
        await self._in_worker(self.setup)

    async def aput(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        return await self._in_worker(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._in_worker(self.put_writes, config, writes, task_id, task_path)

    async def aget_tuple(self, config: Config) -> CheckpointTuple | None:
        return await self._in_worker(self.get_tuple, config)

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
            for item in await self._in_worker(self._next_page, cursor):
                yield item

    async def adelete_thread(self, thread_id: str) -> None:
        await self._in_worker(self.delete_thread, thread_id)

    async def alist_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        return await self._in_worker(self.list_threads, limit=limit, after=after)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._in_worker(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._in_worker(self.prune, thread_ids, strategy=strategy)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._in_worker(self.delete_for_runs, run_ids)


class AsyncDuckDBSaver(DuckDBSaver):
    """The DuckDB saver for asyncio: ``async with AsyncDuckDBSaver.from_conn_string(path)``.

    Opening, setup, every ``a*`` call and closing run on worker threads (each with its own
    cursor), so the event loop never waits on DuckDB. The sync methods work as well.
    """

    def __init__(
        self,
        conn: PathLike | Cursor = ":memory:",
        *,
        serde: SerializerProtocol | None = None,
        snapshot_every: int | None = 32,
        setup: bool = False,
    ) -> None:
        super().__init__(conn, serde=serde, snapshot_every=snapshot_every, setup=setup)

    @classmethod
    @contextlib.asynccontextmanager
    async def from_conn_string(  # type: ignore[override]
        cls, conn_string: PathLike, **kwargs: Any
    ) -> AsyncIterator[AsyncDuckDBSaver]:
        loop = asyncio.get_running_loop()
        saver = await loop.run_in_executor(None, functools.partial(cls, conn_string, **kwargs))
        try:
            await saver.asetup()
            yield saver
        finally:
            await saver.aclose()

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)
