"""The default serializer: JSON with tagged envelopes for an explicit allowlist of types."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import orjson

from checkpointkit.serde.base import DeserializationError
from checkpointkit.serde.registry import TypeRegistry, default_registry

__all__ = ["ENVELOPE_KEY", "JsonSerializer"]

ENVELOPE_KEY = "__ck__"
_MAX_DEPTH = 256
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def _tz_to_data(tz: dt.tzinfo | None, ref: dt.datetime | None) -> Any:
    if tz is None:
        return None
    if isinstance(tz, zoneinfo.ZoneInfo):
        return {"zone": tz.key}
    if isinstance(tz, dt.timezone):
        offset = tz.utcoffset(None)
        name = tz.tzname(None)
        data: dict[str, Any] = {"offset": offset.total_seconds()}
        if tz is not dt.timezone.utc and name != dt.timezone(offset).tzname(None):
            data["name"] = name
        return data
    raise TypeError(f"cannot serialize tzinfo of type {type(tz).__name__}")


def _tz_from_data(data: Any) -> dt.tzinfo | None:
    if data is None:
        return None
    if "zone" in data:
        return zoneinfo.ZoneInfo(data["zone"])
    offset = dt.timedelta(seconds=data["offset"])
    if "name" in data:
        return dt.timezone(offset, data["name"])
    return dt.timezone.utc if offset == dt.timedelta(0) else dt.timezone(offset)


class JsonSerializer:
    """Typed serializer producing ``(tag, bytes)``; loading never imports or calls by name.

    Tags: ``"null"`` (None), ``"bytes"`` (raw bytes), ``"json"`` (everything else). The JSON
    payload is plain JSON where a value is plain JSON, and an envelope
    ``{"__ck__": <kind>, ...}`` for the allowlisted non-JSON types (spec: serde.md).
    """

    def __init__(self, registry: TypeRegistry | None = None) -> None:
        self.registry = registry if registry is not None else default_registry
        self._encoders: dict[type, Callable[[Any, int], Any]] = {
            str: self._pass,
            bool: self._pass,
            type(None): self._pass,
            int: self._int,
            float: self._float,
            list: self._list,
            dict: self._dict,
            tuple: self._tuple,
            set: self._set,
            frozenset: self._set,
            bytes: self._bytes,
            bytearray: self._bytes,
            dt.datetime: self._datetime,
            dt.date: self._date,
            dt.time: self._time,
            dt.timedelta: self._timedelta,
            uuid.UUID: self._uuid,
            decimal.Decimal: self._decimal,
        }

    # -- public API -------------------------------------------------------------------
    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        if obj is None:
            return "null", b""
        if type(obj) is bytes:
            return "bytes", obj
        return "json", orjson.dumps(self.encode(obj))

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        tag, payload = data
        if tag == "null":
            return None
        if tag == "bytes":
            return bytes(payload)
        if tag == "json":
            try:
                tree = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                raise DeserializationError(f"stored value is not valid JSON: {exc}") from None
            return self.decode(tree)
        raise DeserializationError(
            f"unknown serialization tag {tag!r}; this serializer reads 'null', 'bytes', 'json'"
        )

    def with_registry(self, registry: TypeRegistry) -> JsonSerializer:
        return type(self)(registry)

    # -- encoding ---------------------------------------------------------------------
    def encode(self, obj: Any, depth: int = 0) -> Any:
        """Turn ``obj`` into plain JSON data (envelopes for non-JSON types)."""
        if depth > _MAX_DEPTH:
            raise ValueError(f"value is nested more than {_MAX_DEPTH} levels deep")
        encoder = self._encoders.get(type(obj))
        if encoder is not None:
            return encoder(obj, depth)
        entry = self.registry.by_class(type(obj))
        if entry is not None:
            return {
                ENVELOPE_KEY: entry.kind,
                "t": entry.name,
                "v": self.encode(entry.to_data(obj), depth + 1),
            }
        raise TypeError(
            f"Type is not serializable: {type(obj).__module__}.{type(obj).__qualname__}. "
            "Register it with checkpointkit.serde.register_type()"
        )

    @staticmethod
    def _pass(obj: Any, depth: int) -> Any:
        return obj

    @staticmethod
    def _int(obj: int, depth: int) -> Any:
        if _I64_MIN <= obj <= _I64_MAX:
            return obj
        return {ENVELOPE_KEY: "int", "v": str(obj)}

    @staticmethod
    def _float(obj: float, depth: int) -> Any:
        if math.isfinite(obj):
            return obj
        return {ENVELOPE_KEY: "float", "v": repr(obj)}

    def _list(self, obj: list[Any], depth: int) -> Any:
        enc = self.encode
        return [enc(v, depth + 1) for v in obj]

    def _dict(self, obj: dict[Any, Any], depth: int) -> Any:
        enc = self.encode
        if ENVELOPE_KEY not in obj and all(type(k) is str for k in obj):
            return {k: enc(v, depth + 1) for k, v in obj.items()}
        return {
            ENVELOPE_KEY: "dict",
            "v": [[enc(k, depth + 1), enc(v, depth + 1)] for k, v in obj.items()],
        }

    def _tuple(self, obj: tuple[Any, ...], depth: int) -> Any:
        return {ENVELOPE_KEY: "tuple", "v": [self.encode(v, depth + 1) for v in obj]}

    def _set(self, obj: set[Any] | frozenset[Any], depth: int) -> Any:
        items = [self.encode(v, depth + 1) for v in obj]
        # Sorted so that equal sets always produce equal bytes.
        items.sort(key=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS))
        return {ENVELOPE_KEY: type(obj).__name__, "v": items}

    @staticmethod
    def _bytes(obj: bytes | bytearray, depth: int) -> Any:
        return {ENVELOPE_KEY: type(obj).__name__, "v": base64.b64encode(obj).decode("ascii")}

    @staticmethod
    def _datetime(obj: dt.datetime, depth: int) -> Any:
        out = {
            ENVELOPE_KEY: "datetime",
            "v": obj.replace(tzinfo=None).isoformat(),
            "tz": _tz_to_data(obj.tzinfo, obj),
        }
        if obj.fold:
            out["fold"] = 1
        return out

    @staticmethod
    def _date(obj: dt.date, depth: int) -> Any:
        return {ENVELOPE_KEY: "date", "v": obj.isoformat()}

    @staticmethod
    def _time(obj: dt.time, depth: int) -> Any:
        out = {
            ENVELOPE_KEY: "time",
            "v": obj.replace(tzinfo=None).isoformat(),
            "tz": _tz_to_data(obj.tzinfo, None),
        }
        if obj.fold:
            out["fold"] = 1
        return out

    @staticmethod
    def _timedelta(obj: dt.timedelta, depth: int) -> Any:
        return {ENVELOPE_KEY: "timedelta", "v": [obj.days, obj.seconds, obj.microseconds]}

    @staticmethod
    def _uuid(obj: uuid.UUID, depth: int) -> Any:
        return {ENVELOPE_KEY: "uuid", "v": str(obj)}

    @staticmethod
    def _decimal(obj: decimal.Decimal, depth: int) -> Any:
        return {ENVELOPE_KEY: "decimal", "v": str(obj)}

    # -- decoding ---------------------------------------------------------------------
    def decode(self, tree: Any) -> Any:
        """Rebuild a value from plain JSON data produced by :meth:`encode`."""
        t = type(tree)
        if t is list:
            dec = self.decode
            return [dec(v) for v in tree]
        if t is dict:
            if ENVELOPE_KEY in tree:
                try:
                    return self._decode_envelope(tree)
                except DeserializationError:
                    raise
                except Exception as exc:
                    raise DeserializationError(
                        f"malformed {tree.get(ENVELOPE_KEY)!r} envelope: {exc!r}"
                    ) from None
            dec = self.decode
            return {k: dec(v) for k, v in tree.items()}
        return tree

    def _decode_envelope(self, tree: dict[str, Any]) -> Any:
        kind = tree[ENVELOPE_KEY]
        v = tree["v"]
        if kind == "tuple":
            return tuple(self.decode(x) for x in v)
        if kind == "dict":
            return {_hashable(self.decode(k)): self.decode(x) for k, x in v}
        if kind == "set":
            return {_hashable(self.decode(x)) for x in v}
        if kind == "frozenset":
            return frozenset(_hashable(self.decode(x)) for x in v)
        if kind == "int":
            return int(v)
        if kind == "float":
            if v not in ("nan", "inf", "-inf"):
                raise DeserializationError(f"bad float envelope value {v!r}")
            return float(v)
        if kind == "bytes":
            return base64.b64decode(v, validate=True)
        if kind == "bytearray":
            return bytearray(base64.b64decode(v, validate=True))
        if kind == "datetime":
            value = dt.datetime.fromisoformat(v).replace(tzinfo=_tz_from_data(tree["tz"]))
            return value.replace(fold=1) if tree.get("fold") else value
        if kind == "date":
            return dt.date.fromisoformat(v)
        if kind == "time":
            value_t = dt.time.fromisoformat(v).replace(tzinfo=_tz_from_data(tree["tz"]))
            return value_t.replace(fold=1) if tree.get("fold") else value_t
        if kind == "timedelta":
            days, seconds, micros = v
            return dt.timedelta(days=days, seconds=seconds, microseconds=micros)
        if kind == "uuid":
            return uuid.UUID(v)
        if kind == "decimal":
            return decimal.Decimal(v)
        if kind in ("enum", "object"):
            name = tree["t"]
            entry = self.registry.by_name(name) if isinstance(name, str) else None
            if entry is None or entry.kind != kind:
                raise DeserializationError(
                    f"stored value names type {name!r}, which is not registered with this "
                    "serializer; register it with checkpointkit.serde.register_type()"
                )
            return entry.from_data(self.decode(v))
        raise DeserializationError(f"unknown envelope kind {kind!r}")


def _hashable(value: Any) -> Any:
    if isinstance(value, list | dict | set):
        raise DeserializationError(f"unhashable {type(value).__name__} used as a key")
    return value
