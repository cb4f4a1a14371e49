"""``add_messages``: the message-list reducer (append, replace by id, remove), and MessagesState."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Annotated, Any, TypedDict

from checkpointkit.reference_engine.types import RemoveMessage

__all__ = ["REMOVE_ALL_MESSAGES", "MessagesState", "RemoveMessage", "add_messages"]

REMOVE_ALL_MESSAGES = "__remove_all__"


def _message_id(msg: Any) -> Any:
    if isinstance(msg, dict):
        return msg.get("id")
    return getattr(msg, "id", None)


def _coerce(msg: Any) -> Any:
    """Messages are dicts or objects with an ``id``; strings and (role, content) pairs become dicts."""
    if isinstance(msg, str):
        return {"role": "user", "content": msg}
    if isinstance(msg, tuple) and len(msg) == 2 and isinstance(msg[0], str):
        return {"role": msg[0], "content": msg[1]}
    return msg


def _with_id(msg: Any) -> Any:
    if _message_id(msg) is not None:
        return msg
    new_id = str(uuid.uuid4())
    if isinstance(msg, dict):
        return {**msg, "id": new_id}
    try:
        msg.id = new_id
    except (AttributeError, TypeError, dataclasses.FrozenInstanceError):
        if dataclasses.is_dataclass(msg) and not isinstance(msg, type):
            return dataclasses.replace(msg, id=new_id)
        raise TypeError(f"cannot give message {msg!r} an id") from None
    return msg


def _is_remove(msg: Any) -> bool:
    if isinstance(msg, RemoveMessage):
        return True
    return isinstance(msg, dict) and msg.get("type") == "remove"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _ensure_ids(messages: list[Any]) -> list[Any]:
    """The messages with an id each; the same list when they all have one (the usual case)."""
    out: list[Any] | None = None
    for i, msg in enumerate(messages):
        has_id = (msg.get("id") if type(msg) is dict else getattr(msg, "id", None)) is not None
        if has_id and out is None:
            continue
        if out is None:
            out = list(messages[:i])
        out.append(msg if has_id else _with_id(_coerce(msg)))
    return messages if out is None else out


def add_messages(left: Any, right: Any) -> list[Any]:
    """Merge ``right`` into ``left``: new ids append, known ids replace in place, removals delete."""
    old = _ensure_ids(_as_list(left))
    incoming = _as_list(right)
    # Messages that arrive without an id get a fresh one, so they can only append.
    keyed = [m for m in incoming if _is_remove(m) or _message_id(m) is not None]
    new = [m if _is_remove(m) else _with_id(_coerce(m)) for m in incoming]
    if not keyed:
        return [*old, *new]
    # Everything up to the last "remove all" marker is dropped, left included.
    for i in range(len(new) - 1, -1, -1):
        if _is_remove(new[i]) and _message_id(new[i]) == REMOVE_ALL_MESSAGES:
            return [m for m in new[i + 1 :] if not _is_remove(m)]
    merged = list(old)
    index = {_message_id(m): i for i, m in enumerate(merged)}
    removed: set[Any] = set()
    for msg in new:
        mid = _message_id(msg)
        if _is_remove(msg):
            if mid not in index or mid in removed:
                raise ValueError(
                    f"Attempting to delete a message with an ID that doesn't exist ('{mid}')"
                )
            removed.add(mid)
        elif mid in index:
            removed.discard(mid)  # re-adding a removed id brings it back in place
            merged[index[mid]] = msg
        else:
            index[mid] = len(merged)
            merged.append(msg)
    return [m for m in merged if _message_id(m) not in removed] if removed else merged


class MessagesState(TypedDict):
    """A state with one ``messages`` list reduced by :func:`add_messages`."""

    messages: Annotated[list[Any], add_messages]
