"""One synchronous face over a saver's sync methods or its async twins."""

from __future__ import annotations

import asyncio
import builtins
import os
import threading
from collections.abc import Awaitable, Coroutine, Sequence
from typing import Any, TypeVar

from checkpointkit.checkpoint import Checkpoint, CheckpointTuple, Config

__all__ = ["LoopThread", "SaverDriver"]

T = TypeVar("T")

CALL_TIMEOUT = 120.0  # seconds; a hung saver fails the test instead of hanging the run


def call_timeout() -> float:
    """Seconds an async saver call may take: ``CHECKPOINTKIT_CALL_TIMEOUT`` or the default."""
    return float(os.environ.get("CHECKPOINTKIT_CALL_TIMEOUT") or CALL_TIMEOUT)


class LoopThread:
    """An event loop running in a daemon thread; async savers live and run on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="checkpointkit-loop", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if timeout is None:
            timeout = call_timeout()
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"saver call did not finish within {timeout:.0f}s") from None

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self.loop.is_running():
            self.loop.close()


async def _collect(aiterable: Any) -> list[Any]:
    return [item async for item in aiterable]


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


class SaverDriver:
    """Calls the sync method (``flavor="sync"``) or runs its ``a*`` twin on the loop thread.

    Tests are written once against this face and run for both flavors.
    """

    def __init__(self, saver: Any, flavor: str, loop: LoopThread | None = None) -> None:
        if flavor not in ("sync", "async"):
            raise ValueError(f"unknown flavor {flavor!r}")
        if flavor == "async" and loop is None:
            raise ValueError("the async flavor needs a LoopThread")
        self.saver = saver
        self.flavor = flavor
        self.loop = loop

    def __repr__(self) -> str:
        return f"SaverDriver({type(self.saver).__name__}, {self.flavor})"

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.flavor == "sync":
            return getattr(self.saver, name)(*args, **kwargs)
        assert self.loop is not None
        method = getattr(self.saver, "a" + name)
        return self.loop.run(_await(method(*args, **kwargs)))

    @property
    def serde(self) -> Any:
        return self.saver.serde

    def put(
        self,
        config: Config,
        checkpoint: Checkpoint,
        metadata: dict[str, Any],
        new_versions: dict[str, Any],
    ) -> Config:
        return self._call("put", config, checkpoint, metadata, new_versions)  # type: ignore[no-any-return]

    def put_writes(
        self,
        config: Config,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._call("put_writes", config, writes, task_id, task_path)

    def get_tuple(self, config: Config) -> CheckpointTuple | None:
        return self._call("get_tuple", config)  # type: ignore[no-any-return]

    def list(
        self,
        config: Config | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> builtins.list[CheckpointTuple]:
        if self.flavor == "sync":
            return list(self.saver.list(config, filter=filter, before=before, limit=limit))
        assert self.loop is not None
        return self.loop.run(
            _collect(self.saver.alist(config, filter=filter, before=before, limit=limit))
        )

    def delete_thread(self, thread_id: str) -> None:
        self._call("delete_thread", thread_id)

    def list_threads(self, **kwargs: Any) -> builtins.list[str]:
        return list(self._call("list_threads", **kwargs))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._call("copy_thread", source_thread_id, target_thread_id)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._call("prune", thread_ids, strategy=strategy)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._call("delete_for_runs", run_ids)

    def get_next_version(self, current: Any) -> Any:
        return self.saver.get_next_version(current, None)
