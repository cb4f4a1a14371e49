"""Serializer protocols and errors shared by every serializer."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["DeserializationError", "SerializerProtocol", "dumps_bound", "loads_bound"]


class DeserializationError(ValueError):
    """A stored value could not be loaded: corrupt bytes, unknown tag or unregistered type."""


@runtime_checkable
class SerializerProtocol(Protocol):
    """The typed serializer shape savers use: ``(tag, bytes)`` pairs."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]: ...

    def loads_typed(self, data: tuple[str, bytes]) -> Any: ...


def dumps_bound(serde: Any, obj: Any, context: tuple[Any, ...]) -> tuple[str, bytes]:
    """Dump ``obj`` for one storage place; serializers that authenticate bind it to ``context``."""
    bound = getattr(serde, "dumps_typed_bound", None)
    if bound is not None:
        return bound(obj, context)  # type: ignore[no-any-return]
    return serde.dumps_typed(obj)  # type: ignore[no-any-return]


def loads_bound(serde: Any, data: tuple[str, bytes], context: tuple[Any, ...]) -> Any:
    """Load a value stored by :func:`dumps_bound` for the same ``context``."""
    bound = getattr(serde, "loads_typed_bound", None)
    if bound is not None:
        return bound(data, context)
    return serde.loads_typed(data)
