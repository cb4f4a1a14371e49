"""Dialect-neutral SQL for the SQL backends: statements as sans-IO plans, migrations, filters."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

import orjson

from checkpointkit.backends import _core
from checkpointkit.backends._core import (
    KIND_DELTA,
    KIND_VALUE,
    BlobRow,
    CheckpointRow,
    PreparedPut,
    WriteRow,
)
from checkpointkit.checkpoint import CheckpointTuple, validate_key
from checkpointkit.serde.base import SerializerProtocol

__all__ = [
    "BLOB_COLUMNS",
    "CHECKPOINT_COLUMNS",
    "WRITE_COLUMNS",
    "Dialect",
    "FilterTerm",
    "Migration",
    "Plan",
    "Query",
    "SchemaTooNewError",
    "arun_plan",
    "blob_row",
    "check_migrations",
    "checkpoint_row",
    "copy_thread_plan",
    "delete_for_runs_plan",
    "delete_thread_plan",
    "filter_terms",
    "get_tuple_plan",
    "list_page_plan",
    "list_threads_plan",
    "migrate_plan",
    "prune_plan",
    "put_plan",
    "put_writes_plan",
    "render_filter",
    "run_plan",
    "write_row",
]

T = TypeVar("T")
Row = Sequence[Any]


# -- plans --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """One statement. ``many``: ``params`` is a list of parameter rows (executemany)."""

    sql: str
    params: Sequence[Any] = ()
    many: bool = False


Plan = Generator[Query, list[Row], T]
"""A database operation as a generator: it yields queries and is sent back their rows.

The same plan runs on a sync driver (sqlite3, psycopg, duckdb) through :func:`run_plan` and
on an async one (aiosqlite, psycopg async) through :func:`arun_plan`; the runner owns the
transaction around it.
"""


def run_plan(execute: Callable[[Query], list[Row]], plan: Plan[T]) -> T:
    """Drive ``plan`` with a synchronous ``execute``; returns the plan's result."""
    try:
        query = next(plan)
        while True:
            query = plan.send(execute(query))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def arun_plan(execute: Callable[[Query], Awaitable[list[Row]]], plan: Plan[T]) -> T:
    """Drive ``plan`` with an asynchronous ``execute``."""
    try:
        query = next(plan)
        while True:
            query = plan.send(await execute(query))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


# -- dialect ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterTerm:
    """One ``list`` filter entry, classified by JSON type so a dialect can render it.

    ``kind`` is one of null, true, false, text, number, array, object. Array and object
    terms are only pre-filtered in SQL (by type); the exact check runs in Python.
    """

    key: str
    kind: str
    value: Any

    @property
    def exact(self) -> bool:
        return self.kind not in ("array", "object")


def _no_filter(column: str, term: FilterTerm, param: str) -> tuple[str, list[Any]]:
    raise NotImplementedError("this dialect cannot render metadata filters")


def _json_text(data: bytes) -> Any:
    return data.decode("utf-8")


@dataclass(frozen=True)
class Dialect:
    """What differs between SQL databases; everything else in this module is shared.

    ``render_filter_term(column, term, param)`` returns a predicate and its parameters; it
    must bind the key as a parameter (never put it in SQL text). ``json_param`` converts
    serialized JSON (checkpoint body, metadata) to the bound value of a JSON column.
    """

    name: str
    param: str = "?"
    checkpoints: str = "checkpoints"
    blobs: str = "checkpoint_blobs"
    writes: str = "checkpoint_writes"
    migrations: str = "checkpoint_migrations"
    render_filter_term: Callable[[str, FilterTerm, str], tuple[str, list[Any]]] = _no_filter
    json_param: Callable[[bytes], Any] = _json_text
    max_params: int = 900  # parameters per statement when key lists are chunked

    def marks(self, n: int) -> str:
        return ", ".join([self.param] * n)


# -- rows ---------------------------------------------------------------------------------

