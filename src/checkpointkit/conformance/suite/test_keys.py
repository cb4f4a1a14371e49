"""Keys and bad input: reserved characters, NUL, surrogates, byte limits, missing thread."""

from __future__ import annotations

from typing import Any

import pytest

from checkpointkit.checkpoint import MAX_ID_BYTES, MAX_KEY_BYTES, checkpoint_config
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter, make_checkpoint, new_thread_id

spec = pytest.mark.spec

RESERVED = [
    "a|b:c",
    "quote'd",
    'dq"x',
    "100%_like",
    "back\\slash",
    "with space",
    "'); DELETE FROM checkpoints; --",
    "ünïcödé-日本-🙂",
    "tab\tnew\nline",
]


class KeyTests:
    @spec("KEY-001")
    @pytest.mark.parametrize("key", RESERVED)
    def test_reserved_characters_round_trip(self, driver: SaverDriver, key: str) -> None:
        thread = new_thread_id() + key
        w = ThreadWriter(driver, thread, ns=key + ":" + key)
        other = ThreadWriter(driver, new_thread_id(), ns=key + ":" + key)
        other.put({"x": "other"})
        cfg = w.put({key: "value"})
        driver.put_writes(cfg, [(key, "w")], key)
        got = driver.get_tuple(checkpoint_config(thread, key + ":" + key))
        assert got is not None
        assert got.config == cfg
        assert got.checkpoint["channel_values"] == {key: "value"}
        assert got.pending_writes == [(key, key, "w")]
        assert [t.config for t in driver.list({"configurable": {"thread_id": thread}})] == [cfg]
        driver.delete_thread(thread)
        assert driver.get_tuple(cfg) is None
        assert driver.get_tuple(other.head_config or {}) is not None

    @spec("KEY-002")
    @pytest.mark.parametrize(
        "bad", ["nul\x00inside", "lone\ud800surrogate"], ids=["nul", "surrogate"]
    )
    def test_bad_characters_in_keys_are_rejected(self, driver: SaverDriver, bad: str) -> None:
        w = ThreadWriter(driver)
        ok = w.put({"a": 1})
        cp = make_checkpoint({"a": 1})
        with pytest.raises(ValueError):
            driver.put(checkpoint_config(bad), cp, {}, {"a": 1})
        with pytest.raises(ValueError):
            driver.put(checkpoint_config(w.thread_id, bad), cp, {}, {"a": 1})
        with pytest.raises(ValueError):
            driver.put_writes(ok, [("ch", 1)], bad)
        with pytest.raises(ValueError):
            driver.put_writes(ok, [(bad, 1)], "task")
        with pytest.raises(ValueError):
            driver.get_tuple(checkpoint_config(bad))
        got = driver.get_tuple(ok)
        assert got is not None and got.pending_writes == []
        assert len(driver.list({"configurable": {"thread_id": w.thread_id}})) == 1

    @spec("KEY-003")
    def test_key_byte_limits(self, driver: SaverDriver) -> None:
        thread = "t" * (MAX_KEY_BYTES - 36) + new_thread_id()[3:]
        assert len(thread.encode()) == MAX_KEY_BYTES
        ns = "é" * (MAX_KEY_BYTES // 2)
        w = ThreadWriter(driver, thread, ns)
        cfg = w.put({"a": 1})
        task = "k" * MAX_ID_BYTES
        driver.put_writes(cfg, [("c", 1)], task)
        got = driver.get_tuple(cfg)
        assert got is not None and got.config["configurable"]["thread_id"] == thread
        assert got.pending_writes == [(task, "c", 1)]
        cp = make_checkpoint({"a": 1})
        with pytest.raises(ValueError, match=str(MAX_KEY_BYTES)):
            driver.put(checkpoint_config(thread + "x"), cp, {}, {"a": 1})
        with pytest.raises(ValueError, match=str(MAX_KEY_BYTES)):
            driver.put(checkpoint_config(thread, ns + "x"), cp, {}, {"a": 1})
        with pytest.raises(ValueError, match=str(MAX_ID_BYTES)):
            driver.put_writes(cfg, [("c", 2)], task + "k")
        long_id = make_checkpoint({"a": 1}, checkpoint_id="1" * (MAX_ID_BYTES + 1))
        with pytest.raises(ValueError, match=str(MAX_ID_BYTES)):
            driver.put(checkpoint_config(thread, ns), long_id, {}, {"a": 1})
        assert len(driver.list({"configurable": {"thread_id": thread}})) == 1
        driver.delete_thread(thread)

    @spec("KEY-004")
    def test_missing_thread_id(self, driver: SaverDriver) -> None:
        cp = make_checkpoint({"a": 1})
        configs: list[dict[str, Any]] = [
            {"configurable": {}},
            {"configurable": {"checkpoint_ns": ""}},
        ]
        for config in configs:
            with pytest.raises((ValueError, KeyError)):
                driver.put(config, cp, {}, {"a": 1})
            with pytest.raises((ValueError, KeyError)):
                driver.get_tuple(config)
            with pytest.raises((ValueError, KeyError)):
                driver.put_writes({"configurable": {"checkpoint_id": cp["id"]}}, [("c", 1)], "t")
