"""AES-256-GCM serializer: place binding, tampering, plaintext refusal, key handling."""

from __future__ import annotations

import base64
import dataclasses
import os

import pytest

from checkpointkit.serde import DeserializationError, JsonSerializer
from checkpointkit.serde.base import dumps_bound, loads_bound
from checkpointkit.serde.encrypted import ENV_KEY, EncryptedSerializer, load_key

spec = pytest.mark.spec
KEY = bytes(range(32))
PLACE = ("blob", "thread-1", "", "messages", "0001.ab")


@pytest.fixture
def serde() -> EncryptedSerializer:
    return EncryptedSerializer(KEY)


@spec("ENC-001")
def test_round_trip_and_format(serde: EncryptedSerializer) -> None:
    value = {"msgs": [("user", "secret text")], "n": 10**30}
    tag, data = dumps_bound(serde, value, PLACE)
    assert tag == "json+aesgcm"
    assert b"secret" not in data and len(data) > 4 + 12 + 16
    assert loads_bound(serde, (tag, data), PLACE) == value
    assert serde.dumps_typed(None)[0] == "null+aesgcm"


@spec("ENC-001")
@pytest.mark.parametrize(
    "other",
    [
        ("blob", "thread-2", "", "messages", "0001.ab"),
        ("blob", "thread-1", "sub:1", "messages", "0001.ab"),
        ("blob", "thread-1", "", "other", "0001.ab"),
        ("blob", "thread-1", "", "messages", "0002.ab"),
        ("write", "thread-1", "", "messages", "0001.ab"),
        (),
    ],
)
def test_ciphertext_moved_to_another_place_fails(
    serde: EncryptedSerializer, other: tuple[str, ...]
) -> None:
    sealed = dumps_bound(serde, "value", PLACE)
    with pytest.raises(DeserializationError, match="another storage place"):
        loads_bound(serde, sealed, other)


@spec("ENC-001")
def test_tampering_fails(serde: EncryptedSerializer) -> None:
    tag, data = dumps_bound(serde, [1, 2, 3], PLACE)
    for pos in range(len(data)):
        flipped = bytearray(data)
        flipped[pos] ^= 0x01
        with pytest.raises(DeserializationError):
            loads_bound(serde, (tag, bytes(flipped)), PLACE)
    with pytest.raises(DeserializationError):
        loads_bound(serde, ("bytes+aesgcm", data), PLACE)
    with pytest.raises(DeserializationError, match="truncated"):
        loads_bound(serde, (tag, data[:20]), PLACE)


@spec("ENC-002")
def test_plaintext_refused_unless_allowed() -> None:
    plain = JsonSerializer().dumps_typed({"os.system": "rm"})
    with pytest.raises(DeserializationError, match="unencrypted"):
        EncryptedSerializer(KEY).loads_typed(plain)
    assert EncryptedSerializer(KEY, allow_plaintext=True).loads_typed(plain) == {"os.system": "rm"}


@spec("ENC-003")
def test_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_key(KEY.hex()) == KEY
    assert load_key(base64.b64encode(KEY).decode()) == KEY
    assert load_key(base64.urlsafe_b64encode(KEY).decode().rstrip("=")) == KEY
    for bad in (b"short", "password123", KEY + b"x", "zz" * 32):
        with pytest.raises(ValueError, match="32 bytes"):
            load_key(bad)
    monkeypatch.delenv(ENV_KEY, raising=False)
    with pytest.raises(ValueError, match=ENV_KEY):
        EncryptedSerializer()
    monkeypatch.setenv(ENV_KEY, KEY.hex())
    from_env = EncryptedSerializer()
    assert EncryptedSerializer(KEY).loads_typed(from_env.dumps_typed("x")) == "x"


@spec("ENC-003")
def test_key_rotation() -> None:
    old, new = os.urandom(32), os.urandom(32)
    sealed_old = dumps_bound(EncryptedSerializer(old), "v", PLACE)
    rotated = EncryptedSerializer(new, old_keys=[old])
    assert loads_bound(rotated, sealed_old, PLACE) == "v"
    resealed = dumps_bound(rotated, "v", PLACE)
    assert loads_bound(EncryptedSerializer(new), resealed, PLACE) == "v"
    with pytest.raises(DeserializationError, match="does not hold"):
        loads_bound(EncryptedSerializer(new), sealed_old, PLACE)


@spec("ENC-004")
def test_saver_under_encryption_reseals_copies() -> None:
    from checkpointkit.backends.memory import MemorySaver
    from checkpointkit.conformance.driver import SaverDriver
    from checkpointkit.conformance.factories import ThreadWriter

    saver = MemorySaver(serde=EncryptedSerializer(KEY))
    w = ThreadWriter(SaverDriver(saver, "sync"), "source")
    cfg = w.put({"secret": "top secret value"})
    saver.put_writes(cfg, [("w", "secret write")], "task")
    saver.copy_thread("source", "target")
    copied = saver.get_tuple({"configurable": {"thread_id": "target"}})
    assert copied is not None
    assert copied.checkpoint["channel_values"] == {"secret": "top secret value"}
    assert copied.pending_writes == [("task", "w", "secret write")]
    source_blob = next(iter(saver._blobs["source"].values()))
    target_blob = next(iter(saver._blobs["target"].values()))
    assert source_blob.data != target_blob.data
    assert b"top secret" not in (source_blob.data or b"")
    # A sealed value moved to the other thread by hand fails instead of loading.
    saver._blobs["target"] = {
        key: dataclasses.replace(row, thread_id="target")
        for key, row in saver._blobs["source"].items()
    }
    with pytest.raises(ValueError, match="another storage place"):
        saver.get_tuple({"configurable": {"thread_id": "target"}})
