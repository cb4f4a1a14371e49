"""put_writes: attachment, first-wins/last-wins, order, early writes, atomicity."""

from __future__ import annotations

import pytest

from checkpointkit.checkpoint import NULL_TASK_ID
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter, make_checkpoint

spec = pytest.mark.spec


class WriteTests:
    @spec("WRT-001")
    def test_writes_attach_to_one_checkpoint(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        first = w.put({"a": 1})
        driver.put_writes(first, [("ch", "v1"), ("other", {"x": 1})], "task-a")
        second = w.put({"a": 2})
        child = ThreadWriter(driver, w.thread_id, "sub:1")
        child_cfg = child.put({"a": 3})
        got = driver.get_tuple(first)
        assert got is not None
        assert got.pending_writes == [("task-a", "ch", "v1"), ("task-a", "other", {"x": 1})]
        nxt = driver.get_tuple(second)
        assert nxt is not None and nxt.pending_writes == []
        sub = driver.get_tuple(child_cfg)
        assert sub is not None and sub.pending_writes == []

    @spec("WRT-002")
    def test_regular_writes_first_wins(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cfg = w.put({"a": 1})
        driver.put_writes(cfg, [("ch", "first"), ("ch2", "first2")], "t1")
        driver.put_writes(cfg, [("ch", "second")], "t1")
        driver.put_writes(cfg, [("zz", "other-channel-same-idx")], "t1")
        got = driver.get_tuple(cfg)
        assert got is not None
        assert got.pending_writes == [("t1", "ch", "first"), ("t1", "ch2", "first2")]

    @spec("WRT-003")
    def test_special_writes_last_wins(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cfg = w.put({"a": 1})
        driver.put_writes(cfg, [("__error__", "e1")], "t1")
        driver.put_writes(cfg, [("__error__", "e2")], "t1")
        driver.put_writes(cfg, [("__interrupt__", ["i1"])], "t2")
        driver.put_writes(cfg, [("__interrupt__", ["i2"])], "t2")
        got = driver.get_tuple(cfg)
        assert got is not None
        assert got.pending_writes == [("t1", "__error__", "e2"), ("t2", "__interrupt__", ["i2"])]

    @spec("WRT-003")
    def test_special_writes_last_wins_in_mixed_batches(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cfg = w.put({"a": 1})
        driver.put_writes(cfg, [("ch", "a"), ("__error__", "e1"), ("__resume__", 1)], "t")
        driver.put_writes(cfg, [("ch", "b"), ("__error__", "e2"), ("__resume__", 2)], "t")
        got = driver.get_tuple(cfg)
        assert got is not None
        assert got.pending_writes == [
            ("t", "__resume__", 2),
            ("t", "__error__", "e2"),
            ("t", "ch", "a"),
        ]

    @spec("WRT-004")
    def test_pending_write_order(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cfg = w.put({"a": 1})
        driver.put_writes(cfg, [("z", 0), ("y", 1), ("__interrupt__", "i")], "task-b")
        driver.put_writes(cfg, [("x", 0), ("__error__", "e"), ("w", 2)], "task-a")
        driver.put_writes(cfg, [("__scheduled__", "s")], "task-a")
        got = driver.get_tuple(cfg)
        assert got is not None
        assert got.pending_writes == [
            ("task-a", "__scheduled__", "s"),
            ("task-a", "__error__", "e"),
            ("task-a", "x", 0),
            ("task-a", "w", 2),
            ("task-b", "__interrupt__", "i"),
            ("task-b", "z", 0),
            ("task-b", "y", 1),
        ]

    @spec("WRT-005")
    def test_writes_before_checkpoint(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        w.put({"a": 1})
        cp = make_checkpoint({"a": 2}, {"a": driver.get_next_version(None)})
        early = w.config(cp["id"])
        driver.put_writes(early, [("ch", "early")], "t")
        assert driver.get_tuple(early) is None
        driver.put(w.config(w.head["id"]), cp, {"step": 1}, dict(cp["channel_versions"]))  # type: ignore[index]
        got = driver.get_tuple(early)
        assert got is not None and got.pending_writes == [("t", "ch", "early")]

    @spec("WRT-006")
    def test_put_writes_is_atomic(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cfg = w.put({"a": 1})

        class Opaque:
            pass

        with pytest.raises(TypeError, match="Opaque"):
            driver.put_writes(cfg, [("ok", 1), ("bad", Opaque()), ("ok2", 2)], "t")
        got = driver.get_tuple(cfg)
        assert got is not None and got.pending_writes == []

    @spec("WRT-007")
    def test_null_task_resend(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cfg = w.put({"a": 1})
        driver.put_writes(cfg, [("a", 1)], NULL_TASK_ID)
        driver.put_writes(cfg, [("a", "changed"), ("b", 2)], NULL_TASK_ID)
        got = driver.get_tuple(cfg)
        assert got is not None
        assert got.pending_writes == [(NULL_TASK_ID, "a", 1), (NULL_TASK_ID, "b", 2)]
        driver.put_writes(cfg, [("a", 1), ("b", 2), ("__resume__", "r")], NULL_TASK_ID)
        got = driver.get_tuple(cfg)
        assert got is not None
        assert got.pending_writes == [
            (NULL_TASK_ID, "__resume__", "r"),
            (NULL_TASK_ID, "a", 1),
            (NULL_TASK_ID, "b", 2),
        ]

    @spec("WRT-008")
    def test_many_tasks(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cfg = w.put({"a": 1})
        for i in range(500):
            driver.put_writes(cfg, [("fan", i)], f"task-{i:04d}")
        got = driver.get_tuple(cfg)
        assert got is not None
        assert got.pending_writes == [(f"task-{i:04d}", "fan", i) for i in range(500)]

    @spec("WRT-009")
    def test_put_writes_needs_checkpoint_id(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        w.put({"a": 1})
        with pytest.raises((ValueError, KeyError)):
            driver.put_writes(w.config(), [("ch", 1)], "t")
