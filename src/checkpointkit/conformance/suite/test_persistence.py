"""Persistence across instances and processes, and concurrent callers of one instance."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from typing import Any

import pytest

from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.capabilities import Capability
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import SaverFactory, ThreadWriter, new_thread_id

spec = pytest.mark.spec
requires = pytest.mark.requires

_CHILD = r"""
import json, sys
from checkpointkit.conformance.factories import SaverFactory, ThreadWriter
from checkpointkit.conformance.driver import SaverDriver
job = json.loads(sys.argv[1])
with SaverFactory.from_json(job["factory"]).open() as saver:
    seen = saver.get_tuple({"configurable": {"thread_id": job["thread"], "checkpoint_ns": ""}})
    w = ThreadWriter(SaverDriver(saver, "sync"), job["thread"])
    w.head = seen.checkpoint
    w.step = seen.metadata["step"]
    cfg = w.put({"from": "child"})
    saver.put_writes(cfg, [("child_write", [1, 2])], "child-task")
print(json.dumps({"values": seen.checkpoint["channel_values"], "writes": seen.pending_writes,
                  "metadata": seen.metadata, "new": cfg}))
"""


def _state(saver: Any, thread: str) -> list[tuple[Any, ...]]:
    return [
        (t.config, t.checkpoint, t.metadata, t.parent_config, t.pending_writes)
        for t in saver.list({"configurable": {"thread_id": thread}})
    ]


class PersistenceTests:
    @spec("PER-001")
    @requires(Capability.PERSISTENT)
    def test_new_instance_sees_everything(self, saver_factory: SaverFactory) -> None:
        thread = new_thread_id()
        with saver_factory.open() as first:
            w = ThreadWriter(SaverDriver(first, "sync"), thread)
            w.put({"msgs": ["a"], "n": 1}, metadata={"run_id": "r"})
            cfg = w.put({"msgs": ["a", "b"]})
            first.put_writes(cfg, [("w", {"x": 1}), ("__error__", "boom")], "task")
            ThreadWriter(SaverDriver(first, "sync"), thread, "sub:1").put({"s": (1,)})
            before = _state(first, thread)
        with saver_factory.open() as second:
            assert _state(second, thread) == before
            assert second.get_tuple(checkpoint_config(thread)).config == cfg

    @spec("PER-002")
    @requires(Capability.PERSISTENT)
    def test_another_process_sees_everything(self, saver_factory: SaverFactory) -> None:
        thread = new_thread_id()
        with saver_factory.open() as saver:
            w = ThreadWriter(SaverDriver(saver, "sync"), thread)
            w.put({"msgs": ["hello"], "when": 1})
            cfg = w.put({"msgs": ["hello", "world"]}, metadata={"tag": "parent"})
            saver.put_writes(cfg, [("w", (1, "t"))], "parent-task")
        job = json.dumps({"factory": saver_factory.to_json(), "thread": thread})
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, job], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        child = json.loads(done.stdout.strip().splitlines()[-1])
        assert child["values"] == {"msgs": ["hello", "world"], "when": 1}
        assert child["metadata"]["tag"] == "parent"
        assert child["writes"] == [["parent-task", "w", [1, "t"]]]
        with saver_factory.open() as saver:
            got = saver.get_tuple(checkpoint_config(thread))
            assert got.config == child["new"]
            assert got.checkpoint["channel_values"] == {
                "msgs": ["hello", "world"],
                "when": 1,
                "from": "child",
            }
            assert got.parent_config == cfg
            assert got.pending_writes == [("child-task", "child_write", [1, 2])]

    @spec("CON-001")
    @requires(Capability.THREAD_SAFE)
    def test_concurrent_writers(self, driver: SaverDriver) -> None:
        writers = [ThreadWriter(driver) for _ in range(8)]
        steps = 15
        updates = [{"i": i, "log": list(range(i + 1))} for i in range(steps)]
        if driver.flavor == "sync":
            errors: list[BaseException] = []

            def work(w: ThreadWriter) -> None:
                try:
                    for i, update in enumerate(updates):
                        cfg = w.put(update)
                        driver.saver.put_writes(cfg, [("w", i)], f"task-{i}")
                except BaseException as exc:  # surfaced below with the other threads' errors
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(w,)) for w in writers]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            assert not errors, errors
        else:
            assert driver.loop is not None

            async def work_async(w: ThreadWriter) -> None:
                for i, update in enumerate(updates):
                    args = w.prepare(update)
                    cfg = w.commit(args[1], await driver.saver.aput(*args))
                    await driver.saver.aput_writes(cfg, [("w", i)], f"task-{i}")

            async def run_all() -> None:
                await asyncio.gather(*(work_async(w) for w in writers))

            driver.loop.run(run_all())
        for w in writers:
            listed = driver.list(w.config())
            assert len(listed) == steps
            head = listed[0]
            assert head.checkpoint["channel_values"] == updates[-1]
            assert head.pending_writes == [(f"task-{steps - 1}", "w", steps - 1)]

    @spec("CON-002")
    @requires(Capability.THREAD_SAFE)
    def test_concurrent_writes_to_one_checkpoint(self, driver: SaverDriver) -> None:
        w = ThreadWriter(driver)
        cfg = w.put({"a": 1})
        tasks = [f"task-{i:03d}" for i in range(64)]
        if driver.flavor == "sync":
            threads = [
                threading.Thread(
                    target=driver.saver.put_writes, args=(cfg, [("fan", t), ("__error__", t)], t)
                )
                for t in tasks
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        else:
            assert driver.loop is not None

            async def fan() -> None:
                await asyncio.gather(
                    *(
                        driver.saver.aput_writes(cfg, [("fan", t), ("__error__", t)], t)
                        for t in tasks
                    )
                )

            driver.loop.run(fan())
        got = driver.get_tuple(cfg)
        assert got is not None
        expected: list[tuple[str, str, Any]] = []
        for task in tasks:
            expected += [(task, "__error__", task), (task, "fan", task)]
        assert got.pending_writes == expected