CHECKPOINT_COLUMNS = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "parent_checkpoint_id",
    "checkpoint",
    "metadata",
    "source",
    "step",
    "run_id",
)
BLOB_COLUMNS = (
    "thread_id",
    "checkpoint_ns",
    "channel",
    "version",
    "seq",
    "kind",
    "type",
    "data",
    "base_version",
    "snapshot_seq",
)
WRITE_COLUMNS = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "task_id",
    "idx",
    "channel",
    "type",
    "data",
    "task_path",
)


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)  # a driver that decodes JSON


def checkpoint_row(r: Row) -> CheckpointRow:
    """A :class:`CheckpointRow` from a row selected as :data:`CHECKPOINT_COLUMNS`."""
    return CheckpointRow(
        r[0], r[1], r[2], r[3], _as_bytes(r[4]), _as_bytes(r[5]), r[6], r[7], r[8]
    )  # fmt: skip


def blob_row(r: Row) -> BlobRow:
    data = None if r[7] is None else _as_bytes(r[7])
    return BlobRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], data, r[8], r[9])


def write_row(r: Row) -> WriteRow:
    return WriteRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], _as_bytes(r[7]), r[8])


def _cols(names: Sequence[str], prefix: str = "") -> str:
    return ", ".join(prefix + n for n in names)


def _rows(param: str, width: int, count: int) -> str:
    # Key lists are joined as a VALUES table: SQLite scans the table for a multi-row
    # "(a, b) IN (VALUES ...)" but looks each key up in the primary key for a join.
    row = "(" + ", ".join([param] * width) + ")"
    return ", ".join([row] * count)


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + size]


