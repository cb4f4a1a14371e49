"""get_tuple: latest by id, exact lookups, misses, default namespace."""

from __future__ import annotations

import pytest

from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter, make_checkpoint, new_thread_id
from checkpointkit.ids import new_checkpoint_id

spec = pytest.mark.spec


class GetTupleTests:
    @spec("GET-001")
    def test_latest_is_greatest_id_not_last_inserted(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        ids = sorted(new_checkpoint_id() for _ in range(3))
        for cid in (ids[2], ids[0], ids[1]):
            cp = make_checkpoint({"who": cid}, {"who": 1}, checkpoint_id=cid)
            driver.put(w.config(), cp, {"step": ids.index(cid)}, {"who": 1})
        got = driver.get_tuple(w.config())
        assert got is not None and got.checkpoint["id"] == ids[2]
        assert got.metadata["step"] == 2

    @spec("GET-001")
    def test_latest_follows_newest_branch(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        root = w.put({"a": 0})
        w.put({"a": 1})
        w.put({"a": 2})
        fork = w.put({"a": "fork"}, parent=root["configurable"]["checkpoint_id"])
        got = driver.get_tuple(w.config())
        assert got is not None and got.config == fork
        assert got.checkpoint["channel_values"] == {"a": "fork"}

    @spec("GET-002")
    def test_exact_lookup_and_misses(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        first = w.put({"a": 1})
        w.put({"a": 2})
        got = driver.get_tuple(first)
        assert got is not None and got.checkpoint["channel_values"] == {"a": 1}
        cid = first["configurable"]["checkpoint_id"]
        assert driver.get_tuple(w.config(new_checkpoint_id())) is None
        assert driver.get_tuple(checkpoint_config(new_thread_id(), "", cid)) is None
        assert driver.get_tuple(checkpoint_config(new_thread_id())) is None
        assert driver.get_tuple(checkpoint_config(w.thread_id, "sub:x", cid)) is None
        assert driver.get_tuple(checkpoint_config(w.thread_id, "sub:x")) is None

    @spec("GET-003")
    def test_missing_namespace_means_root(self, driver: SaverDriver) -> None:
        thread = new_thread_id()
        cp = make_checkpoint({"a": 1})
        returned = driver.put({"configurable": {"thread_id": thread}}, cp, {}, {"a": 1})
        assert returned == checkpoint_config(thread, "", cp["id"])
        driver.put_writes(
            {"configurable": {"thread_id": thread, "checkpoint_id": cp["id"]}}, [("c", 1)], "t"
        )
        got = driver.get_tuple({"configurable": {"thread_id": thread}})
        assert got is not None and got.config == checkpoint_config(thread, "", cp["id"])
        assert got.pending_writes == [("t", "c", 1)]
        root = driver.get_tuple(checkpoint_config(thread, ""))
        assert root is not None and root.checkpoint["id"] == cp["id"]
