"""Value types of the reference engine; those that get stored are registered with the serde."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

from checkpointkit.serde import register_type

__all__ = [
    "Command",
    "Interrupt",
    "Overwrite",
    "PregelTask",
    "RemoveMessage",
    "Runtime",
    "Send",
    "StateSnapshot",
    "StateUpdate",
]

ContextT = TypeVar("ContextT")


@dataclasses.dataclass
class Interrupt:
    """A pause raised by ``interrupt(value)``; ``id`` is stable for the same task and call index."""

    value: Any
    id: str
    response_schema: Any = None


@dataclasses.dataclass
class Send:
    """Schedule node ``node`` with input ``arg`` in the next super-step (a PUSH task)."""

    node: str
    arg: Any


@dataclasses.dataclass
class Overwrite:
    """Replace a reducer field's value instead of reducing into it."""

    value: Any


@dataclasses.dataclass
class RemoveMessage:
    """Written into a messages field, deletes the message with this id (or all of them)."""

    id: str


@dataclasses.dataclass
class Command:
    """Graph input or node result that updates state, routes and/or answers interrupts."""

    graph: str | None = None
    update: Any = None
    resume: Any = None
    goto: Any = ()

    PARENT: ClassVar[str] = "__parent__"


class PregelTask(NamedTuple):
    """A task scheduled from a checkpoint, as shown by ``get_state``."""

    id: str
    name: str
    path: tuple[Any, ...]
    error: Any = None
    interrupts: tuple[Interrupt, ...] = ()
    state: Any = None
    result: Any = None


class StateSnapshot(NamedTuple):
    """The state of a thread at one checkpoint."""

    values: dict[str, Any]
    next: tuple[str, ...]
    config: dict[str, Any]
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_config: dict[str, Any] | None
    tasks: tuple[PregelTask, ...]
    interrupts: tuple[Interrupt, ...]


class StateUpdate(NamedTuple):
    """One entry of ``bulk_update_state``."""

    values: Any
    as_node: str | None = None
    task_id: str | None = None


@dataclasses.dataclass
class Runtime(Generic[ContextT]):
    """What a node may ask for besides its state: run context, store and config."""

    context: ContextT | None = None
    store: Any = None
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    stream_writer: Callable[[Any], None] = lambda _chunk: None
    previous: Any = None


# Names under "checkpointkit.reference_engine." resolve to this module in the serde's fixed table.
register_type(Interrupt, name="checkpointkit.reference_engine.Interrupt")
register_type(Send, name="checkpointkit.reference_engine.Send")
register_type(Overwrite, name="checkpointkit.reference_engine.Overwrite")
register_type(RemoveMessage, name="checkpointkit.reference_engine.RemoveMessage")
