"""PostgreSQL checkpoint savers, sync and async, on psycopg 3 connections or pools."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import hashlib
import re
import threading
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, Literal, TypeVar

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg import pq, sql
from psycopg.rows import tuple_row

from checkpointkit.backends import _core, _sql
from checkpointkit.backends._core import BlobRow, CheckpointRow, PreparedPut, WriteRow
from checkpointkit.backends._sql import Migration
from checkpointkit.backends.base import SaverBase
from checkpointkit.checkpoint import (
    MAX_ID_BYTES,
    MAX_KEY_BYTES,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    Config,
    checkpoint_config,
    validate_key,
)
from checkpointkit.errors import ThreadBusyError
from checkpointkit.ids import version_number
from checkpointkit.runs import RunLease, default_owner
from checkpointkit.serde import SerializerProtocol

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "AsyncPostgresSaver", "PostgresSaver"]

T = TypeVar("T")

# list() fetches this many checkpoints per round trip, then lets go of the connection
PAGE_SIZE = 128

# -- schema -------------------------------------------------------------------------------
# Every key column uses COLLATE "C" so SQL ordering and comparisons equal Python str order.
# Version n of the schema is MIGRATIONS[n - 1]; applied versions are rows of ck_migrations.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema",
        (
            """CREATE TABLE IF NOT EXISTS {s}.ck_checkpoints (
            thread_id TEXT COLLATE "C" NOT NULL,
            checkpoint_ns TEXT COLLATE "C" NOT NULL,
            checkpoint_id TEXT COLLATE "C" NOT NULL,
            parent_checkpoint_id TEXT COLLATE "C",
            checkpoint JSON NOT NULL,
            metadata JSONB NOT NULL,
            metadata_exact BYTEA,
            run_id TEXT COLLATE "C",
            PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id))""",
            """CREATE INDEX IF NOT EXISTS ck_checkpoints_run_id
            ON {s}.ck_checkpoints (run_id) WHERE run_id IS NOT NULL""",
            """CREATE TABLE IF NOT EXISTS {s}.ck_blobs (
            thread_id TEXT COLLATE "C" NOT NULL,
            checkpoint_ns TEXT COLLATE "C" NOT NULL,
            channel TEXT COLLATE "C" NOT NULL,
            seq NUMERIC NOT NULL,
            version TEXT COLLATE "C" NOT NULL,
            kind TEXT NOT NULL,
            type TEXT,
            data BYTEA,
            base_version TEXT COLLATE "C",
            snapshot_seq NUMERIC,
            PRIMARY KEY (thread_id, checkpoint_ns, channel, seq, version),
            CONSTRAINT ck_blobs_delta_base
                CHECK (kind <> 'delta' OR (base_version IS NOT NULL AND snapshot_seq IS NOT NULL)))""",
            """CREATE TABLE IF NOT EXISTS {s}.ck_writes (
            thread_id TEXT COLLATE "C" NOT NULL,
            checkpoint_ns TEXT COLLATE "C" NOT NULL,
            checkpoint_id TEXT COLLATE "C" NOT NULL,
            task_id TEXT COLLATE "C" NOT NULL,
            idx INTEGER NOT NULL,
            channel TEXT COLLATE "C" NOT NULL,
            type TEXT NOT NULL,
            data BYTEA NOT NULL,
            task_path TEXT COLLATE "C" NOT NULL DEFAULT '',
            PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx))""",
        ),
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_DELTA_BASE_CONSTRAINT = "ck_blobs_delta_base"
_DIGITS = re.compile(r"-?[0-9]+")

# Blob rows a checkpoint reads: one per (channel, version) of its channel_versions, plus the
# rows a delta needs to be rebuilt (same channel, seq from its snapshot up to its own).
_BLOB_COLS = "b.channel, b.version, b.kind, b.type, b.data, b.base_version"
_SEQ_OF = (
    "CASE WHEN split_part(v.version, '.', 1) ~ '^-?[0-9]+$' "
    "THEN split_part(v.version, '.', 1)::numeric END"
)


def _read_sql(s: str, where: str, order_limit: bool = True) -> str:
    # Per channel: one probe for its (channel, version) row; only for a delta row, one index
    # range scan for its chain (seq from the snapshot up to its own).
    # OFFSET 0 keeps each lateral a parameterised index probe: the planner cannot estimate
    # json_each_text and would otherwise hash-join whole threads.
    blobs = f"""
        SELECT x.channel, x.version, x.kind, x.type, x.data, x.base_version
        FROM json_each_text(c.checkpoint -> 'channel_versions') AS v(channel, version)
        CROSS JOIN LATERAL (
            SELECT * FROM {s}.ck_blobs b
            WHERE b.thread_id = c.thread_id AND b.checkpoint_ns = c.checkpoint_ns
              AND b.channel = v.channel AND b.seq = {_SEQ_OF} AND b.version = v.version
            OFFSET 0) k
        CROSS JOIN LATERAL (
            SELECT k.* UNION ALL
            SELECT * FROM {s}.ck_blobs d
            WHERE k.kind = 'delta' AND d.thread_id = c.thread_id
              AND d.checkpoint_ns = c.checkpoint_ns AND d.channel = v.channel
              AND d.seq >= k.snapshot_seq AND d.seq < k.seq) x"""
    limit = (
        "ORDER BY checkpoint_id DESC, thread_id, checkpoint_ns LIMIT %(limit)s"
        if order_limit
        else ""
    )
    return f"""
WITH c AS MATERIALIZED (
    SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint,
           metadata, metadata_exact
    FROM {s}.ck_checkpoints WHERE {where} {limit})
SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id,
       c.checkpoint::text, c.metadata::text, c.metadata_exact,
       bl.channels, bl.versions, bl.kinds, bl.types, bl.datas, bl.bases,
       wr.task_ids, wr.idxs, wr.channels, wr.types, wr.datas, wr.paths
FROM c
LEFT JOIN LATERAL (
    SELECT array_agg(x.channel) AS channels, array_agg(x.version) AS versions,
           array_agg(x.kind) AS kinds, array_agg(x.type) AS types,
           array_agg(x.data) AS datas, array_agg(x.base_version) AS bases
    FROM ({blobs}
    ) x
) bl ON true
LEFT JOIN LATERAL (
    SELECT array_agg(w.task_id) AS task_ids,
           array_agg(w.idx) AS idxs,
           array_agg(w.channel) AS channels,
           array_agg(w.type) AS types,
           array_agg(w.data) AS datas,
           array_agg(w.task_path) AS paths
    FROM {s}.ck_writes w
    WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = c.checkpoint_ns
      AND w.checkpoint_id = c.checkpoint_id
) wr ON true
ORDER BY c.checkpoint_id DESC, c.thread_id, c.checkpoint_ns"""


class _Statements:
    def __init__(self, schema: str) -> None:
        s = sql.Identifier(schema).as_string(None)
        self.schema = schema
        self.migrations = [
            dataclasses.replace(m, statements=tuple(st.format(s=s) for st in m.statements))
            for m in MIGRATIONS
        ]
        self.dialect = _sql.Dialect("postgresql", param="%s", migrations=f"{s}.ck_migrations")
        self.create_schema = f"CREATE SCHEMA IF NOT EXISTS {s}"
        self.schema_exists = "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)"
        self.lock = "SELECT pg_advisory_xact_lock(%s::bigint)"
        self.lock_shared = "SELECT pg_advisory_xact_lock_shared(%s::bigint)"
        self.put = f"""
