"""Typed capability declarations: what a saver under test claims to support."""

from __future__ import annotations

import dataclasses
import enum

__all__ = ["Capabilities", "Capability"]


class Capability(str, enum.Enum):
    """One optional part of the contract; each value matches a spec capability name."""

    SYNC = "sync"
    """The saver's synchronous methods are tested."""
    ASYNC = "async"
    """The saver's ``a*`` coroutine methods are tested (through the ``async_saver`` fixture)."""
    THREAD_SAFE = "thread_safe"
    """One saver instance may be called from several Python threads at once."""
    PERSISTENT = "persistent"
    """Data outlives the saver instance and the process (needs the ``saver_factory`` fixture)."""
    LIST_THREADS = "list_threads"
    """``list_threads`` returns every thread id that has a checkpoint."""
    COPY_THREAD = "copy_thread"
    """``copy_thread`` copies a whole thread, every namespace, to a new thread id."""
    PRUNE = "prune"
    """``prune`` keeps the latest checkpoint per namespace, or deletes whole threads."""
    DELETE_FOR_RUNS = "delete_for_runs"
    """``delete_for_runs`` deletes the checkpoints a run created, and their writes."""
    MULTI_PROCESS = "multi_process"
    """Several processes may open the same storage and write to it at once (needs
    ``saver_factory``)."""
    EXCLUSIVE_RUNS = "exclusive_runs"
    """``acquire_run(thread_id)`` / ``aacquire_run`` lease a thread to one run; a second
    run on it raises ``checkpointkit.errors.ThreadBusyError`` at once."""
    TAMPER = "tamper"
    """The saver author gives a ``tamper`` fixture (``conformance.reliability.Tamper``) that
    reads and rewrites stored value rows, for the corrupted-row tests."""

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a saver declares. Unknown names are a ``TypeError`` at class definition."""

    sync: bool = True
    async_: bool = True
    thread_safe: bool = True
    persistent: bool = False
    list_threads: bool = False
    copy_thread: bool = False
    prune: bool = False
    delete_for_runs: bool = False
    multi_process: bool = False
    exclusive_runs: bool = False
    tamper: bool = False

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if not isinstance(getattr(self, field.name), bool):
                raise TypeError(f"Capabilities.{field.name} must be a bool")
        if not (self.sync or self.async_):
            raise ValueError("a saver must declare at least one of sync and async_")

    @staticmethod
    def _field(capability: Capability) -> str:
        return "async_" if capability is Capability.ASYNC else capability.value

    def has(self, capability: Capability) -> bool:
        if not isinstance(capability, Capability):
            raise TypeError(f"not a Capability: {capability!r}")
        return bool(getattr(self, self._field(capability)))

    def declared(self) -> list[Capability]:
        return [c for c in Capability if self.has(c)]

    @classmethod
    def all(cls) -> Capabilities:
        """Every capability: what the reference savers declare."""
        return cls(**{f.name: True for f in dataclasses.fields(cls)})

    def as_dict(self) -> dict[str, bool]:
        return {c.value: self.has(c) for c in Capability}