# -- migrations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """One numbered schema step; versions are 1, 2, 3, ... and never change once shipped."""

    version: int
    name: str
    statements: tuple[str, ...]


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer release than this one."""


def check_migrations(migrations: Sequence[Migration]) -> None:
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(f"migration {migration.name!r} has version {migration.version}")


def migrate_plan(
    dialect: Dialect, migrations: Sequence[Migration], *, create: str | None = None
) -> Plan[list[int]]:
    """Apply pending migrations; returns the versions applied now.

    The runner must hold the database's write lock for the whole plan (SQLite ``BEGIN
    IMMEDIATE``, a PostgreSQL advisory lock), so two processes calling ``setup`` at once
    apply each step exactly once.
    """
    check_migrations(migrations)
    p = dialect.param
    yield Query(
        create
        or f"CREATE TABLE IF NOT EXISTS {dialect.migrations} (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    rows = yield Query(f"SELECT version FROM {dialect.migrations}")
    applied = {int(r[0]) for r in rows}
    newest = max(applied, default=0)
    if newest > len(migrations):
        raise SchemaTooNewError(
            f"the database schema is at version {newest}, newer than this release "
            f"supports ({len(migrations)}); upgrade checkpointkit"
        )
    done: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        for statement in migration.statements:
            yield Query(statement)
        yield Query(
            f"INSERT INTO {dialect.migrations} (version, name, applied_at) VALUES ({p}, {p}, {p})",
            (migration.version, migration.name, datetime.now(timezone.utc).isoformat()),
        )
        done.append(migration.version)
    return done


# -- filters ------------------------------------------------------------------------------


def filter_terms(filter: Mapping[str, Any] | None) -> list[FilterTerm]:
    """Validate a ``list`` filter (same errors as every backend) and classify its values."""
    terms: list[FilterTerm] = []
    for key, value in _core.validate_filter(filter).items():
        if value is None:
            kind = "null"
        elif value is True:
            kind = "true"
        elif value is False:
            kind = "false"
        elif isinstance(value, str):
            kind = "text"
        elif isinstance(value, int | float):
            kind = "number"
        elif isinstance(value, list):
            kind = "array"
        else:
            kind = "object"
        terms.append(FilterTerm(key, kind, value))
    return terms


def render_filter(
    dialect: Dialect, column: str, terms: Sequence[FilterTerm]
) -> tuple[list[str], list[Any], bool]:
    """SQL predicates for ``terms``, their parameters, and whether SQL alone is exact."""
    clauses: list[str] = []
    params: list[Any] = []
    for term in terms:
        sql, args = dialect.render_filter_term(column, term, dialect.param)
        clauses.append(sql)
        params.extend(args)
    return clauses, params, all(t.exact for t in terms)


# -- write plans --------------------------------------------------------------------------


def put_plan(dialect: Dialect, prepared: PreparedPut) -> Plan[PreparedPut]:
    """Store a prepared put; returns it with exactly the blob rows inserted now.

    Values are first-wins per (thread, namespace, channel, version). A delta row is stored
    only if its base row is still there (another saver may have deleted the thread);
    otherwise the full value is stored. Pass the result to ``DeltaEncoder.remember``
    after commit: rows that already existed are not remembered, since their stored value
    may differ from this call's.
    """
    p = dialect.param
    row = prepared.row
    existing: dict[tuple[str, str], Row] = {}
    if prepared.blobs:
        wanted: set[tuple[str, str | None]] = {(b.channel, b.version) for b in prepared.blobs}
        wanted |= {(b.channel, b.base_version) for b in prepared.blobs if b.kind == KIND_DELTA}
        keys = sorted((c, v) for c, v in wanted if v is not None)
        for chunk in _chunks(keys, dialect.max_params // 2 - 2):
            found = yield Query(
                f"WITH k (channel, version) AS (VALUES {_rows(p, 2, len(chunk))}) "
                "SELECT b.channel, b.version, b.kind, b.seq, b.snapshot_seq "
                f"FROM k JOIN {dialect.blobs} b ON b.thread_id = {p} AND b.checkpoint_ns = {p} "
                "AND b.channel = k.channel AND b.version = k.version",
                [*(x for key in chunk for x in key), row.thread_id, row.checkpoint_ns],
            )
            existing.update({(r[0], r[1]): r for r in found})
    inserted: list[BlobRow] = []
    for blob in prepared.blobs:
        if (blob.channel, blob.version) in existing:
            continue
        if blob.kind == KIND_DELTA:
            base = existing.get((blob.channel, blob.base_version or ""))
            # The base must be the row the encoder extended: same snapshot it started from.
            base_snapshot = None
            if base is not None and base[2] in (KIND_DELTA, KIND_VALUE):
                base_snapshot = base[4] if base[2] == KIND_DELTA else base[3]
            if base_snapshot is None or base_snapshot != blob.snapshot_seq:
                blob = _core.as_full(prepared, blob)
        inserted.append(blob)
    if inserted:
        yield Query(
            f"INSERT INTO {dialect.blobs} ({_cols(BLOB_COLUMNS)}) VALUES ({dialect.marks(10)}) "
            "ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING",
            [dataclasses.astuple(b) for b in inserted],
            many=True,
        )
    updates = ", ".join(f"{c} = excluded.{c}" for c in CHECKPOINT_COLUMNS[3:])
    yield Query(
        f"INSERT INTO {dialect.checkpoints} ({_cols(CHECKPOINT_COLUMNS)}) "
        f"VALUES ({dialect.marks(9)}) "
        f"ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET {updates}",
        (
            row.thread_id,
            row.checkpoint_ns,
            row.checkpoint_id,
            row.parent_checkpoint_id,
            row.checkpoint,
            dialect.json_param(row.metadata),
            row.source,
            row.step,
            row.run_id,
        ),
    )
    return dataclasses.replace(prepared, blobs=inserted)


def put_writes_plan(dialect: Dialect, rows: Sequence[WriteRow]) -> Plan[None]:
    """Regular writes first-wins, special writes (idx < 0) last-wins, per row, one batch."""
    insert = (
        f"INSERT INTO {dialect.writes} ({_cols(WRITE_COLUMNS)}) VALUES ({dialect.marks(9)}) "
        "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) "
    )
    regular = [dataclasses.astuple(w) for w in rows if not w.special]
    special = [dataclasses.astuple(w) for w in rows if w.special]
    if regular:
        yield Query(insert + "DO NOTHING", regular, many=True)
    if special:
        updates = ", ".join(f"{c} = excluded.{c}" for c in WRITE_COLUMNS[5:])
        yield Query(insert + f"DO UPDATE SET {updates}", special, many=True)


# -- read plans ---------------------------------------------------------------------------


_BlobKey = tuple[str, str, str, str]  # (thread, ns, channel, version)


def _parts_plan(
    dialect: Dialect, rows: Sequence[CheckpointRow]
) -> Plan[tuple[dict[_BlobKey, BlobRow], dict[tuple[str, str, str], list[WriteRow]]]]:
    """Blob rows (with delta chains) by key and write rows per checkpoint."""
    p = dialect.param
    blob_keys: set[tuple[str, str, str, str]] = set()
    for row in rows:
        versions = orjson.loads(row.checkpoint).get("channel_versions") or {}
        for channel, version in versions.items():
            blob_keys.add((row.thread_id, row.checkpoint_ns, channel, str(version)))
    blobs: dict[_BlobKey, BlobRow] = {}
    for chunk in _chunks(sorted(blob_keys), dialect.max_params // 4):
        found = yield Query(
            f"WITH k (t, n, c, v) AS (VALUES {_rows(p, 4, len(chunk))}) "
            f"SELECT {_cols(BLOB_COLUMNS, 'b.')} FROM k JOIN {dialect.blobs} b "
            "ON b.thread_id = k.t AND b.checkpoint_ns = k.n AND b.channel = k.c "
            "AND b.version = k.v",
            [x for key in chunk for x in key],
        )
        for r in found:
            b = blob_row(r)
            blobs[(b.thread_id, b.checkpoint_ns, b.channel, b.version)] = b
    ranges = sorted(
        {
            (b.thread_id, b.checkpoint_ns, b.channel, b.snapshot_seq, b.seq)
            for b in blobs.values()
            if b.kind == KIND_DELTA and b.snapshot_seq is not None
        }
    )
    one_range = (
        f"SELECT {_cols(BLOB_COLUMNS)} FROM {dialect.blobs} WHERE thread_id = {p} "
        f"AND checkpoint_ns = {p} AND channel = {p} AND seq >= {p} AND seq < {p}"
    )
    for span in _chunks(ranges, dialect.max_params // 5):
        found = yield Query(
            " UNION ALL ".join([one_range] * len(span)), [x for r in span for x in r]
        )
        for r in found:
            b = blob_row(r)
            blobs.setdefault((b.thread_id, b.checkpoint_ns, b.channel, b.version), b)
    writes: dict[tuple[str, str, str], list[WriteRow]] = {}
    ids = sorted({(r.thread_id, r.checkpoint_ns, r.checkpoint_id) for r in rows})
    for id_chunk in _chunks(ids, dialect.max_params // 3):
        found = yield Query(
            f"WITH k (t, n, i) AS (VALUES {_rows(p, 3, len(id_chunk))}) "
            f"SELECT {_cols(WRITE_COLUMNS, 'w.')} FROM k JOIN {dialect.writes} w "
            "ON w.thread_id = k.t AND w.checkpoint_ns = k.n AND w.checkpoint_id = k.i",
            [x for key in id_chunk for x in key],
        )
        for r in found:
            w = write_row(r)
            writes.setdefault((w.thread_id, w.checkpoint_ns, w.checkpoint_id), []).append(w)
    return blobs, writes


def _tuples_plan(
    dialect: Dialect, serde: SerializerProtocol, rows: Sequence[CheckpointRow]
) -> Plan[list[CheckpointTuple]]:
    if not rows:
        return []
    blobs, writes = yield from _parts_plan(dialect, rows)
    return [
        _core.to_tuple(
            serde,
            row,
            _row_blobs(row, blobs),
            writes.get((row.thread_id, row.checkpoint_ns, row.checkpoint_id), []),
        )
        for row in rows
    ]


def _row_blobs(row: CheckpointRow, blobs: Mapping[_BlobKey, BlobRow]) -> list[BlobRow]:
    """The rows one checkpoint reads (delta chains followed), not the whole page's."""
    out: list[BlobRow] = []
    versions = orjson.loads(row.checkpoint).get("channel_versions") or {}
    for channel, version in versions.items():
        key = (row.thread_id, row.checkpoint_ns, channel, str(version))
        for _ in range(100_000):
            blob = blobs.get(key)
            if blob is None:
                break
            out.append(blob)
            if blob.kind != KIND_DELTA or blob.base_version is None:
                break
            key = (row.thread_id, row.checkpoint_ns, channel, blob.base_version)
    return out


