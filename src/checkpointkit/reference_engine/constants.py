"""Reserved node and channel names of the reference engine (the ones LangGraph uses)."""

from __future__ import annotations

from checkpointkit.checkpoint import ERROR, INTERRUPT, NULL_TASK_ID, RESUME

__all__ = [
    "END",
    "ERROR",
    "INPUT",
    "INTERRUPT",
    "NO_WRITES",
    "NS_END",
    "NS_SEP",
    "NULL_TASK_ID",
    "PULL",
    "PUSH",
    "RESUME",
    "SPECIAL_CHANNELS",
    "START",
    "TASKS",
]

START = "__start__"
END = "__end__"
INPUT = "__input__"
COPY = "__copy__"
NO_WRITES = "__no_writes__"
TASKS = "__pregel_tasks"
PULL = "__pregel_pull"
PUSH = "__pregel_push"
NS_SEP = "|"
NS_END = ":"
# Writes on these channels describe a task's fate; they never reach a state channel.
SPECIAL_CHANNELS = frozenset({ERROR, INTERRUPT, RESUME, NO_WRITES})
