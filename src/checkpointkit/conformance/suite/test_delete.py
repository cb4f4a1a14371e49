"""delete_thread: everything of the thread goes, nothing else does."""

from __future__ import annotations

import pytest

from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter, make_checkpoint, new_thread_id

spec = pytest.mark.spec


class DeleteTests:
    @spec("DEL-001")
    def test_delete_thread(self, driver: SaverDriver) -> None:
        thread = new_thread_id()
        root, sub = ThreadWriter(driver, thread, ""), ThreadWriter(driver, thread, "s:1")
        keep = ThreadWriter(driver)
        r = root.put({"a": 1})
        driver.put_writes(r, [("w", 1)], "t")
        sub.put({"b": 2})
        k = keep.put({"a": "keep"})
        driver.put_writes(k, [("w", "keep")], "t")
        driver.delete_thread(thread)
        assert driver.get_tuple(checkpoint_config(thread, "")) is None
        assert driver.get_tuple(checkpoint_config(thread, "s:1")) is None
        assert driver.list({"configurable": {"thread_id": thread}}) == []
        kept = driver.get_tuple(k)
        assert kept is not None and kept.checkpoint["channel_values"] == {"a": "keep"}
        assert kept.pending_writes == [("t", "w", "keep")]
        driver.delete_thread(new_thread_id())  # unknown thread: no-op

    @spec("DEL-001")
    def test_recreated_thread_starts_empty(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cfg = w.put({"a": "old"})
        cid = cfg["configurable"]["checkpoint_id"]
        version = w.head["channel_versions"]["a"]  # type: ignore[index]
        driver.put_writes(cfg, [("w", "stale")], "t")
        driver.delete_thread(w.thread_id)
        cp = make_checkpoint({}, {"a": version}, checkpoint_id=cid)
        driver.put(w.config(), cp, {}, {})
        got = driver.get_tuple(w.config(cid))
        assert got is not None
        assert got.pending_writes == []
        assert got.checkpoint["channel_values"] == {}