def get_tuple_plan(
    dialect: Dialect,
    serde: SerializerProtocol,
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: str | None,
) -> Plan[CheckpointTuple | None]:
    p = dialect.param
    sql = (
        f"SELECT {_cols(CHECKPOINT_COLUMNS)} FROM {dialect.checkpoints} "
        f"WHERE thread_id = {p} AND checkpoint_ns = {p}"
    )
    if checkpoint_id is None:
        found = yield Query(
            sql + " ORDER BY checkpoint_id DESC LIMIT 1", (thread_id, checkpoint_ns)
        )
    else:
        found = yield Query(
            sql + f" AND checkpoint_id = {p}", (thread_id, checkpoint_ns, checkpoint_id)
        )
    if not found:
        return None
    tuples = yield from _tuples_plan(dialect, serde, [checkpoint_row(found[0])])
    return tuples[0]


@dataclass
class ListCursor:
    """State of a paged ``list``: scope, filter, remaining limit and the keyset position."""

    thread_id: str | None
    checkpoint_ns: str | None
    checkpoint_id: str | None
    before: str | None
    terms: list[FilterTerm]
    limit: int | None
    after: tuple[str, str, str] | None = None  # (checkpoint_id, thread_id, ns) of the last row
    done: bool = False
    page_size: int = 200
    extra: dict[str, Any] = field(default_factory=dict)


