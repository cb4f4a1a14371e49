"""Runs reference-engine graphs over the saver under test, with the sync or the async engine."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import new_thread_id

__all__ = ["Runner", "checkpoint_id", "child_env", "shape", "thread_config"]


def thread_config(thread_id: str | None = None, **configurable: Any) -> dict[str, Any]:
    """``{"configurable": {"thread_id": ...}}`` for a fresh thread unless one is named."""
    return {"configurable": {"thread_id": thread_id or new_thread_id("scn"), **configurable}}


async def _collect(aiterable: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in aiterable]


class Runner:
    """One face over a compiled graph: its sync methods (``flavor="sync"``), or its ``a*`` twins
    run on the driver's loop thread, where the async saver lives (``flavor="async"``)."""

    def __init__(self, driver: SaverDriver, build: Callable[..., Any], *args: Any, **kwargs: Any):
        self.driver = driver
        self.graph = build(*args, **kwargs)

    @property
    def is_async(self) -> bool:
        return self.driver.flavor == "async"

    def _run(self, coro: Any) -> Any:
        assert self.driver.loop is not None
        return self.driver.loop.run(coro)

    def invoke(self, input: Any, config: dict[str, Any], **kwargs: Any) -> Any:
        if self.is_async:
            return self._run(self.graph.ainvoke(input, config, **kwargs))
        return self.graph.invoke(input, config, **kwargs)

    def get_state(self, config: dict[str, Any], *, subgraphs: bool = False) -> Any:
        if self.is_async:
            return self._run(self.graph.aget_state(config, subgraphs=subgraphs))
        return self.graph.get_state(config, subgraphs=subgraphs)

    def history(self, config: dict[str, Any], **kwargs: Any) -> list[Any]:
        if self.is_async:
            return self._run(_collect(self.graph.aget_state_history(config, **kwargs)))  # type: ignore[no-any-return]
        return list(self.graph.get_state_history(config, **kwargs))

    def update_state(
        self, config: dict[str, Any], values: Any, as_node: str | None = None
    ) -> dict[str, Any]:
        if self.is_async:
            return self._run(self.graph.aupdate_state(config, values, as_node=as_node))  # type: ignore[no-any-return]
        return self.graph.update_state(config, values, as_node=as_node)  # type: ignore[no-any-return]


def checkpoint_id(config: dict[str, Any] | None) -> str | None:
    return None if config is None else config["configurable"].get("checkpoint_id")


def shape(snapshots: list[Any]) -> list[tuple[str, int, tuple[str, ...]]]:
    """``(source, step, next)`` of each snapshot, in the order given."""
    return [(s.metadata["source"], s.metadata["step"], tuple(s.next)) for s in snapshots]


def child_env() -> dict[str, str]:
    """The environment for a scenario child process: this process's import path included, so
    saver factories defined next to the tests resolve there too."""
    env = dict(os.environ)
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env
