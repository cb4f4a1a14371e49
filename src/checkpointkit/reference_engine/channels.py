"""State channels: how one key of the graph state takes writes within a super-step."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, get_origin

from checkpointkit.reference_engine.errors import EmptyChannelError, InvalidUpdateError
from checkpointkit.reference_engine.types import Overwrite

__all__ = [
    "MISSING",
    "BinaryOperatorAggregate",
    "Channel",
    "EphemeralValue",
    "LastValue",
    "NamedBarrierValue",
    "Topic",
]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

_OVERWRITE_KEY = "__overwrite__"


def unwrap_overwrite(value: Any) -> tuple[bool, Any]:
    """Whether ``value`` is an Overwrite (object or one of its two dict forms) and its payload."""
    if isinstance(value, Overwrite):
        return True, value.value
    if isinstance(value, dict):
        if len(value) == 1 and _OVERWRITE_KEY in value:
            return True, value[_OVERWRITE_KEY]
        if len(value) == 2 and value.get("type") == _OVERWRITE_KEY and "value" in value:
            return True, value["value"]
    return False, value


class Channel:
    """Base class: ``update`` returns whether the channel changed (and so gets a new version)."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def fresh(self) -> Channel:
        """An empty channel of the same kind."""
        raise NotImplementedError

    def restore(self, stored: Any) -> Channel:
        """A channel holding ``stored`` (MISSING for none)."""
        ch = self.fresh()
        if stored is not MISSING:
            ch._load(stored)
        return ch

    def copy(self) -> Channel:
        return self.restore(self.checkpoint())

    def _load(self, stored: Any) -> None:
        raise NotImplementedError

    def update(self, values: Sequence[Any]) -> bool:
        raise NotImplementedError

    def get(self) -> Any:
        raise NotImplementedError

    def is_available(self) -> bool:
        try:
            self.get()
        except EmptyChannelError:
            return False
        return True

    def checkpoint(self) -> Any:
        """The value to store, or MISSING when empty."""
        try:
            return self.get()
        except EmptyChannelError:
            return MISSING

    def consume(self) -> bool:
        """Called when a task triggered by this channel has run."""
        return False


class LastValue(Channel):
    """A plain state key: one write per super-step, the value persists."""

    __slots__ = ("value",)

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.value: Any = MISSING

    def fresh(self) -> LastValue:
        return LastValue(self.key)

    def _load(self, stored: Any) -> None:
        self.value = stored

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        if len(values) != 1:
            raise InvalidUpdateError(
                f"At key '{self.key}': Can receive only one value per step. Use an Annotated key "
                "to handle multiple values.\nFor troubleshooting, visit: "
                "https://docs.langchain.com/oss/python/langgraph/errors/INVALID_CONCURRENT_GRAPH_UPDATE"
            )
        self.value = unwrap_overwrite(values[0])[1]
        return True

    def get(self) -> Any:
        if self.value is MISSING:
            raise EmptyChannelError(self.key)
        return self.value

    def is_available(self) -> bool:
        return self.value is not MISSING

    def checkpoint(self) -> Any:
        return self.value


class BinaryOperatorAggregate(Channel):
    """An ``Annotated[T, reducer]`` key: writes fold into the value; starts as ``T()``."""

    __slots__ = ("operator", "typ", "value")

    def __init__(self, key: str, typ: Any, operator: Callable[[Any, Any], Any]) -> None:
        super().__init__(key)
        self.typ = typ
        self.operator = operator
        self.value: Any = MISSING
        origin = get_origin(typ) or typ
        try:
            self.value = origin()
        except Exception:  # abstract or parametrised types have no empty value
            self.value = MISSING

    def fresh(self) -> BinaryOperatorAggregate:
        return BinaryOperatorAggregate(self.key, self.typ, self.operator)

    def _load(self, stored: Any) -> None:
        self.value = stored

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        seen_overwrite = False
        for raw in values:
            is_overwrite, value = unwrap_overwrite(raw)
            if is_overwrite:
                if seen_overwrite:
                    raise InvalidUpdateError("Can receive only one Overwrite value per super-step.")
                seen_overwrite = True
                self.value = value
            elif seen_overwrite:
                continue  # an Overwrite in this step wins over plain writes
            elif self.value is MISSING:
                self.value = value
            else:
                self.value = self.operator(self.value, value)
        return True

    def get(self) -> Any:
        if self.value is MISSING:
            raise EmptyChannelError(self.key)
        return self.value

    def is_available(self) -> bool:
        return self.value is not MISSING

    def checkpoint(self) -> Any:
        return self.value


class EphemeralValue(Channel):
    """Holds a value for one super-step only (``__start__`` input, ``branch:to:<node>`` triggers)."""

    __slots__ = ("guard", "value")

    def __init__(self, key: str, guard: bool = True) -> None:
        super().__init__(key)
        self.guard = guard
        self.value: Any = MISSING

    def fresh(self) -> EphemeralValue:
        return EphemeralValue(self.key, self.guard)

    def _load(self, stored: Any) -> None:
        self.value = stored

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            if self.value is MISSING:
                return False
            self.value = MISSING
            return True
        if self.guard and len(values) != 1:
            raise InvalidUpdateError(
                f"At key '{self.key}': Can receive only one value per step. Use an Annotated key "
                "to handle multiple values."
            )
        self.value = values[-1]
        return True

    def get(self) -> Any:
        if self.value is MISSING:
            raise EmptyChannelError(self.key)
        return self.value

    def is_available(self) -> bool:
        return self.value is not MISSING

    def checkpoint(self) -> Any:
        return self.value


class NamedBarrierValue(Channel):
    """The trigger of a fan-in edge: available once every named source has written."""

    __slots__ = ("names", "seen")

    def __init__(self, key: str, names: frozenset[str]) -> None:
        super().__init__(key)
        self.names = names
        self.seen: set[str] = set()

    def fresh(self) -> NamedBarrierValue:
        return NamedBarrierValue(self.key, self.names)

    def _load(self, stored: Any) -> None:
        self.seen = set(stored)

    def update(self, values: Sequence[Any]) -> bool:
        updated = False
        for value in values:
            if value not in self.names:
                raise InvalidUpdateError(
                    f"At key '{self.key}': value {value!r} not in {sorted(self.names)}"
                )
            if value not in self.seen:
                self.seen.add(value)
                updated = True
        return updated

    def get(self) -> Any:
        if self.seen != self.names:
            raise EmptyChannelError(self.key)
        return None

    def is_available(self) -> bool:
        return self.seen == self.names

    def checkpoint(self) -> Any:
        return set(self.seen) if self.seen else MISSING

    def consume(self) -> bool:
        if self.seen == self.names:
            self.seen = set()
            return True
        return False


class Topic(Channel):
    """Collects the Send packets written in one super-step; cleared in the next."""

    __slots__ = ("values",)

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.values: list[Any] = []

    def fresh(self) -> Topic:
        return Topic(self.key)

    def _load(self, stored: Any) -> None:
        self.values = list(stored)

    def update(self, values: Sequence[Any]) -> bool:
        updated = bool(self.values)
        self.values = []
        for value in values:
            if isinstance(value, list):
                self.values.extend(value)
            else:
                self.values.append(value)
        return updated or bool(self.values)

    def get(self) -> Any:
        if not self.values:
            raise EmptyChannelError(self.key)
        return list(self.values)

    def is_available(self) -> bool:
        return bool(self.values)

    def checkpoint(self) -> Any:
        return list(self.values) if self.values else MISSING