def list_cursor(
    config: Mapping[str, Any] | None,
    filter: Mapping[str, Any] | None,
    before: Mapping[str, Any] | None,
    limit: int | None,
    page_size: int = 200,
) -> ListCursor:
    """Validate ``list`` arguments exactly like every other backend."""
    thread_id, ns, checkpoint_id = _core.list_scope(config)  # type: ignore[arg-type]
    terms = filter_terms(filter)
    cutoff = _core.before_id(before)  # type: ignore[arg-type]
    limit = _core.check_limit(limit)
    return ListCursor(
        thread_id, ns, checkpoint_id, cutoff, terms, limit, done=limit == 0, page_size=page_size
    )


def list_page_plan(
    dialect: Dialect, serde: SerializerProtocol, cursor: ListCursor
) -> Plan[list[CheckpointTuple]]:
    """The next page of a ``list``, newest id first, then thread and namespace ascending.

    Pages are read by keyset so a caller holds no cursor or lock between pages (it may call
    the saver while iterating); each page is read in one statement set by the runner.
    """
    p = dialect.param
    where: list[str] = []
    params: list[Any] = []
    if cursor.thread_id is not None:
        where.append(f"c.thread_id = {p}")
        params.append(cursor.thread_id)
    if cursor.checkpoint_ns is not None:
        where.append(f"c.checkpoint_ns = {p}")
        params.append(cursor.checkpoint_ns)
    if cursor.checkpoint_id is not None:
        where.append(f"c.checkpoint_id = {p}")
        params.append(cursor.checkpoint_id)
    if cursor.before is not None:
        where.append(f"c.checkpoint_id < {p}")
        params.append(cursor.before)
    if cursor.after is not None:
        cid, tid, ns = cursor.after
        # The first bound is redundant but lets the database range-scan an index.
        where.append(
            f"c.checkpoint_id <= {p} AND (c.checkpoint_id < {p} OR (c.checkpoint_id = {p} AND "
            f"(c.thread_id > {p} OR (c.thread_id = {p} AND c.checkpoint_ns > {p}))))"
        )
        params.extend([cid, cid, cid, tid, tid, ns])
    clauses, fparams, exact = render_filter(dialect, "c.metadata", cursor.terms)
    where.extend(clauses)
    params.extend(fparams)
    size = cursor.page_size
    if exact and cursor.limit is not None:
        size = min(size, cursor.limit)
    sql = f"SELECT {_cols(CHECKPOINT_COLUMNS, 'c.')} FROM {dialect.checkpoints} c"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY c.checkpoint_id DESC, c.thread_id, c.checkpoint_ns LIMIT {int(size)}"
    found = yield Query(sql, params)
    if len(found) < size:
        cursor.done = True
    rows = [checkpoint_row(r) for r in found]
    if rows:
        last = rows[-1]
        cursor.after = (last.checkpoint_id, last.thread_id, last.checkpoint_ns)
    if cursor.terms:
        wanted = {t.key: t.value for t in cursor.terms}
        rows = [r for r in rows if _core.filter_matches(_core.load_metadata(r.metadata), wanted)]
    if cursor.limit is not None:
        rows = rows[: cursor.limit]
        cursor.limit -= len(rows)
        if cursor.limit <= 0:
            cursor.done = True
    return (yield from _tuples_plan(dialect, serde, rows))


