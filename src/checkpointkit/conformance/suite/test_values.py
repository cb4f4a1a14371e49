"""Channel and write values: exact round-trips, no aliasing, size, failures."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
import zoneinfo
from typing import Any

import pytest

from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter, make_checkpoint

spec = pytest.mark.spec

CORPUS: dict[str, Any] = {
    "none": None,
    "true": True,
    "false": False,
    "zero": 0,
    "neg": -17,
    "int64max": 2**63 - 1,
    "huge": 2**200 + 1,
    "neghuge": -(2**100),
    "float": 3.25,
    "negzero": -0.0,
    "inf": float("inf"),
    "ninf": float("-inf"),
    "empty_str": "",
    "unicode": "naïve 日本語 🙂 \u200b",
    "nul_str": "a\x00b",
    "quotes": "'; DROP TABLE x; --\"",
    "bytes": b"\x00\xff\x10binary",
    "empty_bytes": b"",
    "list": [1, "a", None, [2, [3]]],
    "tuple": (1, "a", (2, 3)),
    "empty_tuple": (),
    "dict": {"a": 1, "b": {"c": [1, 2]}},
    "int_keys": {1: "one", 2: "two"},
    "tuple_keys": {(1, 2): "pair", "s": 0},
    "ck_key": {"__ck__": "not an envelope", "v": 1},
    "set": {1, 2, 3},
    "frozenset": frozenset({"a", "b"}),
    "datetime_utc": dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc),
    "datetime_naive": dt.datetime(2024, 5, 6, 7, 8, 9),
    "datetime_zone": dt.datetime(2024, 3, 31, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    "datetime_offset": dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    "date": dt.date(1999, 12, 31),
    "time": dt.time(23, 59, 59, 999999),
    "time_tz": dt.time(12, 0, tzinfo=dt.timezone.utc),
    "timedelta": dt.timedelta(days=-3, seconds=5, microseconds=7),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "decimal": decimal.Decimal("3.14159265358979323846264338327950288"),
    "nested": {"l": [(1, {2}), {"k": frozenset({(1, 2)})}], "t": ({"a": b"x"},)},
}


def same(a: Any, b: Any) -> bool:
    """Equal with types, recursively (so 1 != True != 1.0 and tuple != list)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, dt.datetime | dt.time):
        return bool(a == b and a.tzinfo == b.tzinfo and a.fold == b.fold)
    return bool(a == b)


class ValueTests:
    @spec("VAL-001")
    @pytest.mark.parametrize("name", sorted(CORPUS))
    def test_channel_value_round_trips(self, driver: SaverDriver, name: str) -> None:
        value = CORPUS[name]
        w = ThreadWriter(driver)
        cfg = w.put({"v": value})
        got = driver.get_tuple(cfg)
        assert got is not None
        assert same(got.checkpoint["channel_values"]["v"], value), (
            f"{name}: {got.checkpoint['channel_values']['v']!r} != {value!r}"
        )

    @spec("VAL-001")
    def test_nan_round_trips(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cfg = w.put({"v": float("nan")})
        driver.put_writes(cfg, [("w", float("nan"))], "t")
        got = driver.get_tuple(cfg)
        assert got is not None
        assert math.isnan(got.checkpoint["channel_values"]["v"])
        assert math.isnan(got.pending_writes[0][2])  # type: ignore[index]

    @spec("VAL-001")
    def test_write_values_round_trip(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cfg = w.put({"a": 1})
        names = sorted(CORPUS)
        driver.put_writes(cfg, [(n, CORPUS[n]) for n in names], "task")
        got = driver.get_tuple(cfg)
        assert got is not None and got.pending_writes is not None
        assert [c for _, c, _ in got.pending_writes] == names
        for _, channel, value in got.pending_writes:
            assert same(value, CORPUS[channel]), f"{channel}: {value!r}"

    @spec("VAL-002")
    def test_values_never_alias(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        value: dict[str, Any] = {"items": [1, 2], "inner": {"k": "v"}}
        write = ["w"]
        cfg = w.put({"v": value}, metadata={"tags": ["a"]})
        driver.put_writes(cfg, [("w", write)], "t")
        value["items"].append(3)
        write.append("mutated")
        got = driver.get_tuple(cfg)
        assert got is not None
        got.checkpoint["channel_values"]["v"]["inner"]["k"] = "changed"
        got.checkpoint["channel_versions"]["v"] = "garbage"
        got.metadata["tags"].append("b")  # type: ignore[typeddict-item]
        got.pending_writes[0][2].append("x")  # type: ignore[index]
        again = driver.get_tuple(cfg)
        assert again is not None
        assert again.checkpoint["channel_values"]["v"] == {"items": [1, 2], "inner": {"k": "v"}}
        assert again.checkpoint["channel_versions"]["v"] != "garbage"
        assert again.metadata["tags"] == ["a"]  # type: ignore[typeddict-item]
        assert again.pending_writes == [("t", "w", ["w"])]

    @spec("VAL-003")
    def test_large_and_deep_values(self, driver: SaverDriver) -> None:
        deep: Any = "leaf"
        for _ in range(100):
            deep = {"d": [deep]}
        big = "x" * (1 << 20)
        many = list(range(10_000))
        w = ThreadWriter(driver)
        cfg = w.put({"big": big, "many": many, "deep": deep})
        got = driver.get_tuple(cfg)
        assert got is not None
        values = got.checkpoint["channel_values"]
        assert values["big"] == big and values["many"] == many and values["deep"] == deep

    @spec("VAL-004")
    def test_unserializable_value_fails_whole_put(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        w.put({"a": 1})

        class Opaque:
            pass

        cp = make_checkpoint({"ok": 1, "bad": Opaque()}, {"ok": 1, "bad": 1})
        with pytest.raises(TypeError, match="Opaque"):
            driver.put(w.config(w.head["id"]), cp, {}, {"ok": 1, "bad": 1})  # type: ignore[index]
        assert driver.get_tuple(w.config(cp["id"])) is None
        assert len(driver.list(w.config())) == 1
