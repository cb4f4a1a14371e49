"""A small Pregel-style graph engine whose checkpoint behaviour matches LangGraph's (spec: engine.md)."""

from __future__ import annotations

from checkpointkit.reference_engine._context import get_config, get_runtime, get_store, interrupt
from checkpointkit.reference_engine.constants import END, START
from checkpointkit.reference_engine.errors import (
    EmptyChannelError,
    EmptyInputError,
    GraphInterrupt,
    GraphRecursionError,
    InvalidNamespaceError,
    InvalidUpdateError,
)
from checkpointkit.reference_engine.graph import StateGraph
from checkpointkit.reference_engine.messages import (
    REMOVE_ALL_MESSAGES,
    MessagesState,
    RemoveMessage,
    add_messages,
)
from checkpointkit.reference_engine.pregel import CompiledStateGraph
from checkpointkit.reference_engine.types import (
    Command,
    Interrupt,
    Overwrite,
    PregelTask,
    Runtime,
    Send,
    StateSnapshot,
    StateUpdate,
)

__all__ = [
    "END",
    "REMOVE_ALL_MESSAGES",
    "START",
    "Command",
    "CompiledStateGraph",
    "EmptyChannelError",
    "EmptyInputError",
    "GraphInterrupt",
    "GraphRecursionError",
    "Interrupt",
    "InvalidNamespaceError",
    "InvalidUpdateError",
    "MessagesState",
    "Overwrite",
    "PregelTask",
    "RemoveMessage",
    "Runtime",
    "Send",
    "StateGraph",
    "StateSnapshot",
    "StateUpdate",
    "add_messages",
    "get_config",
    "get_runtime",
    "get_store",
    "interrupt",
]