# -- lifecycle plans ----------------------------------------------------------------------


def delete_thread_plan(dialect: Dialect, thread_id: str) -> Plan[None]:
    p = dialect.param
    for table in (dialect.writes, dialect.blobs, dialect.checkpoints):
        yield Query(f"DELETE FROM {table} WHERE thread_id = {p}", (thread_id,))


def list_threads_plan(dialect: Dialect, limit: int | None, after: str | None) -> Plan[list[str]]:
    p = dialect.param
    sql = f"SELECT DISTINCT thread_id FROM {dialect.checkpoints}"
    params: list[Any] = []
    if after is not None:
        sql += f" WHERE thread_id > {p}"
        params.append(after)
    sql += " ORDER BY thread_id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    found = yield Query(sql, params)
    return [str(r[0]) for r in found]


def copy_thread_plan(
    dialect: Dialect, source: str, target: str, serde: SerializerProtocol | None = None
) -> Plan[bool]:
    """Copy every row of ``source`` to ``target``; returns whether anything was copied.

    Give ``serde`` when it may authenticate storage places (``dumps_typed_bound``): values
    and writes are then re-sealed for the target thread instead of relabelled.
    """
    p = dialect.param
    found = yield Query(
        f"SELECT 1 FROM {dialect.checkpoints} WHERE thread_id = {p} LIMIT 1", (target,)
    )
    if found:
        raise ValueError(f"copy_thread: target thread {target!r} already has checkpoints")
    if source == target:
        return False
    found = yield Query(
        f"SELECT 1 FROM {dialect.checkpoints} WHERE thread_id = {p} LIMIT 1", (source,)
    )
    if not found:
        return False
    reseal = serde is not None and hasattr(serde, "dumps_typed_bound")
    for table, columns in (
        (dialect.checkpoints, CHECKPOINT_COLUMNS),
        (dialect.blobs, BLOB_COLUMNS),
        (dialect.writes, WRITE_COLUMNS),
    ):
        # Stray target rows (writes that arrived before any checkpoint) are replaced.
        if table != dialect.checkpoints:
            yield Query(f"DELETE FROM {table} WHERE thread_id = {p}", (target,))
        if reseal and table != dialect.checkpoints:
            assert serde is not None
            rows = yield Query(
                f"SELECT {_cols(columns)} FROM {table} WHERE thread_id = {p}", (source,)
            )
            moved: list[Any] = [
                _core.rebind_blob(serde, blob_row(r), target)
                if table == dialect.blobs
                else _core.rebind_write(serde, write_row(r), target)
                for r in rows
            ]
            if moved:
                yield Query(
                    f"INSERT INTO {table} ({_cols(columns)}) VALUES ({dialect.marks(len(columns))})",
                    [dataclasses.astuple(m) for m in moved],
                    many=True,
                )
            continue
        yield Query(
            f"INSERT INTO {table} ({_cols(columns)}) SELECT {p}, {_cols(columns[1:])} "
            f"FROM {table} WHERE thread_id = {p}",
            (target, source),
        )
    return True


