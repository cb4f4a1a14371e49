"""Exceptions raised by the reference engine; names and messages follow LangGraph."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from checkpointkit.reference_engine.types import Interrupt

__all__ = [
    "EmptyChannelError",
    "EmptyInputError",
    "GraphInterrupt",
    "GraphRecursionError",
    "InvalidNamespaceError",
    "InvalidUpdateError",
]


class InvalidUpdateError(Exception):
    """A write that a channel cannot accept, or an update_state that cannot be placed."""


class GraphRecursionError(RecursionError):
    """The run reached its recursion limit with tasks still scheduled."""


class EmptyInputError(Exception):
    """A run was started with no input and nothing to resume."""


class EmptyChannelError(Exception):
    """Read of a channel that holds no value."""


class InvalidNamespaceError(ValueError):
    """A store namespace that breaks the naming rules."""


class GraphInterrupt(Exception):
    """Raised inside a task to pause the graph; carries the interrupts to surface."""

    def __init__(self, interrupts: Sequence[Interrupt] = ()) -> None:
        super().__init__(tuple(interrupts))
        self.interrupts: tuple[Interrupt, ...] = tuple(interrupts)
