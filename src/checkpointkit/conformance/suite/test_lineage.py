"""Versions and lineage: strictly increasing versions, unique across forks, branches."""

from __future__ import annotations

import pytest

from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter

spec = pytest.mark.spec


class LineageTests:
    @spec("LIN-001")
    def test_next_version_increases(self, driver: SaverDriver) -> None:
        current = None
        seen = []
        for _ in range(50):
            nxt = driver.get_next_version(current)
            if current is not None:
                assert nxt > current
            seen.append(nxt)
            current = nxt
        assert len(set(seen)) == len(seen)
        from_int = driver.get_next_version(7)
        assert int(str(from_int).split(".")[0]) == 8

    @spec("LIN-002")
    def test_versions_unique_across_forks(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        base = w.put({"msgs": ["root"]})
        base_id = base["configurable"]["checkpoint_id"]
        left = w.put({"msgs": ["root", "left"]}, parent=base_id)
        right = w.put({"msgs": ["root", "right"]}, parent=base_id)
        lv = driver.get_tuple(left)
        rv = driver.get_tuple(right)
        assert lv is not None and rv is not None
        assert (
            lv.checkpoint["channel_versions"]["msgs"] != rv.checkpoint["channel_versions"]["msgs"]
        )
        assert lv.checkpoint["channel_values"]["msgs"] == ["root", "left"]
        assert rv.checkpoint["channel_values"]["msgs"] == ["root", "right"]
        left2 = w.put(
            {"msgs": ["root", "left", "more"]}, parent=left["configurable"]["checkpoint_id"]
        )
        got = driver.get_tuple(left2)
        assert got is not None and got.checkpoint["channel_values"]["msgs"] == [
            "root",
            "left",
            "more",
        ]
        again = driver.get_tuple(right)
        assert again is not None and again.checkpoint["channel_values"]["msgs"] == ["root", "right"]

    @spec("LIN-003")
    def test_branching_history(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        c0 = w.put({"a": 0})
        c1 = w.put({"a": 1})
        b1 = w.put({"a": "b1"}, parent=c0["configurable"]["checkpoint_id"], metadata={"branch": 1})
        c2 = w.put({"a": 2}, parent=c1["configurable"]["checkpoint_id"])
        b2 = w.put({"a": "b2"}, parent=b1["configurable"]["checkpoint_id"], metadata={"branch": 1})
        expected_parent = {
            c1["configurable"]["checkpoint_id"]: c0,
            b1["configurable"]["checkpoint_id"]: c0,
            c2["configurable"]["checkpoint_id"]: c1,
            b2["configurable"]["checkpoint_id"]: b1,
        }
        listed = driver.list(w.config())
        assert [t.config for t in listed] == [b2, c2, b1, c1, c0]
        for t in listed:
            cid = t.config["configurable"]["checkpoint_id"]
            if cid in expected_parent:
                assert t.parent_config == expected_parent[cid]
        assert [t.checkpoint["channel_values"]["a"] for t in listed] == ["b2", 2, "b1", 1, 0]
        assert len(driver.list(w.config(), filter={"branch": 1})) == 2
