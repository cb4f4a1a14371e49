"""Optional capabilities: list_threads, copy_thread, prune, delete_for_runs."""

from __future__ import annotations

import pytest

from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.capabilities import Capability
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter, new_thread_id

spec = pytest.mark.spec
requires = pytest.mark.requires


def snapshot(driver: SaverDriver, thread_id: str) -> list[tuple[object, ...]]:
    return [
        (t.config, t.checkpoint, t.metadata, t.parent_config, t.pending_writes)
        for t in driver.list({"configurable": {"thread_id": thread_id}})
    ]


class LifecycleTests:
    @spec("THR-001")
    @requires(Capability.LIST_THREADS)
    def test_list_threads(self, driver: SaverDriver) -> None:
        prefix = new_thread_id("lt")
        made = sorted(f"{prefix}-{i}" for i in range(4))
        for thread in made:
            ThreadWriter(driver, thread, "sub:1" if thread.endswith("2") else "").put({"a": 1})
        listed = [t for t in driver.list_threads() if t.startswith(prefix)]
        assert listed == made
        everything = driver.list_threads()
        assert everything == sorted(set(everything))
        page = driver.list_threads(after=made[0], limit=2)
        assert page == [t for t in everything if t > made[0]][:2]
        driver.delete_thread(made[1])
        assert made[1] not in driver.list_threads()
        assert driver.list_threads(limit=0) == []

    @spec("CPY-001")
    @requires(Capability.COPY_THREAD)
    def test_copy_thread(self, driver: SaverDriver) -> None:
        source = new_thread_id()
        root, sub = ThreadWriter(driver, source, ""), ThreadWriter(driver, source, "sub:1")
        c1 = root.put({"msgs": ["a"], "n": 1}, metadata={"run_id": "r1"})
        root.put({"msgs": ["a", "b"]})
        driver.put_writes(c1, [("w", "v"), ("__interrupt__", ["i"])], "task")
        sub.put({"x": (1, 2)})
        before = snapshot(driver, source)
        target = new_thread_id()
        driver.copy_thread(source, target)
        assert snapshot(driver, source) == before
        copied = snapshot(driver, target)
        assert len(copied) == len(before)
        for (cfg, cp, meta, parent, writes), (scfg, scp, smeta, sparent, swrites) in zip(
            copied, before, strict=True
        ):
            assert cfg == dict(scfg, configurable=dict(scfg["configurable"], thread_id=target))  # type: ignore[call-overload, index]
            assert cp == scp and meta == smeta and writes == swrites
            if sparent is None:
                assert parent is None
            else:
                assert parent == checkpoint_config(
                    target,
                    sparent["configurable"]["checkpoint_ns"],  # type: ignore[index]
                    sparent["configurable"]["checkpoint_id"],  # type: ignore[index]
                )
        driver.delete_thread(source)
        assert len(snapshot(driver, target)) == len(before)

    @spec("CPY-002")
    @requires(Capability.COPY_THREAD)
    def test_copy_thread_never_merges(self, driver: SaverDriver) -> None:
        source, target = ThreadWriter(driver), ThreadWriter(driver)
        source.put({"a": 1})
        target.put({"a": "target"})
        before = snapshot(driver, target.thread_id)
        with pytest.raises(ValueError):
            driver.copy_thread(source.thread_id, target.thread_id)
        assert snapshot(driver, target.thread_id) == before
        empty = new_thread_id()
        driver.copy_thread(new_thread_id(), empty)
        assert snapshot(driver, empty) == []

    @spec("PRN-001")
    @requires(Capability.PRUNE)
    def test_prune_keep_latest(self, driver: SaverDriver) -> None:
        thread = new_thread_id()
        root, sub = ThreadWriter(driver, thread, ""), ThreadWriter(driver, thread, "sub:1")
        root.put({"big": "x" * 1000, "n": 0})
        for i in range(1, 5):
            root.put({"n": i})
        driver.put_writes(root.head_config or {}, [("w", "kept")], "t")
        sub.chain(3)
        other = ThreadWriter(driver)
        other.chain(3)
        other_before = snapshot(driver, other.thread_id)
        latest_root = driver.get_tuple(root.head_config or {})
        latest_sub = driver.get_tuple(sub.head_config or {})
        driver.prune([thread], strategy="keep_latest")
        remaining = driver.list({"configurable": {"thread_id": thread}})
        assert sorted(t.config["configurable"]["checkpoint_ns"] for t in remaining) == ["", "sub:1"]
        for t, latest in (
            (driver.get_tuple(root.config()), latest_root),
            (driver.get_tuple(sub.config()), latest_sub),
        ):
            assert t is not None and latest is not None
            assert t.checkpoint == latest.checkpoint
            assert t.metadata == latest.metadata
            assert t.pending_writes == latest.pending_writes
            assert t.parent_config is None
        assert driver.get_tuple(root.config())[1]["channel_values"] == {"big": "x" * 1000, "n": 4}  # type: ignore[index]
        assert snapshot(driver, other.thread_id) == other_before

    @spec("PRN-002")
    @requires(Capability.PRUNE)
    def test_prune_delete_and_errors(self, driver: SaverDriver) -> None:
        a, b = ThreadWriter(driver), ThreadWriter(driver)
        a.chain(2)
        b.chain(2)
        before_b = snapshot(driver, b.thread_id)
        with pytest.raises(ValueError):
            driver.prune([a.thread_id], strategy="nonsense")
        assert len(snapshot(driver, a.thread_id)) == 2
        driver.prune([], strategy="keep_latest")
        driver.prune([new_thread_id()], strategy="keep_latest")
        driver.prune([a.thread_id], strategy="delete")
        assert snapshot(driver, a.thread_id) == []
        assert snapshot(driver, b.thread_id) == before_b

    @spec("RUN-001")
    @requires(Capability.DELETE_FOR_RUNS)
    def test_delete_for_runs(self, driver: SaverDriver) -> None:
        run_a, run_b = new_thread_id("run"), new_thread_id("run")
        w = ThreadWriter(driver)
        sub = ThreadWriter(driver, w.thread_id, "sub:1")
        other = ThreadWriter(driver)
        c0 = w.put({"a": 0}, metadata={"run_id": run_a})
        c1 = w.put({"a": 1}, metadata={"run_id": run_b})
        driver.put_writes(c1, [("w", 1)], "t")
        c2 = w.put({"a": 2}, metadata={"run_id": run_b})
        c3 = w.put({"a": 3}, metadata={"run_id": run_a})
        s0 = sub.put({"s": 0}, metadata={"run_id": run_b})
        o0 = other.put({"o": 0}, metadata={"run_id": run_b})
        o1 = other.put({"o": 1}, metadata={"run_id": run_a})
        driver.delete_for_runs([])
        driver.delete_for_runs([new_thread_id("unknown-run")])
        assert len(driver.list({"configurable": {"thread_id": w.thread_id}})) == 5
        driver.delete_for_runs([run_b])
        for gone in (c1, c2, s0, o0):
            assert driver.get_tuple(gone) is None
        kept3 = driver.get_tuple(c3)
        assert kept3 is not None and kept3.parent_config == c0
        assert kept3.checkpoint["channel_values"] == {"a": 3}
        kept_o1 = driver.get_tuple(o1)
        assert kept_o1 is not None and kept_o1.parent_config is None
        assert kept_o1.checkpoint["channel_values"] == {"o": 1}
        assert [t.config for t in driver.list({"configurable": {"thread_id": w.thread_id}})] == [
            c3,
            c0,
        ]