WITH blobs_in AS (
    INSERT INTO {s}.ck_blobs (thread_id, checkpoint_ns, channel, seq, version, kind, type,
                              data, base_version, snapshot_seq)
    SELECT %(thread)s, %(ns)s, u.channel, u.seq, u.version, u.kind, u.type, u.data,
           CASE WHEN u.kind = 'delta' THEN (
               SELECT b.version FROM {s}.ck_blobs b
               WHERE b.thread_id = %(thread)s AND b.checkpoint_ns = %(ns)s
                 AND b.channel = u.channel AND b.seq = u.base_seq
                 AND b.version = u.base_version) END,
           u.snapshot_seq
    FROM unnest(%(channels)s::text[], %(seqs)s::text[]::numeric[], %(versions)s::text[],
                %(kinds)s::text[], %(types)s::text[], %(datas)s::bytea[],
                %(bases)s::text[], %(base_seqs)s::text[]::numeric[],
                %(snaps)s::text[]::numeric[])
         AS u(channel, seq, version, kind, type, data, base_version, base_seq, snapshot_seq)
    ON CONFLICT DO NOTHING
    RETURNING channel)
INSERT INTO {s}.ck_checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id,
                                checkpoint, metadata, metadata_exact, run_id)
VALUES (%(thread)s, %(ns)s, %(id)s, %(parent)s, %(body)s::json, %(meta)s::jsonb,
        %(exact)s::bytea, %(run)s)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET
    parent_checkpoint_id = EXCLUDED.parent_checkpoint_id, checkpoint = EXCLUDED.checkpoint,
    metadata = EXCLUDED.metadata, metadata_exact = EXCLUDED.metadata_exact,
    run_id = EXCLUDED.run_id
RETURNING (SELECT coalesce(array_agg(channel), '{{}}') FROM blobs_in)"""
        # Regular writes are first-wins, special ones (idx < 0) last-wins, row by row.
        self.put_writes = f"""
INSERT INTO {s}.ck_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel,
                           type, data, task_path)
SELECT %(thread)s, %(ns)s, %(id)s, %(task)s, u.idx, u.channel, u.type, u.data, %(path)s
FROM unnest(%(idxs)s::int[], %(channels)s::text[], %(types)s::text[], %(datas)s::bytea[])
     AS u(idx, channel, type, data)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO UPDATE SET
    channel = EXCLUDED.channel, type = EXCLUDED.type, data = EXCLUDED.data,
    task_path = EXCLUDED.task_path
WHERE EXCLUDED.idx < 0"""
        self.blobs_by_key = f"""
WITH k AS (
    SELECT * FROM unnest(%(threads)s::text[], %(nss)s::text[], %(channels)s::text[],
                         %(seqs)s::text[]::numeric[], %(versions)s::text[])
         AS k(thread_id, checkpoint_ns, channel, seq, version)),
b AS (
    SELECT b.* FROM k JOIN {s}.ck_blobs b ON b.thread_id = k.thread_id
        AND b.checkpoint_ns = k.checkpoint_ns AND b.channel = k.channel AND b.seq = k.seq
        AND b.version = k.version)
SELECT b.thread_id, b.checkpoint_ns, {_BLOB_COLS} FROM b
UNION ALL
SELECT d.thread_id, d.checkpoint_ns, d.channel, d.version, d.kind, d.type, d.data,
       d.base_version
FROM b JOIN {s}.ck_blobs d ON b.kind = 'delta' AND d.thread_id = b.thread_id
    AND d.checkpoint_ns = b.checkpoint_ns AND d.channel = b.channel
    AND d.seq >= b.snapshot_seq AND d.seq < b.seq"""
        self.delete_thread = [
            f"DELETE FROM {s}.ck_writes WHERE thread_id = %s",
            f"DELETE FROM {s}.ck_blobs WHERE thread_id = %s",
            f"DELETE FROM {s}.ck_checkpoints WHERE thread_id = %s",
        ]
        self.has_checkpoints = (
            f"SELECT EXISTS (SELECT 1 FROM {s}.ck_checkpoints WHERE thread_id = %s)"
        )
        self.copy_thread = [
            f"""INSERT INTO {s}.ck_checkpoints SELECT %(target)s, checkpoint_ns, checkpoint_id,
                parent_checkpoint_id, checkpoint, metadata, metadata_exact, run_id
                FROM {s}.ck_checkpoints WHERE thread_id = %(source)s""",
            f"""INSERT INTO {s}.ck_blobs SELECT %(target)s, checkpoint_ns, channel, seq, version,
                kind, type, data, base_version, snapshot_seq
                FROM {s}.ck_blobs WHERE thread_id = %(source)s""",
            f"""INSERT INTO {s}.ck_writes SELECT %(target)s, checkpoint_ns, checkpoint_id, task_id,
                idx, channel, type, data, task_path
                FROM {s}.ck_writes WHERE thread_id = %(source)s""",
        ]
        self.thread_blobs = f"""SELECT checkpoint_ns, channel, version, kind, type, data,
            base_version FROM {s}.ck_blobs WHERE thread_id = %s"""
        # Same rows as the source's, with the re-sealed type and data.
        self.copy_blobs_resealed = f"""
INSERT INTO {s}.ck_blobs (thread_id, checkpoint_ns, channel, seq, version, kind, type, data,
                          base_version, snapshot_seq)
SELECT %(target)s, b.checkpoint_ns, b.channel, b.seq, b.version, b.kind, u.type, u.data,
       b.base_version, b.snapshot_seq
FROM unnest(%(nss)s::text[], %(channels)s::text[], %(versions)s::text[], %(types)s::text[],
            %(datas)s::bytea[]) AS u(ns, channel, version, type, data)
JOIN {s}.ck_blobs b ON b.thread_id = %(source)s AND b.checkpoint_ns = u.ns
    AND b.channel = u.channel AND b.version = u.version"""
        self.thread_writes = f"""SELECT checkpoint_ns, checkpoint_id, task_id, idx, channel, type,
            data, task_path FROM {s}.ck_writes WHERE thread_id = %s"""
        self.insert_writes_rows = f"""
INSERT INTO {s}.ck_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel,
                           type, data, task_path)
SELECT %(thread)s, u.* FROM unnest(%(nss)s::text[], %(ids)s::text[], %(tasks)s::text[],
    %(idxs)s::int[], %(channels)s::text[], %(types)s::text[], %(datas)s::bytea[],
    %(paths)s::text[]) AS u"""
        self.keep_latest = [
            f"""DELETE FROM {s}.ck_checkpoints c WHERE c.thread_id = %(thread)s
                AND c.checkpoint_id < (SELECT max(m.checkpoint_id) FROM {s}.ck_checkpoints m
                    WHERE m.thread_id = c.thread_id AND m.checkpoint_ns = c.checkpoint_ns)""",
            f"""UPDATE {s}.ck_checkpoints SET parent_checkpoint_id = NULL
                WHERE thread_id = %(thread)s AND parent_checkpoint_id IS NOT NULL""",
        ]
        self.drop_orphan_writes = f"""
