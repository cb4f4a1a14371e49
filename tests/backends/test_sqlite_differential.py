"""SqliteSaver and AsyncSqliteSaver give the same results as MemorySaver on random operations."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkpointkit.backends.memory import MemorySaver
from checkpointkit.backends.sqlite import AsyncSqliteSaver, SqliteSaver
from checkpointkit.checkpoint import Checkpoint, checkpoint_config

THREADS = ["t1", "t2", "t'3"]
NAMESPACES = ["", "sub|a:1"]
# Skewed choices so operations often hit the same thread, namespace and task (collisions).
HOT_THREADS = st.sampled_from(["t1", "t1", "t1", "t2", "t'3"])
HOT_NAMESPACES = st.sampled_from(["", "", "", "sub|a:1"])
CHANNELS = ["messages", "count", "flag"]
RUNS = ["r1", "r2", "r3"]

_counter = itertools.count()


def _cid(n: int) -> str:
    # Fixed, time-ordered ids so both savers see identical inputs.
    return f"1f000000-0000-6000-8000-{n:012x}"


def _norm(item: Any) -> Any:
    """A comparable form of a saver result."""
    if item is None:
        return None
    if isinstance(item, list):
        return [_norm(x) for x in item]
    return (
        item.config,
        dict(item.checkpoint),
        item.metadata,
        item.parent_config,
        item.pending_writes,
    )


op = st.one_of(
    st.tuples(
        st.just("put"),
        HOT_THREADS,
        HOT_NAMESPACES,
        st.sampled_from(CHANNELS),
        st.integers(0, 3),  # appended items for "messages", else a value
        st.sampled_from(RUNS),
        st.booleans(),  # fork from an older checkpoint instead of the head
    ),
    st.tuples(
        st.just("writes"),
        HOT_THREADS,
        HOT_NAMESPACES,
        st.lists(st.sampled_from(["a", "b", "__error__", "__interrupt__"]), max_size=3),
        st.sampled_from(["task1", "task1", "task2"]),
        st.sampled_from([0, 0, 0, 1, 4]),  # mostly the latest checkpoint: keys collide
    ),
    st.tuples(st.just("get"), st.sampled_from(THREADS), st.sampled_from(NAMESPACES)),
    st.tuples(
        st.just("list"),
        st.sampled_from([None, *THREADS]),
        st.sampled_from([None, *NAMESPACES]),
        st.sampled_from(
            [
                None,
                {"run_id": "r1"},
                {"step": 1},
                {"step": 1.0},
                {"step": True},
                {"missing": None},
                {"tags": ["x"]},
                {"nested": {"k": 1}},
            ]
        ),
        st.sampled_from([None, 0, 1, 3]),
        st.booleans(),  # use before
    ),
    st.tuples(st.just("delete"), st.sampled_from(THREADS)),
    st.tuples(st.just("copy"), st.sampled_from(THREADS), st.sampled_from(THREADS)),
    st.tuples(
        st.just("prune"), st.sampled_from(THREADS), st.sampled_from(["keep_latest", "delete"])
    ),
    st.tuples(st.just("runs"), st.lists(st.sampled_from(RUNS), max_size=2)),
    st.tuples(st.just("threads"), st.sampled_from([None, 1, 2]), st.sampled_from([None, "t1"])),
)


class Model:
    """Applies one operation to a saver and returns a comparable result."""

    def __init__(self) -> None:
        self.heads: dict[tuple[str, str], list[Checkpoint]] = {}
        self.seq = 0

    def apply(self, saver: Any, operation: tuple[Any, ...]) -> Any:
        kind = operation[0]
        try:
            return ("ok", self._apply(saver, operation))
        except (ValueError, TypeError, KeyError) as exc:
            return ("error", type(exc).__name__, str(exc))
        finally:
            if kind == "put":
                self.seq += 1

    def _apply(self, saver: Any, operation: tuple[Any, ...]) -> Any:
        kind = operation[0]
        if kind == "put":
            _, thread, ns, channel, n, run, fork = operation
            latest = saver.get_tuple(checkpoint_config(thread, ns))
            parent = latest
            if fork and latest is not None and latest.parent_config is not None:
                parent = saver.get_tuple(latest.parent_config)
            values = dict(parent.checkpoint["channel_values"]) if parent else {}
            versions = dict(parent.checkpoint["channel_versions"]) if parent else {}
            if channel == "messages":
                values[channel] = [
                    *values.get(channel, []),
                    *[f"m{self.seq}-{i}" for i in range(n)],
                ]
            else:
                values[channel] = n
            # Deterministic versions (both savers must see the same input).
            current = versions.get(channel)
            number = int(str(current).split(".")[0]) + 1 if current is not None else 1
            version = f"{number:032d}.{self.seq:016x}"
            versions[channel] = version
            checkpoint = Checkpoint(
                v=4,
                id=_cid(self.seq),
                ts="2026-01-01T00:00:00+00:00",
                channel_values=values,
                channel_versions=versions,
                versions_seen={},
                updated_channels=[channel],
            )
            config = checkpoint_config(
                thread, ns, parent.config["configurable"]["checkpoint_id"] if parent else None
            )
            meta = {"source": "loop", "step": self.seq % 3, "run_id": run, "tags": ["x"]}
            if self.seq % 2:
                meta["nested"] = {"k": 1}
            return saver.put(config, checkpoint, meta, {channel: version})
        if kind == "writes":
            _, thread, ns, channels, task, back = operation
            found = list(saver.list(checkpoint_config(thread, ns)))
            if not found:
                return None
            target = found[min(back, len(found) - 1)].config
            saver.put_writes(target, [(c, f"{c}{self.seq}") for c in channels], task)
            self.seq += 1
            return None
        if kind == "get":
            return _norm(saver.get_tuple(checkpoint_config(operation[1], operation[2])))
        if kind == "list":
            _, thread, ns, flt, limit, use_before = operation
            config = None
            if thread is not None:
                config = {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
            before = checkpoint_config("x", "", _cid(max(self.seq - 3, 0))) if use_before else None
            return _norm(list(saver.list(config, filter=flt, before=before, limit=limit)))
        if kind == "delete":
            return saver.delete_thread(operation[1])
        if kind == "copy":
            return saver.copy_thread(operation[1], operation[2])
        if kind == "prune":
            return saver.prune([operation[1]], strategy=operation[2])
        if kind == "runs":
            return saver.delete_for_runs(operation[1])
        if kind == "threads":
            return saver.list_threads(limit=operation[1], after=operation[2])
        raise AssertionError(kind)


def _full_state(saver: Any) -> Any:
    return _norm(list(saver.list(None)))


@pytest.fixture
def db_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("diff")


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=1, max_size=40))
def test_sqlite_matches_memory(db_dir: Path, ops: list[tuple[Any, ...]]) -> None:
    path = db_dir / f"diff-{next(_counter)}.db"
    # A small snapshot interval exercises delta chains and their snapshots.
    with SqliteSaver.from_conn_string(path, snapshot_every=3, synchronous="OFF") as sqlite:
        memory = MemorySaver()
        model_m, model_s = Model(), Model()
        for operation in ops:
            expected = model_m.apply(memory, operation)
            got = model_s.apply(sqlite, operation)
            assert got == expected, operation
        assert _full_state(sqlite) == _full_state(memory)
    # A fresh instance (empty delta cache) reads the same.
    with SqliteSaver.from_conn_string(path) as again:
        assert _full_state(again) == _full_state(memory)


class _AsyncFacade:
    """Runs an AsyncSqliteSaver's coroutines on a private loop, for the model."""

    def __init__(self, saver: AsyncSqliteSaver, loop: asyncio.AbstractEventLoop) -> None:
        self.saver, self.loop = saver, loop

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def put(self, *a: Any) -> Any:
        return self._run(self.saver.aput(*a))

    def put_writes(self, *a: Any) -> Any:
        return self._run(self.saver.aput_writes(*a))

    def get_tuple(self, *a: Any) -> Any:
        return self._run(self.saver.aget_tuple(*a))

    def list(self, *a: Any, **k: Any) -> Any:
        async def collect() -> list[Any]:
            return [x async for x in self.saver.alist(*a, **k)]

        return self._run(collect())

    def delete_thread(self, *a: Any) -> Any:
        return self._run(self.saver.adelete_thread(*a))

    def copy_thread(self, *a: Any) -> Any:
        return self._run(self.saver.acopy_thread(*a))

    def prune(self, *a: Any, **k: Any) -> Any:
        return self._run(self.saver.aprune(*a, **k))

    def delete_for_runs(self, *a: Any) -> Any:
        return self._run(self.saver.adelete_for_runs(*a))

    def list_threads(self, **k: Any) -> Any:
        return self._run(self.saver.alist_threads(**k))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=1, max_size=30))
def test_async_sqlite_matches_memory(db_dir: Path, ops: list[tuple[Any, ...]]) -> None:
    path = db_dir / f"adiff-{next(_counter)}.db"
    loop = asyncio.new_event_loop()
    saver = AsyncSqliteSaver(path, snapshot_every=3, synchronous="OFF")
    try:
        facade = _AsyncFacade(saver, loop)
        memory = MemorySaver()
        model_m, model_s = Model(), Model()
        for operation in ops:
            assert model_s.apply(facade, operation) == model_m.apply(memory, operation), operation
        assert _full_state(facade) == _full_state(memory)
    finally:
        loop.run_until_complete(saver.aclose())
        loop.close()
