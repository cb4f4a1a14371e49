"""Safe typed serializers: JSON with an explicit type allowlist, optionally encrypted."""

from __future__ import annotations

from checkpointkit.serde.base import DeserializationError, SerializerProtocol
from checkpointkit.serde.json import JsonSerializer
from checkpointkit.serde.registry import TypeRegistry, default_registry, register_type

__all__ = [
    "DeserializationError",
    "JsonSerializer",
    "SerializerProtocol",
    "TypeRegistry",
    "default_registry",
    "register_type",
]
