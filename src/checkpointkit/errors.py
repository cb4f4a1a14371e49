"""Errors a saver raises that callers are expected to catch by type."""

from __future__ import annotations

__all__ = ["ThreadBusyError"]


class ThreadBusyError(RuntimeError):
    """Another run holds the thread (capability ``exclusive_runs``); raised at once, never
    after waiting. ``thread_id`` names the thread and ``holder`` describes the other run."""

    def __init__(self, thread_id: str, holder: str = "another run") -> None:
        self.thread_id = thread_id
        self.holder = holder
        super().__init__(
            f"thread {thread_id!r} is busy: {holder} is running on it; wait for that run to "
            "finish (or end it) before starting another run on this thread"
        )
