"""Serializer protocols and errors shared by every serializer."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["DeserializationError", "SerializerProtocol"]


class DeserializationError(ValueError):
    """A stored value could not be loaded: corrupt bytes, unknown tag or unregistered type."""


@runtime_checkable
class SerializerProtocol(Protocol):
    """The typed serializer shape savers use: ``(tag, bytes)`` pairs."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]: ...

    def loads_typed(self, data: tuple[str, bytes]) -> Any: ...
