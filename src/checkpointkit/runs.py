"""Exclusive runs: a saver hands out one lease per thread, so two runs never interleave."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from checkpointkit.checkpoint import validate_key
from checkpointkit.errors import ThreadBusyError

__all__ = [
    "ExclusiveRunSaver",
    "FileRunLocks",
    "InProcessRunLocks",
    "RunLease",
    "ThreadBusyError",
    "default_owner",
]


def default_owner() -> str:
    """A description of this run for the error another run gets: host, pid, thread, time."""
    return (
        f"run of pid {os.getpid()} on {socket.gethostname()} "
        f"(thread {threading.current_thread().name}, since {time.strftime('%H:%M:%S')})"
    )


class RunLease:
    """One held thread. ``release`` (or ``arelease``, or leaving the ``with`` block) frees it;
    releasing twice is a no-op. A process that dies frees its leases with it."""

    def __init__(
        self, thread_id: str, owner: str, release: Callable[[], None] | None = None
    ) -> None:
        self.thread_id = thread_id
        self.owner = owner
        self._release = release
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        return self._release is not None

    def release(self) -> None:
        with self._lock:
            release, self._release = self._release, None
        if release is not None:
            release()

    async def arelease(self) -> None:
        self.release()

    def __enter__(self) -> RunLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "held" if self.held else "released"
        return f"RunLease({self.thread_id!r}, {state})"


@runtime_checkable
class ExclusiveRunSaver(Protocol):
    """The ``exclusive_runs`` capability: engines call ``acquire_run`` (or ``aacquire_run``)
    before a run on a thread and release the lease when the run ends, normally or not."""

    def acquire_run(self, thread_id: str, *, owner: str | None = None) -> RunLease: ...

    async def aacquire_run(self, thread_id: str, *, owner: str | None = None) -> RunLease: ...


class InProcessRunLocks:
    """Leases kept in this process: for stores only this process can reach (memory, DuckDB)."""

    _registries: dict[str, dict[str, str]] = {}
    _guard = threading.Lock()

    def __init__(self, store_key: str) -> None:
        self.store_key = store_key

    def acquire(self, thread_id: str, owner: str | None = None) -> RunLease:
        thread_id = validate_key("thread_id", thread_id)
        owner = owner or default_owner()
        with self._guard:
            held = self._registries.setdefault(self.store_key, {})
            if thread_id in held:
                raise ThreadBusyError(thread_id, held[thread_id])
            held[thread_id] = owner

        def release() -> None:
            with self._guard:
                self._registries.get(self.store_key, {}).pop(thread_id, None)

        return RunLease(thread_id, owner, release)


class FileRunLocks:
    """Leases as ``flock`` locks on one small file per thread next to a database file.

    The kernel drops the lock when the holder's process dies, so a crashed run never blocks
    the thread; two savers of one process on the same file exclude each other too.
    """

    def __init__(self, database_path: str) -> None:
        self.directory = os.path.abspath(os.fspath(database_path)) + ".runs"

    def _path(self, thread_id: str) -> str:
        digest = hashlib.sha256(thread_id.encode("utf-8")).hexdigest()[:40]
        return os.path.join(self.directory, digest + ".lock")

    def acquire(self, thread_id: str, owner: str | None = None) -> RunLease:
        thread_id = validate_key("thread_id", thread_id)
        owner = owner or default_owner()
        os.makedirs(self.directory, exist_ok=True)
        path = self._path(thread_id)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise ThreadBusyError(thread_id, _read_owner(path)) from None
            # The previous holder may have unlinked the file between our open and flock.
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, owner.encode("utf-8", "replace"))

        def release() -> None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            os.close(fd)

        return RunLease(thread_id, owner, release)


def _read_owner(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(500).strip()
    except OSError:
        text = ""
    return text or "another run"
