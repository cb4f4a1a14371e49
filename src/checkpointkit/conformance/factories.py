"""Builders the suite uses to make checkpoints, chains and savers the way an engine would."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from checkpointkit.checkpoint import Checkpoint, Config, checkpoint_config
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.ids import new_checkpoint_id

__all__ = ["SaverFactory", "ThreadWriter", "make_checkpoint", "new_thread_id"]


def new_thread_id(prefix: str = "ck") -> str:
    """A fresh thread id: tests never assume an empty store."""
    return f"{prefix}-{uuid.uuid4()}"


def make_checkpoint(
    values: dict[str, Any] | None = None,
    versions: dict[str, Any] | None = None,
    *,
    checkpoint_id: str | None = None,
) -> Checkpoint:
    values = dict(values or {})
    return Checkpoint(
        v=4,
        id=checkpoint_id or new_checkpoint_id(),
        ts=datetime.now(timezone.utc).isoformat(),
        channel_values=values,
        channel_versions=dict(versions if versions is not None else {k: 1 for k in values}),
        versions_seen={},
        updated_channels=sorted(values),
    )


class ThreadWriter:
    """Puts checkpoints into one (thread, namespace) like an engine: versions bump only for
    channels that change, ``new_versions`` lists exactly those, parents chain by default."""

    def __init__(self, driver: SaverDriver, thread_id: str | None = None, ns: str = "") -> None:
        self.driver = driver
        self.thread_id = thread_id or new_thread_id()
        self.ns = ns
        self.head: Checkpoint | None = None
        self.head_config: Config | None = None
        self.checkpoints: dict[str, Checkpoint] = {}
        self.step = -1

    def config(self, checkpoint_id: str | None = None) -> Config:
        return checkpoint_config(self.thread_id, self.ns, checkpoint_id)

    def prepare(
        self,
        updates: dict[str, Any] | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        parent: str | bool | None = True,
        remove: tuple[str, ...] = (),
    ) -> tuple[Config, Checkpoint, dict[str, Any], dict[str, Any]]:
        """The arguments of the next ``put``: a child of ``parent`` (default: the head;
        ``None``: no parent). Call :meth:`commit` once it is stored."""
        base = (
            self.head
            if parent is True
            else (self.checkpoints[parent] if isinstance(parent, str) else None)
        )
        values = dict(base["channel_values"]) if base else {}
        versions = dict(base["channel_versions"]) if base else {}
        new_versions: dict[str, Any] = {}
        for channel, value in (updates or {}).items():
            new_versions[channel] = self.driver.get_next_version(versions.get(channel))
            versions[channel] = new_versions[channel]
            values[channel] = value
        for channel in remove:
            values.pop(channel, None)
            versions.pop(channel, None)
        checkpoint = make_checkpoint(values, versions)
        checkpoint["updated_channels"] = sorted(updates or {})
        self.step += 1
        meta = {"source": "loop", "step": self.step, "parents": {}}
        meta.update(metadata or {})
        return self.config(base["id"] if base else None), checkpoint, meta, new_versions

    def commit(self, checkpoint: Checkpoint, config: Config) -> Config:
        self.checkpoints[checkpoint["id"]] = checkpoint
        self.head, self.head_config = checkpoint, config
        return config

    def put(
        self,
        updates: dict[str, Any] | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        parent: str | bool | None = True,
        remove: tuple[str, ...] = (),
    ) -> Config:
        """Put the next checkpoint through the driver (see :meth:`prepare`)."""
        args = self.prepare(updates, metadata=metadata, parent=parent, remove=remove)
        return self.commit(args[1], self.driver.put(*args))

    def chain(self, n: int, channel: str = "step", **kwargs: Any) -> list[Config]:
        return [self.put({channel: i}, **kwargs) for i in range(n)]


@dataclasses.dataclass(frozen=True)
class SaverFactory:
    """How to build a saver on the same storage again, in this process or another one.

    ``target`` is ``"package.module:callable"`` (attributes may be dotted) naming code of
    the saver's author; it returns a saver or a context manager that yields one.
    """

    target: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def resolve(self) -> Any:
        module_name, _, attr = self.target.partition(":")
        if not module_name or not attr:
            raise ValueError(f"SaverFactory target must be 'module:callable', got {self.target!r}")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj

    @contextlib.contextmanager
    def open(self) -> Iterator[Any]:
        made = self.resolve()(*self.args, **self.kwargs)
        if hasattr(made, "__enter__") and not hasattr(made, "put"):
            with made as saver:
                yield saver
        else:
            try:
                yield made
            finally:
                close = getattr(made, "close", None)
                if callable(close):
                    close()

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "args": list(self.args), "kwargs": dict(self.kwargs)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SaverFactory:
        return cls(data["target"], tuple(data.get("args", ())), dict(data.get("kwargs", {})))