DELETE FROM {s}.ck_writes w WHERE w.thread_id = %s AND NOT EXISTS (
    SELECT 1 FROM {s}.ck_checkpoints c WHERE c.thread_id = w.thread_id
        AND c.checkpoint_ns = w.checkpoint_ns AND c.checkpoint_id = w.checkpoint_id)"""
        self.thread_bodies = (
            f"SELECT checkpoint_ns, checkpoint::text FROM {s}.ck_checkpoints WHERE thread_id = %s"
        )
        self.thread_blob_keys = f"""SELECT checkpoint_ns, channel, version, kind, base_version
            FROM {s}.ck_blobs WHERE thread_id = %s"""
        self.delete_blobs = f"""
DELETE FROM {s}.ck_blobs b USING unnest(%(nss)s::text[], %(channels)s::text[],
                                        %(versions)s::text[]) AS k(checkpoint_ns, channel, version)
WHERE b.thread_id = %(thread)s AND b.checkpoint_ns = k.checkpoint_ns
  AND b.channel = k.channel AND b.version = k.version"""
        self.run_threads = f"""SELECT DISTINCT thread_id FROM {s}.ck_checkpoints
            WHERE run_id = ANY(%s::text[])"""
        self.run_rows = f"""
SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id FROM {s}.ck_checkpoints
WHERE thread_id = %(thread)s AND checkpoint_ns IN (
    SELECT checkpoint_ns FROM {s}.ck_checkpoints
    WHERE thread_id = %(thread)s AND run_id = ANY(%(runs)s::text[]))"""
        self.reparent = f"""
UPDATE {s}.ck_checkpoints c SET parent_checkpoint_id = u.parent
FROM unnest(%(nss)s::text[], %(ids)s::text[], %(parents)s::text[]) AS u(ns, id, parent)
WHERE c.thread_id = %(thread)s AND c.checkpoint_ns = u.ns AND c.checkpoint_id = u.id"""
        self.delete_checkpoints = f"""
DELETE FROM {s}.ck_checkpoints c USING unnest(%(nss)s::text[], %(ids)s::text[]) AS u(ns, id)
WHERE c.thread_id = %(thread)s AND c.checkpoint_ns = u.ns AND c.checkpoint_id = u.id"""
        # A loose index scan: one index probe per distinct thread instead of a full scan.
        self.list_threads = f"""
WITH RECURSIVE t(thread_id) AS (
    (SELECT thread_id FROM {s}.ck_checkpoints WHERE %(after)s::text IS NULL
        OR thread_id > %(after)s::text ORDER BY thread_id LIMIT 1)
    UNION ALL
    SELECT (SELECT c.thread_id FROM {s}.ck_checkpoints c WHERE c.thread_id > t.thread_id
            ORDER BY c.thread_id LIMIT 1)
    FROM t WHERE t.thread_id IS NOT NULL)
SELECT thread_id FROM t WHERE thread_id IS NOT NULL LIMIT %(limit)s"""
        self._s = s
        self._reads: dict[tuple[bool, bool, bool, bool, int, bool], str] = {}

    def read(
        self,
        thread: bool,
        ns: bool,
        checkpoint_id: bool,
        before: bool,
        n_filters: int,
        keyset: bool,
    ) -> str:
        key = (thread, ns, checkpoint_id, before, n_filters, keyset)
        found = self._reads.get(key)
        if found is None:
            conds = ["true"]
            if thread:
                conds.append("thread_id = %(thread)s")
            if ns:
                conds.append("checkpoint_ns = %(ns)s")
            if checkpoint_id:
                conds.append("checkpoint_id = %(id)s")
            if before:
                conds.append("checkpoint_id < %(before)s")
            # Filter keys and values are bound parameters: they never reach the SQL text.
            for i in range(n_filters):
                conds.append(f"metadata -> %(fk{i})s::text = %(fv{i})s::jsonb")
            if keyset:
                conds.append(
                    "(checkpoint_id < %(k_id)s OR (checkpoint_id = %(k_id)s"
                    " AND (thread_id, checkpoint_ns) > (%(k_thread)s, %(k_ns)s)))"
                )
            found = self._reads[key] = _read_sql(self._s, " AND ".join(conds))
        return found


# -- plans: database work written once, run by the sync and the async driver -------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Q:
    sql: str
    params: Sequence[Any] | Mapping[str, Any] | None = None
    fetch: Literal["none", "one", "all", "auto"] = "none"


Plan = Generator[_Q, Any, T]


def _lock_key(schema: str, *parts: str) -> int:
    digest = hashlib.blake2b("\x00".join((schema, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lease_holder(conn: psycopg.Connection[Any], key: int) -> str:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        "SELECT a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a "
        "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        "AND l.classid = %s AND l.objid = %s AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())",
        (unsigned >> 32, unsigned & 0xFFFFFFFF),
    ).fetchone()
    if row is None:
        return "another run"
    return f"{row[0] or 'a client'} (server pid {row[1]})"


def _metadata_params(meta_json: bytes) -> tuple[str, bytes | None]:
    # JSONB normalises numbers (1e16 reads back as an int, -0.0 as 0.0): keep the exact bytes
    # beside it only when such a float is present, so reads equal what was put.
    text = meta_json.decode()
    return text, (meta_json if _lossy_in_jsonb(orjson.loads(meta_json)) else None)


def _lossy_in_jsonb(value: Any) -> bool:
    if isinstance(value, float):
        return b"e" in orjson.dumps(value) or (value == 0.0 and str(value).startswith("-"))
    if isinstance(value, dict):
        return any(_lossy_in_jsonb(v) for v in value.values())
    if isinstance(value, list):
        return any(_lossy_in_jsonb(v) for v in value)
    return False


def _sql_side_key(version: Any) -> bool:
    """True when SQL finds this version's blob from the stored JSON alone."""
    text = version if isinstance(version, str) else orjson.dumps(version).decode()
    if text != str(version):
        return False
    head = text.split(".", 1)[0]
    return _DIGITS.fullmatch(head) is not None and int(head) == version_number(version)


@dataclasses.dataclass(slots=True)
class _Fetched:
    row: CheckpointRow
    blobs: list[BlobRow]
    writes: list[WriteRow]
    versions: dict[str, Any]


def _decode(rec: Sequence[Any]) -> _Fetched:
    (thread, ns, cid, parent, body, meta, exact, b_ch, b_ver, b_kind, b_type, b_data, b_base,
     w_task, w_idx, w_ch, w_type, w_data, w_path) = rec  # fmt: skip
    metadata = exact if exact is not None else _core.dump_metadata(orjson.loads(meta))
    row = CheckpointRow(thread, ns, cid, parent, body.encode(), metadata, None, None, None)
    blobs = [
        BlobRow(thread, ns, ch, ver, 0, kind, typ, data, base)
        for ch, ver, kind, typ, data, base in zip(
            b_ch or (), b_ver or (), b_kind or (), b_type or (), b_data or (), b_base or (),
            strict=True,
        )
    ]  # fmt: skip
    writes = [
        WriteRow(thread, ns, cid, task, idx, ch, typ, data, path)
        for task, idx, ch, typ, data, path in zip(
            w_task or (), w_idx or (), w_ch or (), w_type or (), w_data or (), w_path or (),
            strict=True,
        )
    ]  # fmt: skip
    versions = orjson.loads(body).get("channel_versions") or {}
    return _Fetched(row, blobs, writes, versions)


