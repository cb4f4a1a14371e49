"""Per-task context (a contextvar): what ``interrupt``, ``get_config`` and nested graphs read."""

from __future__ import annotations

import hashlib
import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from checkpointkit.reference_engine.errors import GraphInterrupt
from checkpointkit.reference_engine.types import Interrupt, Runtime

if TYPE_CHECKING:
    from checkpointkit.reference_engine.pregel import _Run, _Task

__all__ = ["get_config", "get_runtime", "get_store", "interrupt"]

_MISSING: Any = object()


class NullResume:
    """A resume value given without an interrupt id; the first ``interrupt()`` to need it takes it."""

    __slots__ = ("lock", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.lock = threading.Lock()

    def take(self) -> Any:
        with self.lock:
            value, self.value = self.value, _MISSING
            return value


class TaskContext:
    """The running task: its config, namespace and the answers it has for ``interrupt()``."""

    __slots__ = (
        "_runtime",
        "config",
        "interrupt_counter",
        "resume",
        "resume_used",
        "run",
        "subgraph_calls",
        "task",
    )

    def __init__(self, run: _Run, task: _Task, resume: list[Any]) -> None:
        self.run = run
        self.task = task
        self.resume = resume
        self.resume_used = False
        self.interrupt_counter = 0
        self.subgraph_calls = 0
        self.config: dict[str, Any] = run.task_config(task)
        self._runtime: Runtime[Any] | None = None

    @property
    def runtime(self) -> Runtime[Any]:
        if self._runtime is None:
            self._runtime = Runtime(
                context=self.run.context, store=self.run.store, config=self.config
            )
        return self._runtime

    def take_null_resume(self) -> Any:
        """This run's plain resume value, else the enclosing task's (subgraphs answer from the parent)."""
        holder = self.run.null_resume
        if holder is not None:
            value = holder.take()
            if value is not _MISSING:
                return value
        parent = self.run.parent
        if parent is not None:
            return parent.take_null_resume()
        return _MISSING


CURRENT: ContextVar[TaskContext | None] = ContextVar("checkpointkit_task", default=None)


def interrupt_id(task_ns: str, index: int) -> str:
    """Deterministic per task namespace and call index, so a re-run task raises the same ids."""
    return hashlib.blake2b(f"{task_ns}\x00{index}".encode(), digest_size=16).hexdigest()


def interrupt(value: Any) -> Any:
    """Pause the graph and surface ``value``; on resume, return the answer given for this call."""
    ctx = CURRENT.get()
    if ctx is None:
        raise RuntimeError("Called interrupt() outside the context of a graph.")
    index = ctx.interrupt_counter
    ctx.interrupt_counter += 1
    if index < len(ctx.resume):
        ctx.resume_used = True
        return ctx.resume[index]
    iid = interrupt_id(ctx.task.ns, index)
    resume_map = ctx.run.resume_map
    if resume_map and iid in resume_map:
        ctx.resume.append(resume_map[iid])
        ctx.resume_used = True
        return resume_map[iid]
    answer = ctx.take_null_resume()
    if answer is not _MISSING:
        ctx.resume.append(answer)
        ctx.resume_used = True
        return answer
    raise GraphInterrupt((Interrupt(value=value, id=iid),))


def _current(what: str) -> TaskContext:
    ctx = CURRENT.get()
    if ctx is None:
        raise RuntimeError(f"Called {what} outside of a runnable context")
    return ctx


def get_config() -> dict[str, Any]:
    """The running task's config (``configurable`` and ``metadata`` with ``langgraph_*`` keys)."""
    return _current("get_config").config


def get_store() -> Any:
    """The store the graph was compiled with, or None."""
    return _current("get_store").run.store


def get_runtime() -> Runtime[Any]:
    """The running task's :class:`Runtime`."""
    return _current("get_runtime").runtime
