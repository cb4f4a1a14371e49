"""list: order, scope, filters, before, limit, completeness, re-entrancy, hostile keys."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import ThreadWriter, make_checkpoint, new_thread_id
from checkpointkit.ids import new_checkpoint_id

spec = pytest.mark.spec

REENTRANT_TIMEOUT = 10.0  # seconds; four items and eight calls take milliseconds


def ids(tuples: list[Any]) -> list[str]:
    return [t.config["configurable"]["checkpoint_id"] for t in tuples]


class ListTests:
    @spec("LST-001")
    def test_newest_first_across_namespaces(self, driver: SaverDriver) -> None:
        thread = new_thread_id()
        writers = [ThreadWriter(driver, thread, ns) for ns in ("", "a:1", "a:1|b:2")]
        made = []
        for i in range(9):
            made.append(writers[i % 3].put({"i": i})["configurable"]["checkpoint_id"])
        listed = driver.list({"configurable": {"thread_id": thread}})
        assert ids(listed) == sorted(made, reverse=True)

    @spec("LST-001")
    def test_ties_are_broken_by_thread_then_namespace(self, driver: SaverDriver) -> None:
        cid = new_checkpoint_id()
        marker = new_thread_id("tie")
        threads = sorted(new_thread_id() for _ in range(2))
        for thread in reversed(threads):
            for ns in ("b", "", "a"):
                cp = make_checkpoint({"x": 1}, checkpoint_id=cid)
                driver.put(checkpoint_config(thread, ns), cp, {"tie": marker}, {"x": 1})
        listed = driver.list(None, filter={"tie": marker})
        keys = [
            (t.config["configurable"]["thread_id"], t.config["configurable"]["checkpoint_ns"])
            for t in listed
        ]
        assert keys == [(th, ns) for th in threads for ns in ("", "a", "b")]

    @spec("LST-002")
    def test_scope(self, driver: SaverDriver) -> None:
        thread = new_thread_id()
        root, sub = ThreadWriter(driver, thread, ""), ThreadWriter(driver, thread, "sub:1")
        r1 = root.put({"a": 1})
        s1 = sub.put({"a": 2})
        other = ThreadWriter(driver)
        o1 = other.put({"a": 3})
        everything = ids(driver.list(None))
        for cfg in (r1, s1, o1):
            assert cfg["configurable"]["checkpoint_id"] in everything
        assert len(driver.list({"configurable": {"thread_id": thread}})) == 2
        assert len(driver.list({"configurable": {"thread_id": thread, "checkpoint_ns": None}})) == 2
        assert ids(driver.list(checkpoint_config(thread, ""))) == [
            r1["configurable"]["checkpoint_id"]
        ]
        assert ids(driver.list(checkpoint_config(thread, "sub:1"))) == [
            s1["configurable"]["checkpoint_id"]
        ]
        assert ids(driver.list(r1)) == [r1["configurable"]["checkpoint_id"]]
        assert driver.list(checkpoint_config(new_thread_id())) == []

    @spec("LST-003")
    def test_filter_exact_equality(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        metas: list[dict[str, Any]] = [
            {"source": "input", "step": -1, "tags": ["a", "b"], "flag": True, "n": 1},
            {"source": "loop", "step": 0, "tags": ["a"], "flag": 1, "nested": {"x": 1, "y": 2}},
            {"source": "loop", "step": 1, "n": 1.0, "nested": {"x": 1}, "none": None},
        ]
        cfgs = [w.put({"i": i}, metadata=m) for i, m in enumerate(metas)]
        cid = [c["configurable"]["checkpoint_id"] for c in cfgs]

        def match(f: dict[str, Any]) -> list[str]:
            return sorted(ids(driver.list(w.config(), filter=f)))

        assert match({"source": "loop"}) == sorted(cid[1:])
        assert match({"source": "loop", "step": 1}) == [cid[2]]
        assert match({"tags": ["a"]}) == [cid[1]]
        assert match({"tags": ["b", "a"]}) == []
        assert match({"nested": {"x": 1}}) == [cid[2]]
        assert match({"nested": {"y": 2, "x": 1}}) == [cid[1]]
        assert match({"flag": True}) == [cid[0]]
        assert match({"flag": 1}) == [cid[1]]
        assert match({"n": 1}) == sorted([cid[0], cid[2]])
        assert match({"none": None}) == [cid[2]]
        assert match({"missing": None}) == []
        assert match({"step": "1"}) == []
        assert match({}) == sorted(cid)

    @spec("LST-004")
    def test_before_is_strict_and_crosses_branches(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        c0 = w.put({"a": 0})
        c1 = w.put({"a": 1})
        c2 = w.put({"a": 2})
        fork = w.put({"a": "f"}, parent=c0["configurable"]["checkpoint_id"])
        c3 = w.put({"a": 3})
        all_ids = [c["configurable"]["checkpoint_id"] for c in (c0, c1, c2, fork, c3)]
        before = driver.list(w.config(), before=fork)
        assert ids(before) == sorted(all_ids[:3], reverse=True)
        elsewhere = checkpoint_config(new_thread_id(), "ns:x", c3["configurable"]["checkpoint_id"])
        assert ids(driver.list(w.config(), before=elsewhere)) == sorted(all_ids[:4], reverse=True)
        assert driver.list(w.config(), before=c0) == []

    @spec("LST-005")
    def test_limit(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        made = [c["configurable"]["checkpoint_id"] for c in w.chain(5)]
        newest = sorted(made, reverse=True)
        assert ids(driver.list(w.config(), limit=None)) == newest
        assert driver.list(w.config(), limit=0) == []
        assert ids(driver.list(w.config(), limit=2)) == newest[:2]
        assert ids(driver.list(w.config(), limit=50)) == newest
        assert ids(driver.list(w.config(), limit=1, before=w.config(newest[1]))) == [newest[2]]
        odd = ids(driver.list(w.config(), filter={"source": "loop"}, limit=3))
        assert odd == newest[:3]
        with pytest.raises(ValueError):
            driver.list(w.config(), limit=-1)

    @spec("LST-006")
    def test_listed_tuples_are_complete(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        first = w.put({"a": [1], "b": "x"}, metadata={"k": "v"})
        second = w.put({"a": [1, 2]})
        driver.put_writes(second, [("ch", {"w": 1}), ("__error__", "boom")], "task")
        for cfg in (first, second):
            direct = driver.get_tuple(cfg)
            (listed,) = driver.list(cfg)
            assert listed == direct

    @spec("LST-007")
    def test_calls_during_list_iteration(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        w.chain(4)
        seen: list[Any] = []
        hung = (
            f"{type(driver.saver).__name__} deadlocked: a call made while list() was being "
            f"iterated did not return within {REENTRANT_TIMEOUT:.0f}s"
        )
        if driver.flavor == "sync":
            # In a daemon thread, so a saver that deadlocks fails this test, never the run.
            errors: list[BaseException] = []

            def interleave_sync() -> None:
                try:
                    for item in driver.saver.list(w.config()):
                        seen.append(item.config)
                        assert driver.saver.get_tuple(item.config) is not None
                        driver.saver.put_writes(item.config, [("during", 1)], "reentrant")
                except BaseException as exc:  # re-raised in the test's thread
                    errors.append(exc)

            worker = threading.Thread(target=interleave_sync, daemon=True)
            worker.start()
            worker.join(REENTRANT_TIMEOUT)
            if worker.is_alive():
                pytest.fail(hung)
            if errors:
                raise errors[0]
        else:
            assert driver.loop is not None

            async def interleave() -> None:
                async for item in driver.saver.alist(w.config()):
                    seen.append(item.config)
                    assert await driver.saver.aget_tuple(item.config) is not None
                    await driver.saver.aput_writes(item.config, [("during", 1)], "reentrant")

            try:
                driver.loop.run(interleave(), timeout=REENTRANT_TIMEOUT)
                finished = True
            except TimeoutError:
                finished = False
            if not finished:
                pytest.fail(hung)
        w.put({"after": True})
        assert len(seen) == 4
        for cfg in seen:
            got = driver.get_tuple(cfg)
            assert got is not None and got.pending_writes == [("reentrant", "during", 1)]

    @spec("LST-008")
    @pytest.mark.parametrize(
        "key",
        [
            "a'b",
            'a"b',
            "x') OR 1=1 --",
            "$.source",
            "a.b",
            "a[0]",
            "日本",
            "k; DROP TABLE checkpoints; --",
            "metadata->>'x'",
            "%_",
        ],
    )
    def test_hostile_filter_keys(self, driver: SaverDriver, key: str) -> None:
        w = ThreadWriter(driver)
        hit = w.put({"a": 1}, metadata={key: "v", "source": "loop"})
        w.put({"a": 2}, metadata={"source": "loop"})
        assert ids(driver.list(w.config(), filter={key: "v"})) == [
            hit["configurable"]["checkpoint_id"]
        ]
        assert driver.list(w.config(), filter={key: "other"}) == []
        assert len(driver.list(w.config())) == 2