class _PostgresCore(SaverBase):
    """State and plans shared by the sync and the async saver; no I/O happens here."""

    def __init__(
        self,
        *,
        schema: str,
        serde: SerializerProtocol | None,
        pipeline: bool,
        prepare_threshold: int | None,
        delta: bool | _core.DeltaEncoder,
    ) -> None:
        super().__init__(serde=serde)
        if not isinstance(schema, str) or not schema or "\x00" in schema:
            raise ValueError(f"schema must be a non-empty str without NUL, got {schema!r}")
        self.schema = schema
        self.pipeline = bool(pipeline) and psycopg.Pipeline.is_supported()
        self.prepare_threshold = prepare_threshold
        # None: never create server-side prepared statements (PgBouncer transaction mode).
        self._prepare: bool | None = False if prepare_threshold is None else None
        self._delta: _core.DeltaEncoder | None = (
            delta
            if isinstance(delta, _core.DeltaEncoder)
            else (_core.DeltaEncoder() if delta else None)
        )
        self._sql = _Statements(schema)

    # -- exclusive runs (capability exclusive_runs) ----------------------------------------
    def _lease_conninfo(self) -> tuple[str, dict[str, Any]]:
        conn: Any = getattr(self, "conn", None)
        if hasattr(conn, "conninfo"):  # a pool: its conninfo and connection kwargs
            skip = ("autocommit", "prepare_threshold", "row_factory", "cursor_factory")
            kwargs = {k: v for k, v in dict(conn.kwargs or {}).items() if k not in skip}
            return str(conn.conninfo), kwargs
        info = conn.info
        dsn = str(info.dsn)
        if info.password:
            dsn = psycopg.conninfo.make_conninfo(dsn, password=info.password)
        return dsn, {}

    def acquire_run(self, thread_id: str, *, owner: str | None = None) -> RunLease:
        """Hold ``thread_id`` for one run: a session advisory lock on a connection of its
        own, so the server frees it when the holder's process or connection dies. A held
        thread raises ``ThreadBusyError`` at once, naming the holder's application_name."""
        thread_id = validate_key("thread_id", thread_id)
        owner = owner or default_owner()
        key = _lock_key(self.schema, "run", thread_id)
        dsn, kwargs = self._lease_conninfo()
        app = ("checkpointkit " + owner).encode("ascii", "replace")[:63].decode("ascii")
        conn = psycopg.connect(dsn, autocommit=True, application_name=app, **kwargs)
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if not (row and row[0]):
                raise ThreadBusyError(thread_id, _lease_holder(conn, key))
        except BaseException:
            conn.close()
            raise

        def release() -> None:
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            conn.close()

        return RunLease(thread_id, owner, release)

    async def aacquire_run(self, thread_id: str, *, owner: str | None = None) -> RunLease:
        return await asyncio.to_thread(self.acquire_run, thread_id, owner=owner)

    # -- plans ----------------------------------------------------------------------------
    def _plan_setup(self) -> Plan[list[int]]:
        st = self._sql
        # Serialises concurrent setup() calls of every process; held until commit.
        yield _Q(st.lock, (_lock_key(self.schema, "setup"),))
        (exists,) = yield _Q(st.schema_exists, (self.schema,), fetch="one")
        if not exists:  # CREATE SCHEMA needs a privilege that using one does not
            yield _Q(st.create_schema)
        # The shared, versioned migration runner (the same one SQLite uses).
        plan = _sql.migrate_plan(st.dialect, st.migrations)
        try:
            query = next(plan)
            while True:
                rows = yield _Q(query.sql, tuple(query.params), fetch="auto")
                query = plan.send(rows)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def _plan_put(self, prepared: PreparedPut, use_delta: bool) -> Plan[set[str]]:
        row = prepared.row
        blobs = (
            prepared.blobs if use_delta else [_core.as_full(prepared, b) for b in prepared.blobs]
        )
        meta, exact = _metadata_params(row.metadata)
        # Lifecycle operations take this lock exclusively, so the delta bases this put
        # checks for cannot disappear before it commits.
        yield _Q(self._sql.lock_shared, (_lock_key(self.schema, row.thread_id),))
        # Returns the channels whose rows this put inserted (not already present).
        row_ = yield _Q(
            self._sql.put,
            {
                "thread": row.thread_id,
                "ns": row.checkpoint_ns,
                "id": row.checkpoint_id,
                "parent": row.parent_checkpoint_id,
                "body": row.checkpoint.decode(),
                "meta": meta,
                "exact": exact,
                "run": row.run_id,
                "channels": [b.channel for b in blobs],
                "seqs": [str(b.seq) for b in blobs],
                "versions": [b.version for b in blobs],
                "kinds": [b.kind for b in blobs],
                "types": [b.type for b in blobs],
                "datas": [b.data for b in blobs],
                "bases": [b.base_version for b in blobs],
                "base_seqs": [
                    None if b.base_version is None else str(version_number(b.base_version))
                    for b in blobs
                ],
                "snaps": [None if b.snapshot_seq is None else str(b.snapshot_seq) for b in blobs],
            },
            fetch="one",
        )
        return set(row_[0])

    def _plan_put_writes(self, rows: list[WriteRow]) -> Plan[None]:
        first = rows[0]
        yield _Q(
            self._sql.put_writes,
            {
                "thread": first.thread_id,
                "ns": first.checkpoint_ns,
                "id": first.checkpoint_id,
                "task": first.task_id,
                "path": first.task_path,
                "idxs": [w.idx for w in rows],
                "channels": [w.channel for w in rows],
                "types": [w.type for w in rows],
                "datas": [w.data for w in rows],
            },
        )

    def _plan_read(
        self,
        thread: str | None,
        ns: str | None,
        checkpoint_id: str | None,
        before: str | None,
        filters: Mapping[str, Any],
        keyset: tuple[str, str, str] | None,
        limit: int,
    ) -> Plan[list[_Fetched]]:
        params: dict[str, Any] = {
            "thread": thread, "ns": ns, "id": checkpoint_id, "before": before, "limit": limit,
        }  # fmt: skip
        for i, (key, value) in enumerate(filters.items()):
            params[f"fk{i}"] = key
            params[f"fv{i}"] = orjson.dumps(value).decode()
        if keyset is not None:
            params["k_id"], params["k_thread"], params["k_ns"] = keyset
        query = self._sql.read(
            thread is not None, ns is not None, checkpoint_id is not None, before is not None,
            len(filters), keyset is not None,
        )  # fmt: skip
        records = yield _Q(query, params, fetch="all")
        fetched = [_decode(r) for r in records]
        # Rare: a version whose JSON text differs from str(version) (floats like 1e16), so
        # SQL could not match it; those blobs are fetched by keys computed here.
        missing: list[tuple[_Fetched, str, Any]] = []
        for f in fetched:
            have = {(b.channel, b.version) for b in f.blobs}
            for channel, version in f.versions.items():
                if (channel, str(version)) not in have and not _sql_side_key(version):
                    missing.append((f, channel, version))
        if missing:
            rows = yield _Q(
                self._sql.blobs_by_key,
                {
                    "threads": [f.row.thread_id for f, _, _ in missing],
                    "nss": [f.row.checkpoint_ns for f, _, _ in missing],
                    "channels": [c for _, c, _ in missing],
                    "seqs": [str(version_number(v)) for _, _, v in missing],
                    "versions": [str(v) for _, _, v in missing],
                },
                fetch="all",
            )
            by_scope: dict[tuple[str, str], list[BlobRow]] = {}
            for t, n, ch, ver, kind, typ, data, base in rows:
                by_scope.setdefault((t, n), []).append(
                    BlobRow(t, n, ch, ver, 0, kind, typ, data, base)
                )
            for f in {id(f): f for f, _, _ in missing}.values():
                f.blobs.extend(by_scope.get((f.row.thread_id, f.row.checkpoint_ns), []))
        return fetched

    def _plan_delete_thread(self, thread_id: str) -> Plan[None]:
        yield _Q(self._sql.lock, (_lock_key(self.schema, thread_id),))
        for statement in self._sql.delete_thread:
            yield _Q(statement, (thread_id,))

    def _plan_list_threads(self, limit: int | None, after: str | None) -> Plan[list[str]]:
        rows = yield _Q(self._sql.list_threads, {"after": after, "limit": limit}, fetch="all")
        return [r[0] for r in rows]

    def _lock_threads(self, thread_ids: Sequence[str]) -> Plan[None]:
        # Always in key order, so two lifecycle calls never wait on each other in a cycle.
        for key in sorted({_lock_key(self.schema, t) for t in thread_ids}):
            yield _Q(self._sql.lock, (key,))

    def _plan_copy_thread(self, source: str, target: str) -> Plan[None]:
        st = self._sql
        yield from self._lock_threads([source, target])
        (taken,) = yield _Q(st.has_checkpoints, (target,), fetch="one")
        if taken:
            raise ValueError(f"copy_thread: target thread {target!r} already has checkpoints")
        if source == target:
            return
        (found,) = yield _Q(st.has_checkpoints, (source,), fetch="one")
        if not found:
            return
        for statement in st.delete_thread[:2]:  # leftover writes/values of the target
            yield _Q(statement, (target,))
        if not hasattr(self.serde, "dumps_typed_bound"):
            for statement in st.copy_thread:
                yield _Q(statement, {"source": source, "target": target})
            return
        # An authenticating serde binds each value to its thread: re-seal, not relabel.
        yield _Q(st.copy_thread[0], {"source": source, "target": target})
        rows = yield _Q(st.thread_blobs, (source,), fetch="all")
        blobs = [
            _core.rebind_blob(
                self.serde,
                BlobRow(source, ns, ch, ver, 0, kind, typ, data, base, None),
                target,
            )
            for ns, ch, ver, kind, typ, data, base in rows
        ]
        if blobs:
            yield _Q(
                st.copy_blobs_resealed,
                {
                    "source": source,
                    "target": target,
                    "nss": [b.checkpoint_ns for b in blobs],
                    "channels": [b.channel for b in blobs],
                    "versions": [b.version for b in blobs],
                    "types": [b.type for b in blobs],
                    "datas": [b.data for b in blobs],
                },
            )
        rows = yield _Q(st.thread_writes, (source,), fetch="all")
        writes = [_core.rebind_write(self.serde, WriteRow(source, *r), target) for r in rows]
        if writes:
            yield _Q(
                st.insert_writes_rows,
                {
                    "thread": target,
                    "nss": [w.checkpoint_ns for w in writes],
                    "ids": [w.checkpoint_id for w in writes],
                    "tasks": [w.task_id for w in writes],
                    "idxs": [w.idx for w in writes],
                    "channels": [w.channel for w in writes],
                    "types": [w.type for w in writes],
                    "datas": [w.data for w in writes],
                    "paths": [w.task_path for w in writes],
                },
            )

    def _plan_prune(self, thread_ids: Sequence[str], strategy: str) -> Plan[None]:
        yield from self._lock_threads(thread_ids)
        for thread_id in dict.fromkeys(thread_ids):
            if strategy == "delete":
                for statement in self._sql.delete_thread:
                    yield _Q(statement, (thread_id,))
                continue
            for statement in self._sql.keep_latest:
                yield _Q(statement, {"thread": thread_id})
            yield from self._plan_drop_orphans(thread_id)

    def _plan_delete_for_runs(self, run_ids: Sequence[str]) -> Plan[builtins.list[str]]:
        st = self._sql
        runs = sorted(set(run_ids))
        rows = yield _Q(st.run_threads, (runs,), fetch="all")
        threads = sorted(r[0] for r in rows)
        yield from self._lock_threads(threads)
        touched: list[str] = []
        for thread_id in threads:
            found = yield _Q(st.run_rows, {"thread": thread_id, "runs": runs}, fetch="all")
            spaces: dict[str, dict[str, tuple[str | None, str | None]]] = {}
            for ns, cid, parent, run in found:
                spaces.setdefault(ns, {})[cid] = (parent, run)
            doomed_all: list[tuple[str, str]] = []
            moved: list[tuple[str, str, str | None]] = []
            doomed_runs = set(runs)
            for ns, rows_ in spaces.items():
                doomed = [cid for cid, (_, run) in rows_.items() if run in doomed_runs]
                if not doomed:
                    continue
                parents = {cid: parent for cid, (parent, _) in rows_.items()}
                moved += [(ns, c, p) for c, p in _core.reparent(parents, doomed).items()]
                doomed_all += [(ns, c) for c in doomed]
            if not doomed_all:
                continue
            touched.append(thread_id)
            if moved:
                yield _Q(
                    st.reparent,
                    {
                        "thread": thread_id,
                        "nss": [m[0] for m in moved],
                        "ids": [m[1] for m in moved],
                        "parents": [m[2] for m in moved],
                    },
                )
            yield _Q(
                st.delete_checkpoints,
                {
                    "thread": thread_id,
                    "nss": [d[0] for d in doomed_all],
                    "ids": [d[1] for d in doomed_all],
                },
            )
            yield from self._plan_drop_orphans(thread_id)
        return touched

    def _plan_drop_orphans(self, thread_id: str) -> Plan[None]:
        # Writes and values no surviving checkpoint reads are deleted, so storage shrinks;
        # which values are still read (delta bases too) is decided by the shared core.
        st = self._sql
        yield _Q(st.drop_orphan_writes, (thread_id,))
        bodies = yield _Q(st.thread_bodies, (thread_id,), fetch="all")
        keys = yield _Q(st.thread_blob_keys, (thread_id,), fetch="all")
        blobs = {
            (ns, ch, ver): BlobRow(thread_id, ns, ch, ver, 0, kind, None, None, base)
            for ns, ch, ver, kind, base in keys
        }
        live = _core.referenced_blobs(((ns, body.encode()) for ns, body in bodies), blobs)
        dead = [k for k in blobs if k not in live]
        if dead:
            yield _Q(
                st.delete_blobs,
                {
                    "thread": thread_id,
                    "nss": [d[0] for d in dead],
                    "channels": [d[1] for d in dead],
                    "versions": [d[2] for d in dead],
                },
            )

    # -- helpers --------------------------------------------------------------------------
    def _tuple(self, fetched: _Fetched) -> CheckpointTuple:
        return _core.to_tuple(self.serde, fetched.row, fetched.blobs, fetched.writes)

    def _remember(self, prepared: PreparedPut, used_delta: bool, inserted: set[str]) -> None:
        # Only rows this put inserted: a row already present (same channel and version) may
        # belong to another delta chain than the one this put would have started.
        if self._delta is None:
            return
        blobs = (
            prepared.blobs if used_delta else [_core.as_full(prepared, b) for b in prepared.blobs]
        )
        kept = [b for b in blobs if b.channel in inserted]
        self._delta.remember(dataclasses.replace(prepared, blobs=kept))

    def _forget(self, thread_ids: Sequence[str]) -> None:
        if self._delta is not None:
            self._delta.forget(thread_ids)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the PostgreSQL errors a caller can act on into clear Python errors."""
        try:
            yield
        except pg_errors.UndefinedTable as exc:
            raise RuntimeError(
                f"checkpointkit tables are missing in schema {self.schema!r}: call setup() "
                f"once before using the saver ({exc})"
            ) from exc
        except pg_errors.InvalidSchemaName as exc:
            raise RuntimeError(
                f"schema {self.schema!r} does not exist: call setup() once before using the "
                f"saver ({exc})"
            ) from exc
        except pg_errors.ProgramLimitExceeded as exc:
            raise ValueError(
                "keys too long for a PostgreSQL index entry (2704 bytes): each of thread_id, "
                f"checkpoint_ns and channel names is limited to {MAX_KEY_BYTES} bytes and ids "
                f"to {MAX_ID_BYTES} bytes, and together they must fit ({exc})"
            ) from exc


# Our statements are index probes whatever the parameters, so a prepared statement may use its
# generic plan at once instead of re-planning (about 1 ms each) five more times. Only on the
# pools the saver creates, and never with prepare_threshold=None (PgBouncer: no session state).
_GENERIC_PLANS = "SET plan_cache_mode = force_generic_plan"


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.execute(_GENERIC_PLANS)


async def _aconfigure(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute(_GENERIC_PLANS)


def _is_delta_base_error(exc: BaseException) -> bool:
    return (
        isinstance(exc, pg_errors.CheckViolation)
        and exc.diag.constraint_name == _DELTA_BASE_CONSTRAINT
    )


def _check_usable(conn: Any) -> None:
    status = conn.info.transaction_status
    if status == pq.TransactionStatus.INERROR:
        raise RuntimeError(
            "the connection is inside a failed transaction; roll it back before using the "
            "saver (PostgreSQL ignores every statement until then)"
        )
    if status == pq.TransactionStatus.ACTIVE:
        raise RuntimeError(
            "the connection is busy with another command; give the saver a pool, or its own "
            "connection, instead of sharing one that is in use"
        )


def _needs_transaction(conn: Any, write: bool) -> bool:
    if write:
        return True
    # A read on a non-autocommit connection would leave it idle in a transaction.
    return not conn.autocommit and conn.info.transaction_status == pq.TransactionStatus.IDLE


# -- sync saver ---------------------------------------------------------------------------


class PostgresSaver(_PostgresCore):
    """Checkpoint saver on PostgreSQL via psycopg 3 (sync; ``a*`` twins run in a thread).

    ``conn`` is a ``psycopg.Connection`` (calls are serialised with a lock) or a
    ``psycopg_pool.ConnectionPool`` (no saver-wide lock: calls run concurrently, one pooled
    connection each). Use :meth:`from_conn_string` to let the saver own a pool. Call
    :meth:`setup` once per database and schema.
    """

    def __init__(
        self,
        conn: psycopg.Connection[Any] | Any,
        *,
        schema: str = "public",
        serde: SerializerProtocol | None = None,
        pipeline: bool = True,
        prepare_threshold: int | None = 5,
        delta: bool | _core.DeltaEncoder = True,
    ) -> None:
        super().__init__(
            schema=schema, serde=serde, pipeline=pipeline,
            prepare_threshold=prepare_threshold, delta=delta,
        )  # fmt: skip
        self.conn: Any = conn
        self._is_pool = not isinstance(conn, psycopg.Connection)
        if self._is_pool and not hasattr(conn, "connection"):
            raise TypeError(
                f"conn must be a psycopg.Connection or a psycopg_pool.ConnectionPool, got "
                f"{type(conn).__name__}"
            )
        self._lock = threading.Lock()
        self._owned_pool: Any = None

    @classmethod
    @contextlib.contextmanager
    def from_conn_string(
        cls,
        conninfo: str,
        *,
        schema: str = "public",
        serde: SerializerProtocol | None = None,
        pipeline: bool = True,
        prepare_threshold: int | None = 0,
        min_size: int = 1,
        max_size: int | None = 10,
        timeout: float = 30.0,
        max_idle: float = 600.0,
        max_lifetime: float = 3600.0,
        check: bool = False,
        setup: bool = True,
        pool_kwargs: Mapping[str, Any] | None = None,
    ) -> Iterator[PostgresSaver]:
        """A saver on its own ``ConnectionPool``, closed on exit.

        ``check=True`` tests each connection before lending it, one round trip per call, for
        networks or proxies that drop idle connections (without it a dropped connection
        fails one call, then is replaced); ``max_idle``/``max_lifetime`` retire connections
        early;
        ``setup`` creates or migrates the schema first. ``prepare_threshold=0`` prepares each
        statement on first use (plans are generic: every statement is an index probe);
        ``None`` never prepares (PgBouncer in transaction mode).
        """
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(
            conninfo,
            open=False,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            max_idle=max_idle,
            max_lifetime=max_lifetime,
            check=ConnectionPool.check_connection if check else None,
            configure=None if prepare_threshold is None else _configure,
            kwargs={"autocommit": True, "prepare_threshold": prepare_threshold},
            **dict(pool_kwargs or {}),
        )
        pool.open(wait=True, timeout=timeout)
        try:
            saver = cls(
                pool, schema=schema, serde=serde, pipeline=pipeline,
                prepare_threshold=prepare_threshold,
            )  # fmt: skip
            saver._owned_pool = pool
            if setup:
                saver.setup()
            yield saver
        finally:
            pool.close()

    def close(self) -> None:
        """Close the pool this saver created (no-op for a connection or pool it was given)."""
        if self._owned_pool is not None:
            self._owned_pool.close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        if self._is_pool:
            with self.conn.connection() as conn:
                yield conn
        else:
            with self._lock:
                yield self.conn

    def _run(self, plan: Plan[T], *, write: bool, pipeline: bool = True) -> T:
        with self._errors(), self._connection() as conn:
            _check_usable(conn)
            use_pipeline = (
                write
                and pipeline
                and self.pipeline
                and conn.info.pipeline_status == pq.PipelineStatus.OFF
            )
            with contextlib.ExitStack() as stack:
                cur = stack.enter_context(conn.cursor(binary=True, row_factory=tuple_row))
                if use_pipeline:
                    stack.enter_context(conn.pipeline())
                if _needs_transaction(conn, write):
                    stack.enter_context(conn.transaction())
                return self._step(cur, plan)
        raise AssertionError("unreachable")  # pragma: no cover

    def _step(self, cur: psycopg.Cursor[Any], plan: Plan[T]) -> T:
        try:
            q = next(plan)
            while True:
                cur.execute(q.sql, q.params, prepare=self._prepare)
                result: Any = None
                if q.fetch == "all":
                    result = cur.fetchall()
                elif q.fetch == "one":
                    result = cur.fetchone()
                elif q.fetch == "auto":
                    result = cur.fetchall() if cur.description else []
                q = plan.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    # -- protocol -------------------------------------------------------------------------
    def setup(self) -> None:
        """Create or migrate the schema; safe to call often, and from many processes."""
        self._run(self._plan_setup(), write=True, pipeline=False)

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
        used_delta = True
        try:
            inserted = self._run(self._plan_put(prepared, True), write=True)
        except pg_errors.CheckViolation as exc:
            if not _is_delta_base_error(exc):
                raise
            # The value this delta extends is gone (another process pruned or deleted it).
            used_delta = False
            inserted = self._run(self._plan_put(prepared, False), write=True)
        self._remember(prepared, used_delta, inserted)
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
            self._run(self._plan_put_writes(rows), write=False)

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        thread_id, ns, checkpoint_id = _core.read_scope(config, "get_tuple")
        found = self._run(
            self._plan_read(thread_id, ns, checkpoint_id, None, {}, None, 1), write=False
        )
        return self._tuple(found[0]) if found else None

    def list(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        thread_id, ns, checkpoint_id = _core.list_scope(config)
        wanted = _core.validate_filter(filter)
        cutoff = _core.before_id(before)
        limit = _core.check_limit(limit)
        return self._iter_list(thread_id, ns, checkpoint_id, cutoff, wanted, limit)

    def _iter_list(
        self,
        thread_id: str | None,
        ns: str | None,
        checkpoint_id: str | None,
        cutoff: str | None,
        wanted: dict[str, Any],
        limit: int | None,
    ) -> Iterator[CheckpointTuple]:
        remaining = limit
        keyset: tuple[str, str, str] | None = None
        while remaining is None or remaining > 0:
            size = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            # The connection goes back before anything is yielded: callers may re-enter.
            page = self._run(
                self._plan_read(thread_id, ns, checkpoint_id, cutoff, wanted, keyset, size),
                write=False,
            )
            for fetched in page:
                item = self._tuple(fetched)
                if wanted and not _core.filter_matches(item.metadata, wanted):
                    continue
                yield item
                if remaining is not None:
                    remaining -= 1
                    if remaining == 0:
                        return
            if len(page) < size:
                return
            last = page[-1].row
            keyset = (last.checkpoint_id, last.thread_id, last.checkpoint_ns)

    def delete_thread(self, thread_id: str) -> None:
        thread_id = validate_key("thread_id", thread_id)
        self._run(self._plan_delete_thread(thread_id), write=True)
        self._forget([thread_id])

    def list_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        """Thread ids with at least one checkpoint, ascending, paged by ``after``."""
        limit = _core.check_limit(limit)
        if after is not None:
            after = validate_key("after", after)
        if limit == 0:
            return []
        return self._run(self._plan_list_threads(limit, after), write=False)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        source = validate_key("source_thread_id", source_thread_id)
        target = validate_key("target_thread_id", target_thread_id)
        self._run(self._plan_copy_thread(source, target), write=True)
        self._forget([target])

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.check_strategy(strategy)
        threads = [validate_key("thread_id", t) for t in thread_ids]
        if threads:
            self._run(self._plan_prune(threads, strategy), write=True)
            self._forget(threads)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        runs = [validate_key("run_id", r) for r in run_ids]
        if runs:
            self._forget(self._run(self._plan_delete_for_runs(runs), write=True))

    # -- async twins (a thread each; use AsyncPostgresSaver in async code) ----------------
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
        it = self.list(config, filter=filter, before=before, limit=limit)
        done = object()
        while (item := await asyncio.to_thread(next, it, done)) is not done:
            yield item  # type: ignore[misc]

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def asetup(self) -> None:
        await asyncio.to_thread(self.setup)

    async def alist_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        return await asyncio.to_thread(lambda: self.list_threads(limit=limit, after=after))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(lambda: self.prune(thread_ids, strategy=strategy))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)


# -- async saver --------------------------------------------------------------------------


class AsyncPostgresSaver(_PostgresCore):
    """Checkpoint saver on PostgreSQL via psycopg 3's async API.

    ``conn`` is a ``psycopg.AsyncConnection`` (calls serialised with an ``asyncio.Lock``)
    or a ``psycopg_pool.AsyncConnectionPool`` (no saver-wide lock). The sync methods work
    from other threads while the saver's event loop runs; on that loop's own thread they
    raise instead of deadlocking.
    """

    def __init__(
        self,
        conn: psycopg.AsyncConnection[Any] | Any,
        *,
        schema: str = "public",
        serde: SerializerProtocol | None = None,
        pipeline: bool = True,
        prepare_threshold: int | None = 5,
        delta: bool | _core.DeltaEncoder = True,
    ) -> None:
        super().__init__(
            schema=schema, serde=serde, pipeline=pipeline,
            prepare_threshold=prepare_threshold, delta=delta,
        )  # fmt: skip
        self.conn: Any = conn
        self._is_pool = not isinstance(conn, psycopg.AsyncConnection)
        if self._is_pool and not hasattr(conn, "connection"):
            raise TypeError(
                f"conn must be a psycopg.AsyncConnection or a psycopg_pool.AsyncConnectionPool, "
                f"got {type(conn).__name__}"
            )
        self._alock: asyncio.Lock | None = None
        self._owned_pool: Any = None
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None

    @classmethod
    @contextlib.asynccontextmanager
    async def from_conn_string(
        cls,
        conninfo: str,
        *,
        schema: str = "public",
        serde: SerializerProtocol | None = None,
        pipeline: bool = True,
        prepare_threshold: int | None = 0,
        min_size: int = 1,
        max_size: int | None = 10,
        timeout: float = 30.0,
        max_idle: float = 600.0,
        max_lifetime: float = 3600.0,
        check: bool = False,
        setup: bool = True,
        pool_kwargs: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[AsyncPostgresSaver]:
        """A saver on its own ``AsyncConnectionPool``, closed on exit (see the sync twin)."""
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(
            conninfo,
            open=False,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            max_idle=max_idle,
            max_lifetime=max_lifetime,
            check=AsyncConnectionPool.check_connection if check else None,
            configure=None if prepare_threshold is None else _aconfigure,
            kwargs={"autocommit": True, "prepare_threshold": prepare_threshold},
            **dict(pool_kwargs or {}),
        )
        await pool.open(wait=True, timeout=timeout)
        try:
            saver = cls(
                pool, schema=schema, serde=serde, pipeline=pipeline,
                prepare_threshold=prepare_threshold,
            )  # fmt: skip
            saver._owned_pool = pool
            if setup:
                await saver.asetup()
            yield saver
        finally:
            await pool.close()

    async def aclose(self) -> None:
        if self._owned_pool is not None:
            await self._owned_pool.close()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        if self._is_pool:
            async with self.conn.connection() as conn:
                yield conn
        else:
            if self._alock is None:
                self._alock = asyncio.Lock()
            async with self._alock:
                yield self.conn

    async def _run(self, plan: Plan[T], *, write: bool, pipeline: bool = True) -> T:
        with self._errors():
            async with self._connection() as conn:
                _check_usable(conn)
                use_pipeline = (
                    write
                    and pipeline
                    and self.pipeline
                    and conn.info.pipeline_status == pq.PipelineStatus.OFF
                )
                async with contextlib.AsyncExitStack() as stack:
                    cur = await stack.enter_async_context(
                        conn.cursor(binary=True, row_factory=tuple_row)
                    )
                    if use_pipeline:
                        await stack.enter_async_context(conn.pipeline())
                    if _needs_transaction(conn, write):
                        await stack.enter_async_context(conn.transaction())
                    return await self._step(cur, plan)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _step(self, cur: psycopg.AsyncCursor[Any], plan: Plan[T]) -> T:
        try:
            q = next(plan)
            while True:
                await cur.execute(q.sql, q.params, prepare=self._prepare)
                result: Any = None
                if q.fetch == "all":
                    result = await cur.fetchall()
                elif q.fetch == "one":
                    result = await cur.fetchone()
                elif q.fetch == "auto":
                    result = await cur.fetchall() if cur.description else []
                q = plan.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    # -- protocol (async) -----------------------------------------------------------------
    async def asetup(self) -> None:
        """Create or migrate the schema; safe to call often, and from many processes."""
        await self._run(self._plan_setup(), write=True, pipeline=False)

    async def aput(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        prepared = _core.prepare_put(
            self.serde, config, checkpoint, metadata, new_versions, self._delta
        )
        used_delta = True
        try:
            inserted = await self._run(self._plan_put(prepared, True), write=True)
        except pg_errors.CheckViolation as exc:
            if not _is_delta_base_error(exc):
                raise
            used_delta = False
            inserted = await self._run(self._plan_put(prepared, False), write=True)
        self._remember(prepared, used_delta, inserted)
        row = prepared.row
        return checkpoint_config(row.thread_id, row.checkpoint_ns, row.checkpoint_id)

    async def aput_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        rows = _core.prepare_writes(self.serde, config, writes, task_id, task_path)
        if rows:
            await self._run(self._plan_put_writes(rows), write=False)

    async def aget_tuple(self, config: Config) -> CheckpointTuple | None:
        thread_id, ns, checkpoint_id = _core.read_scope(config, "get_tuple")
        found = await self._run(
            self._plan_read(thread_id, ns, checkpoint_id, None, {}, None, 1), write=False
        )
        return self._tuple(found[0]) if found else None

    def alist(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        thread_id, ns, checkpoint_id = _core.list_scope(config)
        wanted = _core.validate_filter(filter)
        cutoff = _core.before_id(before)
        limit = _core.check_limit(limit)
        return self._aiter_list(thread_id, ns, checkpoint_id, cutoff, wanted, limit)

    async def _aiter_list(
        self,
        thread_id: str | None,
        ns: str | None,
        checkpoint_id: str | None,
        cutoff: str | None,
        wanted: dict[str, Any],
        limit: int | None,
    ) -> AsyncIterator[CheckpointTuple]:
        remaining = limit
        keyset: tuple[str, str, str] | None = None
        while remaining is None or remaining > 0:
            size = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            page = await self._run(
                self._plan_read(thread_id, ns, checkpoint_id, cutoff, wanted, keyset, size),
                write=False,
            )
            for fetched in page:
                item = self._tuple(fetched)
                if wanted and not _core.filter_matches(item.metadata, wanted):
                    continue
                yield item
                if remaining is not None:
                    remaining -= 1
                    if remaining == 0:
                        return
            if len(page) < size:
                return
            last = page[-1].row
            keyset = (last.checkpoint_id, last.thread_id, last.checkpoint_ns)

    async def adelete_thread(self, thread_id: str) -> None:
        thread_id = validate_key("thread_id", thread_id)
        await self._run(self._plan_delete_thread(thread_id), write=True)
        self._forget([thread_id])

    async def alist_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        limit = _core.check_limit(limit)
        if after is not None:
            after = validate_key("after", after)
        if limit == 0:
            return []
        return await self._run(self._plan_list_threads(limit, after), write=False)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        source = validate_key("source_thread_id", source_thread_id)
        target = validate_key("target_thread_id", target_thread_id)
        await self._run(self._plan_copy_thread(source, target), write=True)
        self._forget([target])

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.check_strategy(strategy)
        threads = [validate_key("thread_id", t) for t in thread_ids]
        if threads:
            await self._run(self._plan_prune(threads, strategy), write=True)
            self._forget(threads)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        runs = [validate_key("run_id", r) for r in run_ids]
        if runs:
            self._forget(await self._run(self._plan_delete_for_runs(runs), write=True))

    # -- sync bridges (from other threads than the saver's loop) --------------------------
    def _bridge(self, make: Callable[[], Awaitable[T]]) -> T:
        loop = self.loop
        if loop is None or not loop.is_running():
            raise RuntimeError(
                "AsyncPostgresSaver's sync methods need its event loop running in another "
                "thread; call the a* methods instead"
            )
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise asyncio.InvalidStateError(
                "sync AsyncPostgresSaver methods called on the saver's own event loop would "
                "deadlock; use the a* methods (await saver.aget_tuple(...)) there"
            )

        async def call() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), loop).result()

    def setup(self) -> None:
        self._bridge(self.asetup)

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Config:
        return self._bridge(lambda: self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._bridge(lambda: self.aput_writes(config, writes, task_id, task_path))

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        return self._bridge(lambda: self.aget_tuple(config))

    def list(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        agen = self.alist(config, filter=filter, before=before, limit=limit)
        return self._bridge_iter(agen)

    def _bridge_iter(self, agen: AsyncIterator[CheckpointTuple]) -> Iterator[CheckpointTuple]:
        while True:
            try:
                yield self._bridge(agen.__anext__)
            except StopAsyncIteration:
                return

    def delete_thread(self, thread_id: str) -> None:
        self._bridge(lambda: self.adelete_thread(thread_id))

    def list_threads(
        self, *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[str]:
        return self._bridge(lambda: self.alist_threads(limit=limit, after=after))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._bridge(lambda: self.acopy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._bridge(lambda: self.aprune(thread_ids, strategy=strategy))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._bridge(lambda: self.adelete_for_runs(run_ids))
