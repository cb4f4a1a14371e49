"""Registry of user types the serializer may rebuild, keyed by explicit names."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["RegisteredType", "TypeRegistry", "default_registry", "register_type"]

# Kit modules that register their own types on import. Names found in stored data are only
# ever looked up in this fixed table, never imported directly.
_KIT_TYPE_MODULES: dict[str, str] = {
    "checkpointkit.reference_engine.": "checkpointkit.reference_engine.types",
}


@dataclasses.dataclass(frozen=True)
class RegisteredType:
    """How one registered class turns into plain data and back."""

    cls: type
    name: str
    kind: str  # "enum" | "object"
    to_data: Callable[[Any], Any]
    from_data: Callable[[Any], Any]


def _codec_for(cls: type) -> tuple[str, Callable[[Any], Any], Callable[[Any], Any]]:
    if isinstance(cls, enum.EnumMeta):
        return "enum", lambda obj: obj.value, cls
    if dataclasses.is_dataclass(cls):
        init_fields = [f.name for f in dataclasses.fields(cls) if f.init]
        other_fields = [f.name for f in dataclasses.fields(cls) if not f.init]

        def dc_to(obj: Any) -> Any:
            return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}

        def dc_from(data: Any) -> Any:
            obj = cls(**{k: data[k] for k in init_fields if k in data})
            for k in other_fields:
                if k in data:
                    object.__setattr__(obj, k, data[k])
            return obj

        return "object", dc_to, dc_from
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return "object", list, lambda data: cls(*data)
    model_validate = getattr(cls, "model_validate", None)
    if callable(model_validate) and hasattr(cls, "model_dump"):
        return "object", lambda obj: obj.model_dump(mode="python"), model_validate
    raise TypeError(
        f"cannot register {cls.__qualname__}: give to_data and from_data, or register an "
        "Enum, dataclass, NamedTuple or pydantic model"
    )


class TypeRegistry:
    """Classes the serializer may dump and rebuild, each under an explicit stable name."""

    def __init__(self, parent: TypeRegistry | None = None) -> None:
        self._parent = parent
        self._by_cls: dict[type, RegisteredType] = {}
        self._by_name: dict[str, RegisteredType] = {}
        self._lock = threading.Lock()

    def register(
        self,
        cls: type,
        name: str | None = None,
        *,
        to_data: Callable[[Any], Any] | None = None,
        from_data: Callable[[Any], Any] | None = None,
    ) -> type:
        """Allow ``cls`` to round-trip under ``name`` (default: its module and qualname)."""
        name = name or f"{cls.__module__}.{cls.__qualname__}"
        if (to_data is None) != (from_data is None):
            raise TypeError("give both to_data and from_data, or neither")
        if to_data is not None and from_data is not None:
            kind = "enum" if isinstance(cls, enum.EnumMeta) else "object"
        else:
            kind, to_data, from_data = _codec_for(cls)
        entry = RegisteredType(cls, name, kind, to_data, from_data)
        with self._lock:
            old = self._by_name.get(name)
            if old is not None and old.cls is not cls:
                raise ValueError(f"type name {name!r} is already registered for {old.cls!r}")
            self._by_cls[cls] = entry
            self._by_name[name] = entry
        return cls

    def by_class(self, cls: type) -> RegisteredType | None:
        entry = self._by_cls.get(cls)
        if entry is None and self._parent is not None:
            return self._parent.by_class(cls)
        return entry

    def by_name(self, name: str) -> RegisteredType | None:
        entry = self._by_name.get(name)
        if entry is not None:
            return entry
        if self._parent is not None:
            return self._parent.by_name(name)
        for prefix, module in _KIT_TYPE_MODULES.items():
            if name.startswith(prefix):
                importlib.import_module(module)  # fixed kit module, registers on import
                return self._by_name.get(name)
        return None

    def child(self) -> TypeRegistry:
        """A registry that adds to this one without changing it."""
        return TypeRegistry(parent=self)


default_registry = TypeRegistry()


def register_type(
    cls: type,
    name: str | None = None,
    *,
    to_data: Callable[[Any], Any] | None = None,
    from_data: Callable[[Any], Any] | None = None,
) -> type:
    """Register ``cls`` in the default registry (usable as a class decorator)."""
    return default_registry.register(cls, name, to_data=to_data, from_data=from_data)
