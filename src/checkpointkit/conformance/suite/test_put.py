"""put: returned configs, round-trips, (channel, version) addressing, metadata."""

from __future__ import annotations

from typing import Any

import pytest

from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter, make_checkpoint, new_thread_id

spec = pytest.mark.spec


class PutTests:
    @spec("PUT-001")
    def test_put_returns_normalised_config(self, driver: SaverDriver) -> None:
        thread = new_thread_id()
        cp = make_checkpoint({"a": 1})
        config = {
            "configurable": {"thread_id": thread, "checkpoint_ns": "", "extra": "x"},
            "metadata": {"m": 1},
        }
        returned = driver.put(config, cp, {"source": "input", "step": -1}, {"a": 1})
        assert returned == checkpoint_config(thread, "", cp["id"])
        got = driver.get_tuple(
            {"configurable": {"thread_id": thread, "checkpoint_id": cp["id"], "extra": "x"}}
        )
        assert got is not None and got.config == checkpoint_config(thread, "", cp["id"])
        listed = driver.list({"configurable": {"thread_id": thread, "other": 1}})
        assert [t.config for t in listed] == [checkpoint_config(thread, "", cp["id"])]

    @spec("PUT-002")
    def test_put_roundtrip_all_fields(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        v1, v2 = driver.get_next_version(None), driver.get_next_version(None)
        cp = make_checkpoint({"a": "x", "b": [1, 2]}, {"a": v1, "b": v2})
        cp["versions_seen"] = {"node": {"a": v1}, "__input__": {}}
        cp["updated_channels"] = ["a", "b"]
        driver.put(w.config(), cp, {"source": "loop", "step": 0}, {"a": v1, "b": v2})
        got = driver.get_tuple(w.config(cp["id"]))
        assert got is not None
        assert got.checkpoint == cp
        assert {k: type(v) for k, v in got.checkpoint["channel_versions"].items()} == {
            "a": type(v1),
            "b": type(v2),
        }

    @spec("PUT-002")
    def test_put_roundtrip_int_versions(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cp = make_checkpoint({"a": 1}, {"a": 7})
        driver.put(w.config(), cp, {}, {"a": 7})
        got = driver.get_tuple(w.config(cp["id"]))
        assert got is not None
        assert got.checkpoint["channel_versions"] == {"a": 7}
        assert got.checkpoint["channel_values"] == {"a": 1}

    @spec("PUT-003")
    def test_unchanged_channels_are_read_from_their_version(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        first = w.put({"a": "a1", "b": "b1"})
        second = w.put({"a": "a2"})
        third = w.put({"c": "c1"})
        got = driver.get_tuple(third)
        assert got is not None
        assert got.checkpoint["channel_values"] == {"a": "a2", "b": "b1", "c": "c1"}
        old = driver.get_tuple(first)
        assert old is not None and old.checkpoint["channel_values"] == {"a": "a1", "b": "b1"}
        mid = driver.get_tuple(second)
        assert mid is not None and mid.checkpoint["channel_values"] == {"a": "a2", "b": "b1"}

    @spec("PUT-003")
    def test_values_outside_new_versions_are_kept(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cp = make_checkpoint({"a": [1], "b": "x"}, {"a": 1, "b": 1})
        driver.put(w.config(), cp, {}, {})
        got = driver.get_tuple(w.config(cp["id"]))
        assert got is not None and got.checkpoint["channel_values"] == {"a": [1], "b": "x"}

    @spec("PUT-003")
    def test_first_value_for_a_version_wins(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        one = make_checkpoint({"a": "first"}, {"a": 1})
        driver.put(w.config(), one, {}, {"a": 1})
        two = make_checkpoint({"a": "second"}, {"a": 1})
        driver.put(w.config(one["id"]), two, {}, {"a": 1})
        got = driver.get_tuple(w.config(two["id"]))
        assert got is not None and got.checkpoint["channel_values"] == {"a": "first"}

    @spec("PUT-004")
    def test_channels_without_value_or_version_are_absent(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cp = make_checkpoint({"a": 1}, {"a": 1, "empty": 1})
        cp["channel_values"]["orphan"] = "no version"
        driver.put(w.config(), cp, {}, {"a": 1, "empty": 1})
        got = driver.get_tuple(w.config(cp["id"]))
        assert got is not None and got.checkpoint["channel_values"] == {"a": 1}
        w.put({"b": 2})
        removed = w.put({"c": 3}, remove=("b",))
        got = driver.get_tuple(removed)
        assert got is not None and "b" not in got.checkpoint["channel_values"]

    @spec("PUT-005")
    def test_parent_config(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver, ns="child:1")
        first = w.put({"a": 1})
        second = w.put({"a": 2})
        got1, got2 = driver.get_tuple(first), driver.get_tuple(second)
        assert got1 is not None and got1.parent_config is None
        assert got2 is not None
        assert got2.parent_config == checkpoint_config(
            w.thread_id, "child:1", first["configurable"]["checkpoint_id"]
        )

    @spec("PUT-006")
    def test_reput_replaces_checkpoint_metadata_and_parent(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        a = w.put({"x": 1})
        b = w.put({"x": 2})
        head = w.head
        assert head is not None
        driver.put_writes(b, [("ch", "kept")], "task-1")
        again = dict(head)
        again["ts"] = "2030-01-01T00:00:00+00:00"
        driver.put(w.config(None), again, {"source": "update", "step": 99}, {})  # type: ignore[arg-type]
        got = driver.get_tuple(b)
        assert got is not None
        assert got.metadata["step"] == 99 and got.metadata["source"] == "update"
        assert got.checkpoint["ts"] == "2030-01-01T00:00:00+00:00"
        assert got.parent_config is None
        assert got.pending_writes == [("task-1", "ch", "kept")]
        driver.put(a, again, {"source": "loop", "step": 1}, {})  # type: ignore[arg-type]
        got = driver.get_tuple(b)
        assert got is not None and got.parent_config == a

    @spec("PUT-007")
    def test_metadata_merges_config(self, driver: SaverDriver) -> None:
        thread = new_thread_id()
        config = {
            "configurable": {
                "thread_id": thread,
                "checkpoint_ns": "",
                "user_id": "u1",
                "shared": "from-configurable",
                "n": 3,
                "flag": True,
                "__private": "no",
                "checkpoint_map": {"": "x"},
                "langgraph_step": 4,
                "obj": {"not": "scalar"},
            },
            "metadata": {"shared": "from-metadata", "tag": "t", "explicit": "from-metadata"},
        }
        cp = make_checkpoint({"a": 1})
        driver.put(config, cp, {"source": "loop", "step": 1, "explicit": "wins"}, {"a": 1})
        got = driver.get_tuple(checkpoint_config(thread, "", cp["id"]))
        assert got is not None
        assert got.metadata == {
            "source": "loop",
            "step": 1,
            "explicit": "wins",
            "shared": "from-metadata",
            "tag": "t",
            "user_id": "u1",
            "n": 3,
            "flag": True,
        }

    @spec("PUT-008")
    def test_metadata_types_round_trip(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        meta = {
            "source": "loop",
            "step": 3,
            "parents": {"": "abc", "sub:1": "def"},
            "flag": True,
            "zero": 0,
            "ratio": 0.25,
            "none": None,
            "text": "日本語 ✓ 'quoted' \"double\"",
            "nested": {"list": [1, "two", [3.5, False]], "deep": {"x": {"y": None}}},
            "big": 2**63 - 1,
            "neg": -(2**63),
            "tup": (1, 2),
        }
        cfg = w.put({"a": 1}, metadata=meta)
        got = driver.get_tuple(cfg)
        assert got is not None
        expected = dict(meta, tup=[1, 2])
        assert got.metadata == expected
        assert type(got.metadata["step"]) is int
        meta_back: dict[str, Any] = dict(got.metadata)
        assert meta_back["flag"] is True and type(meta_back["zero"]) is int
        assert meta_back["none"] is None and type(meta_back["ratio"]) is float

    @spec("PUT-009")
    @pytest.mark.parametrize(
        "bad",
        [
            pytest.param({"when": __import__("datetime").date(2024, 1, 1)}, id="date"),
            pytest.param({"x": float("nan")}, id="nan"),
            pytest.param({"x": float("inf")}, id="inf"),
            pytest.param({"x": 2**64}, id="bigint"),
            pytest.param({"x": "a\x00b"}, id="nul-value"),
            pytest.param({"x": {"deep": ["\x00"]}}, id="nul-nested"),
            pytest.param({"x": "\ud800"}, id="surrogate"),
            pytest.param({"x": {1: "int key"}}, id="int-key"),
            pytest.param({"x": b"bytes"}, id="bytes"),
        ],
    )
    def test_non_json_metadata_is_rejected(
        self, driver: SaverDriver, bad: dict[str, object]
    ) -> None:
        w = ThreadWriter(driver)
        w.put({"a": 1})
        cp = make_checkpoint({"a": 2}, {"a": 2})
        with pytest.raises((TypeError, ValueError)):
            driver.put(w.config(w.head["id"] if w.head else None), cp, bad, {"a": 2})
        assert driver.get_tuple(w.config(cp["id"])) is None
        assert len(driver.list(w.config())) == 1

    @spec("PUT-010")
    def test_namespaces_are_isolated(self, driver: SaverDriver) -> None:
        thread = new_thread_id()
        root, child = ThreadWriter(driver, thread, ""), ThreadWriter(driver, thread, "sub:1")
        cp = make_checkpoint({"a": "root"}, {"a": 1})
        driver.put(root.config(), cp, {"step": 0}, {"a": 1})
        twin = dict(cp, channel_values={"a": "child"})
        driver.put(child.config(), twin, {"step": 5}, {"a": 1})  # type: ignore[arg-type]
        driver.put_writes(root.config(cp["id"]), [("w", "root-write")], "t")
        r, c = driver.get_tuple(root.config(cp["id"])), driver.get_tuple(child.config(cp["id"]))
        assert r is not None and c is not None
        assert r.checkpoint["channel_values"] == {"a": "root"} and r.metadata["step"] == 0
        assert c.checkpoint["channel_values"] == {"a": "child"} and c.metadata["step"] == 5
        assert r.pending_writes == [("t", "w", "root-write")] and c.pending_writes == []

    @spec("PUT-011")
    def test_threads_are_isolated(self, driver: SaverDriver) -> None:
        one, two = ThreadWriter(driver), ThreadWriter(driver)
        one.put({"a": "one"})
        cp = make_checkpoint({"a": "two"}, {"a": one.head["channel_versions"]["a"]})  # type: ignore[index]
        cp["id"] = one.head["id"]  # type: ignore[index]
        driver.put(two.config(), cp, {}, {"a": cp["channel_versions"]["a"]})
        got1, got2 = driver.get_tuple(one.config()), driver.get_tuple(two.config())
        assert got1 is not None and got1.checkpoint["channel_values"] == {"a": "one"}
        assert got2 is not None and got2.checkpoint["channel_values"] == {"a": "two"}
        driver.delete_thread(two.thread_id)
        assert driver.get_tuple(one.config()) is not None
