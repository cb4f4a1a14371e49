"""``tamper`` fixtures for the reference savers: read and rewrite stored value rows directly."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any

from checkpointkit.backends.memory import MemorySaver
from checkpointkit.conformance.reliability import StoredValue

__all__ = ["DuckDBTamper", "MemoryTamper", "PostgresTamper", "SqliteTamper"]


class MemoryTamper:
    """Rewrites the memory saver's serialized rows in place."""

    def __init__(self, saver: MemorySaver) -> None:
        self.saver = saver

    def stored_values(self, thread_id: str) -> list[StoredValue]:
        out: list[StoredValue] = []
        with self.saver._lock:
            for (ns, channel, version), row in self.saver._blobs.get(thread_id, {}).items():
                out.append(StoredValue("blob", thread_id, ns, channel, row.type, row.data, version))
            for (ns, cid), bucket in self.saver._writes.get(thread_id, {}).items():
                for (task_id, idx), w in bucket.items():
                    out.append(
                        StoredValue(
                            "write", thread_id, ns, w.channel, w.type, w.data,
                            checkpoint_id=cid, task_id=task_id, idx=idx,
                        )
                    )  # fmt: skip
        return out

    def overwrite(self, stored: StoredValue, type_tag: str, data: bytes) -> None:
        with self.saver._lock:
            if stored.kind == "blob":
                blobs = self.saver._blobs[stored.thread_id]
                key = (stored.checkpoint_ns, stored.channel, stored.version or "")
                blobs[key] = dataclasses.replace(blobs[key], type=type_tag, data=data)
            else:
                bucket = self.saver._writes[stored.thread_id][
                    (stored.checkpoint_ns, stored.checkpoint_id or "")
                ]
                wkey = (stored.task_id or "", stored.idx if stored.idx is not None else 0)
                bucket[wkey] = dataclasses.replace(bucket[wkey], type=type_tag, data=data)


class _SqlTamper:
    """Shared SQL: tables ``blobs`` and ``writes`` with the reference column names."""

    blobs = "checkpoint_blobs"
    writes = "checkpoint_writes"
    p = "?"

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def stored_values(self, thread_id: str) -> list[StoredValue]:
        p = self.p
        out = [
            StoredValue("blob", thread_id, ns, channel, tag, _bytes(data), str(version))
            for ns, channel, version, tag, data in self._query(
                f"SELECT checkpoint_ns, channel, version, type, data FROM {self.blobs} "
                f"WHERE thread_id = {p}",
                (thread_id,),
            )
        ]
        out += [
            StoredValue(
                "write", thread_id, ns, channel, tag, _bytes(data),
                checkpoint_id=cid, task_id=task_id, idx=int(idx),
            )
            for ns, cid, task_id, idx, channel, tag, data in self._query(
                f"SELECT checkpoint_ns, checkpoint_id, task_id, idx, channel, type, data "
                f"FROM {self.writes} WHERE thread_id = {p}",
                (thread_id,),
            )
        ]  # fmt: skip
        return out

    def overwrite(self, stored: StoredValue, type_tag: str, data: bytes) -> None:
        p = self.p
        if stored.kind == "blob":
            self._execute(
                f"UPDATE {self.blobs} SET type = {p}, data = {p} WHERE thread_id = {p} "
                f"AND checkpoint_ns = {p} AND channel = {p} AND version = {p}",
                (type_tag, data, stored.thread_id, stored.checkpoint_ns, stored.channel,
                 stored.version),
            )  # fmt: skip
        else:
            self._execute(
                f"UPDATE {self.writes} SET type = {p}, data = {p} WHERE thread_id = {p} "
                f"AND checkpoint_ns = {p} AND checkpoint_id = {p} AND task_id = {p} "
                f"AND idx = {p}",
                (type_tag, data, stored.thread_id, stored.checkpoint_ns, stored.checkpoint_id,
                 stored.task_id, stored.idx),
            )  # fmt: skip


def _bytes(data: Any) -> bytes | None:
    return None if data is None else bytes(data)


class SqliteTamper(_SqlTamper):
    """A second connection on the saver's SQLite file (or the saver's own for ``:memory:``)."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self.saver._lock:
            return list(self.saver.conn.execute(sql, params).fetchall())

    def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        with self.saver._lock:
            conn: sqlite3.Connection = self.saver.conn
            conn.execute(sql, params)


class DuckDBTamper(_SqlTamper):
    """The DuckDB saver's own connection (one process per file)."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver

    def _conn(self) -> Any:
        return self.saver._cursors.conn

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self.saver._write_lock:
            return list(self._conn().cursor().execute(sql, list(params)).fetchall())

    def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        with self.saver._write_lock:
            self._conn().cursor().execute(sql, list(params))


class PostgresTamper(_SqlTamper):
    """A separate autocommit connection to the saver's database and schema."""

    p = "%s"

    def __init__(self, url: str, schema: str = "public") -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        self.blobs = f'"{schema}".ck_blobs'
        self.writes = f'"{schema}".ck_writes'

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, params).fetchall())  # type: ignore[arg-type]

    def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        self.conn.execute(sql, params)  # type: ignore[arg-type]

    def close(self) -> None:
        self.conn.close()


TEST_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
