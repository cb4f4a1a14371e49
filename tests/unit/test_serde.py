"""The default serializer: allowlist round-trips, registration, safety, corruption."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import os
import typing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checkpointkit.conformance.suite.test_values import CORPUS, same
from checkpointkit.serde import DeserializationError, JsonSerializer, TypeRegistry

spec = pytest.mark.spec


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


@dataclasses.dataclass
class Point:
    x: int
    y: tuple[int, ...] = ()
    label: str = dataclasses.field(default="p", init=False)


class Pair(typing.NamedTuple):
    left: Any
    right: Any


class Unregistered:
    pass


class Shade(enum.Enum):
    DARK = 1


@pytest.fixture
def serde() -> JsonSerializer:
    registry = TypeRegistry()
    registry.register(Color, "test.Color")
    registry.register(Point, "test.Point")
    registry.register(Pair, "test.Pair")
    return JsonSerializer(registry)


@spec("SER-001")
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_allowlist_round_trips(serde: JsonSerializer, name: str) -> None:
    value = CORPUS[name]
    assert same(serde.loads_typed(serde.dumps_typed(value)), value)


json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(),
    st.binary(), st.uuids(), st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())), st.dates(), st.timedeltas(),
)  # fmt: skip
values = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), inner, max_size=4),
        st.frozensets(st.one_of(st.integers(), st.text(max_size=3)), max_size=3),
    ),
    max_leaves=20,
)


@spec("SER-001")
@given(values)
def test_random_values_round_trip(value: Any) -> None:
    serde = JsonSerializer()
    assert same(serde.loads_typed(serde.dumps_typed(value)), value)


@spec("SER-002")
@pytest.mark.parametrize("obj", [Unregistered(), Shade.DARK, Point(1)], ids=["class", "enum", "dc"])
def test_unregistered_types_are_refused(obj: Any) -> None:
    with pytest.raises(TypeError, match=type(obj).__qualname__):
        JsonSerializer(TypeRegistry()).dumps_typed({"nested": [obj]})


@spec("SER-002")
def test_subclass_of_allowlisted_type_is_refused() -> None:
    class MyStr(str):
        pass

    with pytest.raises(TypeError, match="MyStr"):
        JsonSerializer().dumps_typed(MyStr("x"))


@spec("SER-003")
@pytest.mark.parametrize(
    "payload",
    [
        b'{"__ck__": "object", "t": "os.system", "v": ["echo pwned > /tmp/ck-pwned"]}',
        b'{"__ck__": "object", "t": "subprocess.Popen", "v": {"args": "touch /tmp/ck-pwned"}}',
        b'{"__ck__": "enum", "t": "builtins.eval", "v": "__import__(\'os\').system(\'x\')"}',
        b'{"__ck__": "object", "t": ["os", "system"], "v": 1}',
        b'{"__ck__": "pickle", "v": "gASVAAAAAAAAAAA="}',
        b'{"__ck__": "lc", "id": ["langchain", "x"], "kwargs": {}}',
    ],
)
def test_loading_never_imports_or_calls(payload: bytes) -> None:
    before = os.path.exists("/tmp/ck-pwned")
    with pytest.raises(DeserializationError):
        JsonSerializer().loads_typed(("json", payload))
    assert os.path.exists("/tmp/ck-pwned") == before


@spec("SER-003")
@pytest.mark.parametrize("tag", ["pickle", "msgpack", "json+aes", ""])
def test_unknown_tags_are_refused(tag: str) -> None:
    with pytest.raises(DeserializationError, match="tag"):
        JsonSerializer().loads_typed((tag, b"\x80\x04K\x01."))


@spec("SER-004")
def test_registered_types_round_trip(serde: JsonSerializer) -> None:
    p = Point(3, (1, 2))
    p.label = "changed"
    value = {"c": Color.RED, "b": Color.BLUE, "p": p, "pair": Pair(Color.RED, {1: (2,)})}
    back = serde.loads_typed(serde.dumps_typed(value))
    assert back == value and back["p"].label == "changed"
    assert type(back["pair"]) is Pair and back["pair"].right == {1: (2,)}


@spec("SER-004")
def test_registration_rules() -> None:
    registry = TypeRegistry()
    registry.register(Color, "x.Color")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Shade, "x.Color")
    with pytest.raises(TypeError, match="cannot register"):
        registry.register(Unregistered)
    registry.register(Unregistered, "x.U", to_data=lambda o: 1, from_data=lambda d: Unregistered())
    serde = JsonSerializer(registry)
    assert isinstance(serde.loads_typed(serde.dumps_typed(Unregistered())), Unregistered)
    other = JsonSerializer(TypeRegistry())
    with pytest.raises(DeserializationError, match="not registered"):
        other.loads_typed(serde.dumps_typed(Color.RED))


@spec("SER-005")
@pytest.mark.parametrize(
    "payload",
    [
        b'{"a": [1, 2',
        b"\xff\xfe",
        b'{"__ck__": "tuple"}',
        b'{"__ck__": "float", "v": "1e9999x"}',
        b'{"__ck__": "bytes", "v": "not base64!"}',
        b'{"__ck__": "datetime", "v": "yesterday", "tz": null}',
        b'{"__ck__": "dict", "v": [[[1], 2]]}',
        b'{"__ck__": "set", "v": [{"a": 1}]}',
        b'{"__ck__": "nonsense", "v": 1}',
        b'{"__ck__": "timedelta", "v": [1]}',
    ],
)
def test_corrupt_payloads_fail_cleanly(payload: bytes) -> None:
    with pytest.raises(DeserializationError):
        JsonSerializer().loads_typed(("json", payload))


@spec("SER-005")
@given(st.binary(min_size=1, max_size=64), st.integers(0, 63))
def test_flipped_bytes_never_escape_as_other_errors(data: bytes, pos: int) -> None:
    serde = JsonSerializer()
    _, good = serde.dumps_typed({"k": [1, "two", (3.5, b"x")]})
    broken = bytearray(good)
    broken[pos % len(broken)] ^= data[0] or 1
    with contextlib.suppress(DeserializationError):
        serde.loads_typed(("json", bytes(broken)))


@spec("SER-006")
def test_equal_values_equal_bytes() -> None:
    serde = JsonSerializer()
    assert serde.dumps_typed({1, 2, 3}) == serde.dumps_typed({3, 2, 1})
    assert serde.dumps_typed(frozenset({"b", "a"})) == serde.dumps_typed(frozenset({"a", "b"}))
    assert serde.dumps_typed([1, {"a": (1,)}]) == serde.dumps_typed([1, {"a": (1,)}])


def test_tags() -> None:
    serde = JsonSerializer()
    assert serde.dumps_typed(None) == ("null", b"")
    assert serde.dumps_typed(b"raw") == ("bytes", b"raw")
    assert serde.dumps_typed([1]) == ("json", b"[1]")
    assert serde.loads_typed(("null", b"")) is None
    assert dt.timedelta(0) == serde.loads_typed(serde.dumps_typed(dt.timedelta(0)))


@spec("SER-004")
def test_registered_pydantic_model_round_trips() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Message(pydantic.BaseModel):  # type: ignore[misc, name-defined]
        id: str
        parts: tuple[int, ...]
        meta: dict[str, Any] = {}

    registry = TypeRegistry()
    registry.register(Message, "test.Message")
    serde = JsonSerializer(registry)
    msg = Message(id="m1", parts=(1, 2), meta={"k": [1]})
    back = serde.loads_typed(serde.dumps_typed([msg]))
    assert back == [msg] and type(back[0]) is Message
