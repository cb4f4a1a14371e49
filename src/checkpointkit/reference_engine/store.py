"""A minimal in-memory long-term store (put/get/search/delete/list_namespaces), as LangGraph's."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from checkpointkit.reference_engine.errors import InvalidNamespaceError

__all__ = ["BaseStore", "InMemoryStore", "Item", "SearchItem"]


@dataclass(eq=True)
class Item:
    """A stored value with its namespace, key and UTC timestamps."""

    value: dict[str, Any]
    key: str
    namespace: tuple[str, ...]
    created_at: datetime
    updated_at: datetime

    def dict(self) -> dict[str, Any]:
        return {
            "namespace": list(self.namespace),
            "key": self.key,
            "value": self.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(eq=True)
class SearchItem(Item):
    """A search hit; ``score`` is None without a vector index."""

    score: float | None = None


def _validate_namespace(namespace: tuple[str, ...]) -> None:
    if not namespace:
        raise InvalidNamespaceError("Namespace cannot be empty.")
    for label in namespace:
        if not isinstance(label, str):
            raise InvalidNamespaceError(
                f"Namespace labels must be strings, but got {type(label).__name__}."
            )
        if "." in label:
            raise InvalidNamespaceError(
                f"Invalid namespace label '{label}' found in {namespace}. Namespace labels "
                "cannot contain periods ('.')."
            )
        if not label:
            raise InvalidNamespaceError(
                f"Namespace labels cannot be empty strings. Got {label} in {namespace}"
            )
    if namespace[0] == "langgraph":
        raise InvalidNamespaceError(
            f'Root label for namespace cannot be "langgraph". Got: {namespace}'
        )


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: float(a) > float(b),
    "$gte": lambda a, b: float(a) >= float(b),
    "$lt": lambda a, b: float(a) < float(b),
    "$lte": lambda a, b: float(a) <= float(b),
}


def _matches(value: Any, cond: Any) -> bool:
    if isinstance(cond, dict):
        if cond and all(k.startswith("$") for k in cond):
            try:
                return all(_OPS[op](value, operand) for op, operand in cond.items())
            except (KeyError, TypeError, ValueError):
                return False
        if not isinstance(value, dict):
            return False
        return all(k in value and _matches(value[k], v) for k, v in cond.items())
    return bool(value == cond)


def _path_match(ns: tuple[str, ...], path: tuple[str, ...], suffix: bool) -> bool:
    if len(path) > len(ns):
        return False
    part = ns[-len(path) :] if suffix and path else ns[: len(path)]
    return all(p == "*" or p == n for p, n in zip(path, part, strict=True))


class BaseStore:
    """The store interface nodes receive (``runtime.store``)."""

    def get(self, namespace: tuple[str, ...], key: str) -> Item | None:
        raise NotImplementedError

    def put(self, namespace: tuple[str, ...], key: str, value: dict[str, Any]) -> None:
        raise NotImplementedError

    def delete(self, namespace: tuple[str, ...], key: str) -> None:
        raise NotImplementedError

    def search(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SearchItem]:
        raise NotImplementedError

    def list_namespaces(
        self,
        *,
        prefix: tuple[str, ...] | None = None,
        suffix: tuple[str, ...] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        raise NotImplementedError


class InMemoryStore(BaseStore):
    """Items kept in insertion order per namespace; shared by every thread of every graph."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, ...], dict[str, Item]] = {}
        self._lock = threading.Lock()

    def get(self, namespace: tuple[str, ...], key: str) -> Item | None:
        with self._lock:
            return self._data.get(tuple(namespace), {}).get(str(key))

    def put(self, namespace: tuple[str, ...], key: str, value: dict[str, Any]) -> None:
        namespace = tuple(namespace)
        _validate_namespace(namespace)
        value = dict(value)
        created = datetime.now(timezone.utc)
        updated = datetime.now(timezone.utc)
        if updated == created:
            updated = created + timedelta(microseconds=1)  # LangGraph stamps each separately
        with self._lock:
            items = self._data.setdefault(namespace, {})
            items[str(key)] = Item(value, str(key), namespace, created, updated)

    def delete(self, namespace: tuple[str, ...], key: str) -> None:
        with self._lock:
            self._data.get(tuple(namespace), {}).pop(str(key), None)

    def search(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SearchItem]:
        prefix = tuple(namespace_prefix)
        with self._lock:
            candidates = [
                item
                for ns, items in self._data.items()
                if ns[: len(prefix)] == prefix
                for item in items.values()
            ]
        if filter:
            candidates = [
                it
                for it in candidates
                if all(
                    _matches(it.value.get(k), c) if k in it.value else False
                    for k, c in filter.items()
                )
            ]
        return [
            SearchItem(it.value, it.key, it.namespace, it.created_at, it.updated_at, None)
            for it in candidates[offset : offset + limit]
        ]

    def list_namespaces(
        self,
        *,
        prefix: tuple[str, ...] | None = None,
        suffix: tuple[str, ...] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        with self._lock:
            namespaces: Iterable[tuple[str, ...]] = list(self._data)
        if prefix:
            namespaces = [ns for ns in namespaces if _path_match(ns, tuple(prefix), suffix=False)]
        if suffix:
            namespaces = [ns for ns in namespaces if _path_match(ns, tuple(suffix), suffix=True)]
        if max_depth is not None:
            namespaces = {ns[:max_depth] for ns in namespaces}
        return sorted(namespaces)[offset : offset + limit]