def _drop_orphans_plan(dialect: Dialect, thread_id: str) -> Plan[None]:
    """Delete writes and values of ``thread_id`` that no surviving checkpoint reads."""
    p = dialect.param
    yield Query(
        f"DELETE FROM {dialect.writes} WHERE thread_id = {p} AND NOT EXISTS (SELECT 1 FROM "
        f"{dialect.checkpoints} c WHERE c.thread_id = {dialect.writes}.thread_id AND "
        f"c.checkpoint_ns = {dialect.writes}.checkpoint_ns AND "
        f"c.checkpoint_id = {dialect.writes}.checkpoint_id)",
        (thread_id,),
    )
    bodies = yield Query(
        f"SELECT checkpoint_ns, checkpoint FROM {dialect.checkpoints} WHERE thread_id = {p}",
        (thread_id,),
    )
    found = yield Query(
        f"SELECT checkpoint_ns, channel, version, seq, kind, base_version FROM {dialect.blobs} "
        f"WHERE thread_id = {p}",
        (thread_id,),
    )
    blobs = {
        (r[0], r[1], r[2]): BlobRow(thread_id, r[0], r[1], r[2], r[3], r[4], None, None, r[5])
        for r in found
    }
    live = _core.referenced_blobs(((r[0], _as_bytes(r[1])) for r in bodies), blobs)
    dead = sorted(k for k in blobs if k not in live)
    if dead:
        yield Query(
            f"DELETE FROM {dialect.blobs} WHERE thread_id = {p} AND checkpoint_ns = {p} "
            f"AND channel = {p} AND version = {p}",
            [(thread_id, *k) for k in dead],
            many=True,
        )


def prune_plan(dialect: Dialect, thread_ids: Sequence[str], strategy: str) -> Plan[None]:
    """``keep_latest``: the newest checkpoint per namespace stays, parentless; ``delete``."""
    p = dialect.param
    for thread_id in dict.fromkeys(thread_ids):
        if strategy == "delete":
            yield from delete_thread_plan(dialect, thread_id)
            continue
        t = dialect.checkpoints
        yield Query(
            f"DELETE FROM {t} WHERE thread_id = {p} AND checkpoint_id < (SELECT max(k.checkpoint_id) "
            f"FROM {t} k WHERE k.thread_id = {t}.thread_id AND k.checkpoint_ns = {t}.checkpoint_ns)",
            (thread_id,),
        )
        yield Query(
            f"UPDATE {t} SET parent_checkpoint_id = NULL WHERE thread_id = {p} "
            "AND parent_checkpoint_id IS NOT NULL",
            (thread_id,),
        )
        yield from _drop_orphans_plan(dialect, thread_id)


def delete_for_runs_plan(dialect: Dialect, run_ids: Sequence[str]) -> Plan[set[str]]:
    """Delete checkpoints of the runs; survivors re-parented. Returns the touched threads."""
    p = dialect.param
    runs = sorted(set(run_ids))
    doomed: dict[tuple[str, str], list[str]] = {}
    for chunk in _chunks(runs, dialect.max_params):
        found = yield Query(
            f"SELECT thread_id, checkpoint_ns, checkpoint_id FROM {dialect.checkpoints} "
            f"WHERE run_id IN ({dialect.marks(len(chunk))})",
            list(chunk),
        )
        for r in found:
            doomed.setdefault((r[0], r[1]), []).append(r[2])
    for (thread_id, ns), ids in sorted(doomed.items()):
        found = yield Query(
            f"SELECT checkpoint_id, parent_checkpoint_id FROM {dialect.checkpoints} "
            f"WHERE thread_id = {p} AND checkpoint_ns = {p}",
            (thread_id, ns),
        )
        parents = {r[0]: r[1] for r in found}
        moves = _core.reparent(parents, ids)
        if moves:
            yield Query(
                f"UPDATE {dialect.checkpoints} SET parent_checkpoint_id = {p} "
                f"WHERE thread_id = {p} AND checkpoint_ns = {p} AND checkpoint_id = {p}",
                [(parent, thread_id, ns, cid) for cid, parent in sorted(moves.items())],
                many=True,
            )
        yield Query(
            f"DELETE FROM {dialect.checkpoints} WHERE thread_id = {p} AND checkpoint_ns = {p} "
            f"AND checkpoint_id = {p}",
            [(thread_id, ns, cid) for cid in ids],
            many=True,
        )
    touched = {thread_id for thread_id, _ in doomed}
    for thread_id in sorted(touched):
        yield from _drop_orphans_plan(dialect, thread_id)
    return touched


def validate_run_ids(run_ids: Iterable[str]) -> list[str]:
    return [validate_key("run_id", r) for r in run_ids]
