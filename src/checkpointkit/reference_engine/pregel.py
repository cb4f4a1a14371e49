"""The Pregel loop: super-steps, checkpoints, pending writes, resume, replay and the state API.

All saver I/O is written once, as a generator that yields ``_Call`` requests; a sync driver
and an async driver (``_drive_sync`` / ``_drive_async``) carry them out with the saver's sync
or async methods and run the tasks of a super-step concurrently.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import queue
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, NamedTuple

from checkpointkit.checkpoint import Checkpoint, copy_checkpoint
from checkpointkit.ids import new_checkpoint_id
from checkpointkit.reference_engine._context import CURRENT, NullResume, TaskContext
from checkpointkit.reference_engine.channels import MISSING, Channel
from checkpointkit.reference_engine.constants import (
    COPY,
    END,
    ERROR,
    INPUT,
    INTERRUPT,
    NO_WRITES,
    NS_END,
    NS_SEP,
    NULL_TASK_ID,
    PULL,
    PUSH,
    RESUME,
    SPECIAL_CHANNELS,
    START,
    TASKS,
)
from checkpointkit.reference_engine.errors import (
    EmptyInputError,
    GraphInterrupt,
    GraphRecursionError,
    InvalidUpdateError,
)
from checkpointkit.reference_engine.graph import NodeSpec, StateGraph
from checkpointkit.reference_engine.types import (
    Command,
    Interrupt,
    PregelTask,
    Send,
    StateSnapshot,
    StateUpdate,
)

__all__ = ["CompiledStateGraph"]

Gen = Generator[Any, Any, Any]
_DURABILITY = ("sync", "async", "exit")
_STREAM_MODES = ("values", "updates", "checkpoints", "tasks")
_MULTIPLE_INTERRUPTS = (
    "When there are multiple pending interrupts, you must specify the interrupt id when "
    "resuming. Docs: https://docs.langchain.com/oss/python/langgraph/add-human-in-the-loop"
    "#resume-multiple-interrupts-with-one-invocation."
)
_CHECKPOINTER_KEYS = (
    "Checkpointer requires one or more of the following 'configurable' keys: "
    "thread_id, checkpoint_ns, checkpoint_id"
)


# -- driver protocol ----------------------------------------------------------------------
class _Call(NamedTuple):
    """Ask the driver to call a saver method (``aput`` etc. under the async driver)."""

    saver: Any
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class _Emit(NamedTuple):
    mode: str
    payload: Any


class _Start(NamedTuple):
    """Start running these tasks; their outcomes come back one per ``_NEXT``, in finish order."""

    run: _Run
    tasks: list[_Task]


_NEXT = object()
_CANCEL = object()


def _call(saver: Any, method: str, *args: Any, **kwargs: Any) -> _Call:
    return _Call(saver, method, args, kwargs)


class _Task:
    """One task of a super-step (PULL: a triggered node; PUSH: a ``Send``)."""

    __slots__ = ("done", "id", "input", "name", "ns", "path", "resume", "triggers", "writes")

    def __init__(
        self,
        tid: str,
        name: str,
        path: tuple[Any, ...],
        triggers: tuple[str, ...],
        ns: str,
        arg: Any,
    ) -> None:
        self.id = tid
        self.name = name
        self.path = path
        self.triggers = triggers
        self.ns = ns
        self.input = arg
        self.writes: list[tuple[str, Any]] = []
        self.done = False
        self.resume: list[Any] = []


class _Writes(NamedTuple):
    """Writes to apply as if a task produced them (input, Command, update_state)."""

    path: tuple[Any, ...]
    name: str
    writes: list[tuple[str, Any]]
    triggers: tuple[str, ...]


def _task_id(*parts: str) -> str:
    """Deterministic task id: a hash of checkpoint id, namespace, step, node and triggers/path."""
    h = hashlib.blake2b("\x00".join(parts).encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _task_ns(ns: str, name: str, tid: str) -> str:
    return f"{ns}{NS_SEP}{name}{NS_END}{tid}" if ns else f"{name}{NS_END}{tid}"


def _strip_task_ids(ns: str) -> str:
    return NS_SEP.join(part.split(NS_END)[0] for part in ns.split(NS_SEP))


def _path_key(path: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((0, p) if isinstance(p, str) else (1, p) for p in path)


def _is_resume_map(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(
            isinstance(k, str) and len(k) == 32 and all(c in "0123456789abcdef" for c in k)
            for k in value
        )
    )


def _saver_next_version(saver: Any) -> Callable[[Any], Any]:
    """The saver's ``get_next_version`` called as LangGraph calls it: ``(current, None)``
    (LangGraph's savers declare ``channel`` without a default)."""
    method = saver.get_next_version
    return lambda current: method(current, None)


def _int_next_version(current: Any) -> int:
    if current is None:
        return 1
    return int(str(current).split(".")[0]) + 1


def _newer(version: Any, than: Any) -> bool:
    return bool(version > than)


def _new_versions(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in current.items() if k not in previous or _newer(v, previous[k])}


def _patch_checkpoint_map(config: dict[str, Any] | None, metadata: Any) -> dict[str, Any] | None:
    if config is None:
        return None
    parents = (metadata or {}).get("parents") or {}
    if not parents:
        return config
    conf = config["configurable"]
    return {
        **config,
        "configurable": {
            **conf,
            "checkpoint_map": {**parents, conf.get("checkpoint_ns", ""): conf.get("checkpoint_id")},
        },
    }


def _error_repr(exc: BaseException) -> str:
    return repr(exc)


class CompiledStateGraph:
    """A compiled :class:`StateGraph`: run it and read or change its persisted state."""

    def __init__(
        self,
        *,
        builder: StateGraph,
        channels: dict[str, Channel],
        nodes: dict[str, NodeSpec],
        checkpointer: Any,
        store: Any,
        interrupt_before: Sequence[str] | str | None,
        interrupt_after: Sequence[str] | str | None,
        name: str,
    ) -> None:
        self.builder = builder
        self.channels = channels
        self.nodes = nodes
        self.state_keys: tuple[str, ...] = tuple(builder.state_channels)
        self._state_key_set = frozenset(self.state_keys)
        self.checkpointer = checkpointer
        self.store = store
        self.interrupt_before_nodes = interrupt_before or ()
        self.interrupt_after_nodes = interrupt_after or ()
        self.name = name

    # -- channels and writes ------------------------------------------------------------
    def restore_channels(self, checkpoint: Checkpoint) -> dict[str, Channel]:
        values = checkpoint["channel_values"]
        return {k: proto.restore(values.get(k, MISSING)) for k, proto in self.channels.items()}

    def read_state(self, channels: dict[str, Channel]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in self.state_keys:
            ch = channels[k]
            if ch.is_available():
                out[k] = ch.get()
        return out

    def _fresh_state(
        self, channels: dict[str, Channel], writes: list[tuple[str, Any]]
    ) -> dict[str, Any]:
        """The state as this task sees it after its own writes (what conditional edges read)."""
        grouped: dict[str, list[Any]] = {}
        for chan, value in writes:
            if chan in self._state_key_set:
                grouped.setdefault(chan, []).append(value)
        out: dict[str, Any] = {}
        for k in self.state_keys:
            ch = channels[k]
            if k in grouped:
                ch = ch.copy()
                ch.update(grouped[k])
            if ch.is_available():
                out[k] = ch.get()
        return out

    def node_writes(
        self, name: str, output: Any, channels: dict[str, Channel]
    ) -> list[tuple[str, Any]]:
        """The writes of node ``name`` returning ``output``: state keys, then routing."""
        writes: list[tuple[str, Any]] = []
        update = output
        goto: Any = ()
        if isinstance(output, Command):
            if output.graph == Command.PARENT:
                raise InvalidUpdateError("Command(graph=Command.PARENT) is not supported")
            update, goto = output.update, output.goto
        if update is None:
            pass
        elif isinstance(update, dict):
            for k in self.state_keys:
                if k in update:
                    writes.append((k, update[k]))
        elif isinstance(update, list | tuple) and all(
            isinstance(w, tuple) and len(w) == 2 for w in update
        ):
            writes.extend((k, v) for k, v in update if k in self._state_key_set)
        else:
            raise InvalidUpdateError(f"Expected dict, got {update!r}")
        self._route(goto, None, writes)
        node = self.nodes[name]
        for target in node.edges:
            if target != END:
                writes.append((f"branch:to:{target}", None))
        for chan in node.joins:
            writes.append((chan, name))
        for branch in node.branches:
            result = branch.path(self._fresh_state(channels, writes))
            self._route(result, branch.path_map, writes)
        return writes

    def _route(
        self, dest: Any, path_map: dict[Any, str] | None, writes: list[tuple[str, Any]]
    ) -> None:
        items = dest if isinstance(dest, list | tuple) else [dest]
        for item in items:
            if isinstance(item, Send):
                if item.node not in self.nodes:
                    raise InvalidUpdateError(f"Invalid node name {item.node} in Send")
                writes.append((TASKS, item))
                continue
            target = path_map[item] if path_map is not None else item
            if target == END or target is None:
                continue
            if target not in self.nodes or target == START:
                raise InvalidUpdateError(f"Invalid destination node {target!r}")
            writes.append((f"branch:to:{target}", None))

    def apply_writes(
        self,
        checkpoint: Checkpoint,
        channels: dict[str, Channel],
        tasks: Sequence[_Task | _Writes],
        next_version: Any,
    ) -> set[str]:
        """Apply a super-step's writes in task-path order; bump versions; record what was seen."""
        ordered = sorted(tasks, key=lambda t: _path_key(t.path))
        versions = checkpoint["channel_versions"]
        seen_all = checkpoint["versions_seen"]
        for task in ordered:
            seen = seen_all.setdefault(task.name, {})
            for chan in task.triggers:
                if chan in versions:
                    seen[chan] = versions[chan]
        new_version = (
            next_version(max(versions.values()) if versions else None) if next_version else None
        )
        bump_step = any(t.triggers for t in ordered)
        for chan in {c for t in ordered for c in t.triggers}:
            ch = channels.get(chan)
            if ch is not None and ch.consume() and new_version is not None:
                versions[chan] = new_version
        grouped: dict[str, list[Any]] = {}
        for task in ordered:
            for chan, value in task.writes:
                if chan in SPECIAL_CHANNELS or chan not in channels:
                    continue
                grouped.setdefault(chan, []).append(value)
        updated: set[str] = set()
        for chan, values in grouped.items():
            ch = channels[chan]
            if ch.update(values):
                if new_version is not None:
                    versions[chan] = new_version
                if ch.is_available():
                    updated.add(chan)
        if bump_step:
            for chan, ch in channels.items():
                if chan not in grouped and ch.update(()) and new_version is not None:
                    versions[chan] = new_version
        return updated

    def prepare_tasks(
        self, checkpoint: Checkpoint, channels: dict[str, Channel], step: int, ns: str
    ) -> list[_Task]:
        """The tasks a checkpoint schedules: Sends first, then triggered nodes in declaration order."""
        tasks: list[_Task] = []
        cid = checkpoint["id"]
        sstep = str(step)
        topic = channels[TASKS]
        if topic.is_available():
            for idx, send in enumerate(topic.get()):
                if not isinstance(send, Send) or send.node not in self.nodes:
                    continue
                tid = _task_id(cid, ns, sstep, send.node, PUSH, str(idx))
                tasks.append(
                    _Task(
                        tid,
                        send.node,
                        (PUSH, idx, False),
                        (PUSH,),
                        _task_ns(ns, send.node, tid),
                        send.arg,
                    )
                )
        versions = checkpoint["channel_versions"]
        seen_all = checkpoint["versions_seen"]
        for name, node in self.nodes.items():
            seen = seen_all.get(name)
            fired: list[str] = []
            for chan in node.triggers:
                version = versions.get(chan)
                if version is None or not channels[chan].is_available():
                    continue
                if seen is None or chan not in seen or _newer(version, seen[chan]):
                    fired.append(chan)
            if fired:
                triggers = tuple(sorted(fired))
                tid = _task_id(cid, ns, sstep, name, PULL, ",".join(triggers))
                tasks.append(
                    _Task(tid, name, (PULL, name), triggers, _task_ns(ns, name, tid), MISSING)
                )
        return tasks

    def task_input(self, task: _Task, channels: dict[str, Channel]) -> Any:
        if task.input is not MISSING:
            return task.input
        if task.name == START:
            return channels[START].get()
        return self.read_state(channels)

    # -- running --------------------------------------------------------------------------
    def _new_run(
        self,
        input: Any,
        config: dict[str, Any] | None,
        *,
        stream_modes: Sequence[str],
        durability: str | None,
        interrupt_before: Sequence[str] | str | None,
        interrupt_after: Sequence[str] | str | None,
        context: Any,
    ) -> _Run:
        if durability is not None and durability not in _DURABILITY:
            raise ValueError(f"durability must be one of {_DURABILITY}, got {durability!r}")
        for mode in stream_modes:
            if mode not in _STREAM_MODES:
                raise ValueError(f"unsupported stream_mode {mode!r}; supported: {_STREAM_MODES}")
        config = dict(config or {})
        conf = dict(config.get("configurable") or {})
        parent = CURRENT.get()
        run = _Run(self, stream_modes)
        run.interrupt_before = (
            interrupt_before if interrupt_before is not None else self.interrupt_before_nodes
        )
        run.interrupt_after = (
            interrupt_after if interrupt_after is not None else self.interrupt_after_nodes
        )
        run.context = context
        if parent is not None:
            prun = parent.run
            run.parent = parent
            run.nested = True
            run.thread_id = prun.thread_id
            run.user_conf = prun.user_conf
            run.user_meta = prun.user_meta
            run.durability = prun.durability if durability is None else durability
            run.recursion_limit = int(config.get("recursion_limit", prun.recursion_limit))
            run.store = self.store if self.store is not None else prun.store
            run.context = context if context is not None else prun.context
            run.resume_map = prun.resume_map
            run.parent_resuming = prun.resuming
            if self.checkpointer is False:
                run.saver = None
            elif self.checkpointer is None or self.checkpointer is True:
                run.saver = prun.saver
            else:
                run.saver = self.checkpointer
            base = (
                parent.task.ns if self.checkpointer is not True else _strip_task_ids(parent.task.ns)
            )
            calls = parent.subgraph_calls
            parent.subgraph_calls += 1
            run.ns = base if calls == 0 else f"{base}{NS_SEP}{calls}"
            run.checkpoint_map = {**prun.checkpoint_map, prun.ns: prun.checkpoint["id"]}
            return run
        if self.checkpointer is True:
            raise RuntimeError("checkpointer=True cannot be used for root graphs.")
        run.saver = self.checkpointer if self.checkpointer not in (None, False) else None
        run.durability = durability or "async"
        run.recursion_limit = int(config.get("recursion_limit", 25))
        run.store = self.store
        run.user_meta = dict(config.get("metadata") or {})
        if run.saver is not None:
            if not conf:
                raise ValueError(_CHECKPOINTER_KEYS)
            run.thread_id = str(conf["thread_id"])
            run.ns = str(conf.get("checkpoint_ns") or "")
            run.addressed_id = conf.get("checkpoint_id")
        else:
            run.thread_id = str(conf["thread_id"]) if "thread_id" in conf else None
        run.user_conf = {
            k: v
            for k, v in conf.items()
            if k not in ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")
        }
        return run

    def stream(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "updates",
        durability: str | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        context: Any = None,
        subgraphs: bool = False,
    ) -> Iterator[Any]:
        """Run the graph, yielding events of ``stream_mode`` (a list of modes yields ``(mode, event)``)."""
        modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)
        run = self._new_run(
            input,
            config,
            stream_modes=modes,
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            context=context,
        )
        single = isinstance(stream_mode, str)
        lease = _acquire_run(run)
        try:
            for mode, payload in _drive_sync(run.main(input)):
                if mode == "__result__":
                    run.finish(payload)
                    return
                yield payload if single else (mode, payload)
        finally:
            if lease is not None:
                lease.release()

    def invoke(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        stream_mode: str = "values",
        durability: str | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        context: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Run the graph to a stop; return the final state (plus ``__interrupt__`` when paused)."""
        modes = [] if stream_mode == "values" else [stream_mode]
        run = self._new_run(
            input,
            config,
            stream_modes=modes,
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            context=context,
        )
        chunks: list[Any] = []
        lease = _acquire_run(run)
        try:
            for mode, payload in _drive_sync(run.main(input)):
                if mode == "__result__":
                    out = run.finish(payload)
                    return out if stream_mode == "values" else chunks
                chunks.append(payload)
        finally:
            if lease is not None:
                lease.release()
        raise AssertionError("the run ended without a result")  # pragma: no cover

    async def astream(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "updates",
        durability: str | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        context: Any = None,
        subgraphs: bool = False,
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`: async nodes are awaited, sync nodes run in worker threads."""
        modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)
        run = self._new_run(
            input,
            config,
            stream_modes=modes,
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            context=context,
        )
        run.is_async = True
        single = isinstance(stream_mode, str)
        lease = await _aacquire_run(run)
        try:
            async for mode, payload in _drive_async(run.main(input)):
                if mode == "__result__":
                    run.finish(payload)
                    return
                yield payload if single else (mode, payload)
        finally:
            if lease is not None:
                await lease.arelease()

    async def ainvoke(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        stream_mode: str = "values",
        durability: str | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        context: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Async :meth:`invoke`."""
        modes = [] if stream_mode == "values" else [stream_mode]
        run = self._new_run(
            input,
            config,
            stream_modes=modes,
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            context=context,
        )
        run.is_async = True
        chunks: list[Any] = []
        lease = await _aacquire_run(run)
        try:
            async for mode, payload in _drive_async(run.main(input)):
                if mode == "__result__":
                    out = run.finish(payload)
                    return out if stream_mode == "values" else chunks
                chunks.append(payload)
        finally:
            if lease is not None:
                await lease.arelease()
        raise AssertionError("the run ended without a result")  # pragma: no cover

    # -- state API ------------------------------------------------------------------------
    def _saver_for(self, config: dict[str, Any]) -> Any:
        config["configurable"]
        saver = self.checkpointer if self.checkpointer not in (None, False, True) else None
        if saver is None:
            parent = CURRENT.get()
            saver = parent.run.saver if parent is not None else None
        if saver is None:
            raise ValueError("No checkpointer set")
        return saver

    def _subgraph_for(self, ns: str) -> CompiledStateGraph:
        """The compiled graph that owns checkpoint namespace ``ns`` (task ids stripped)."""
        graph: CompiledStateGraph = self
        for part in _strip_task_ids(ns).split(NS_SEP):
            node = graph.nodes.get(part)
            sub = node.subgraph if node is not None else None
            if sub is None:
                if part.isdigit():
                    continue  # "|1" suffix of a second call in the same task
                raise ValueError(f"Subgraph {_strip_task_ids(ns)} not found")
            graph = sub
        return graph

    def get_state(self, config: dict[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        """The state at the thread's latest checkpoint (live view) or at ``checkpoint_id`` (record)."""
        saver = self._saver_for(config)
        return _run_sync(self._get_state(saver, config, subgraphs))  # type: ignore[no-any-return]

    async def aget_state(self, config: dict[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        saver = self._saver_for(config)
        return await _run_async(self._get_state(saver, config, subgraphs))  # type: ignore[no-any-return]

    def get_state_history(
        self,
        config: dict[str, Any],
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """Every checkpoint of the thread in this namespace, newest first (all branches)."""
        saver = self._saver_for(config)
        yield from _run_sync(self._history(saver, config, filter, before, limit))

    async def aget_state_history(
        self,
        config: dict[str, Any],
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        saver = self._saver_for(config)
        for snap in await _run_async(self._history(saver, config, filter, before, limit)):
            yield snap

    def update_state(
        self,
        config: dict[str, Any],
        values: Any,
        as_node: str | None = None,
        task_id: str | None = None,
    ) -> dict[str, Any]:
        """Apply ``values`` as if ``as_node`` had returned them; writes one checkpoint."""
        return self.bulk_update_state(config, [[StateUpdate(values, as_node, task_id)]])

    async def aupdate_state(
        self,
        config: dict[str, Any],
        values: Any,
        as_node: str | None = None,
        task_id: str | None = None,
    ) -> dict[str, Any]:
        return await self.abulk_update_state(config, [[StateUpdate(values, as_node, task_id)]])

    def bulk_update_state(
        self, config: dict[str, Any], supersteps: Sequence[Sequence[Any]]
    ) -> dict[str, Any]:
        """Apply several updates; each inner list is one super-step and one checkpoint."""
        saver = self._saver_for(config)
        return _run_sync(self._bulk_update(saver, config, supersteps))  # type: ignore[no-any-return]

    async def abulk_update_state(
        self, config: dict[str, Any], supersteps: Sequence[Sequence[Any]]
    ) -> dict[str, Any]:
        saver = self._saver_for(config)
        return await _run_async(self._bulk_update(saver, config, supersteps))  # type: ignore[no-any-return]

    def _read_config(self, config: dict[str, Any]) -> tuple[str, str, str | None]:
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        return thread_id, str(conf.get("checkpoint_ns") or ""), conf.get("checkpoint_id")

    def _get_state(self, saver: Any, config: dict[str, Any], subgraphs: bool) -> Gen:
        thread_id, ns, cid = self._read_config(config)
        if ns:
            graph = self._subgraph_for(ns)
            if graph is not self:
                return (
                    yield from graph._get_state_in(saver, config, thread_id, ns, cid, subgraphs)
                )
        return (yield from self._get_state_in(saver, config, thread_id, ns, cid, subgraphs))

    def _get_state_in(
        self,
        saver: Any,
        config: dict[str, Any],
        thread_id: str,
        ns: str,
        cid: str | None,
        subgraphs: bool,
    ) -> Gen:
        conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
        if cid:
            conf["checkpoint_id"] = cid
        saved = yield _call(saver, "get_tuple", {"configurable": conf})
        if saved is None:
            return StateSnapshot({}, (), config, None, None, None, (), ())
        return (
            yield from self._snapshot(saver, saved, ns, apply_pending=not cid, subgraphs=subgraphs)
        )

    def _history(
        self,
        saver: Any,
        config: dict[str, Any],
        filter: dict[str, Any] | None,
        before: dict[str, Any] | None,
        limit: int | None,
    ) -> Gen:
        thread_id, ns, cid = self._read_config(config)
        graph = self._subgraph_for(ns) if ns else self
        conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
        if cid:
            conf["checkpoint_id"] = cid
        rows = yield _call(
            saver, "list", {"configurable": conf}, filter=filter, before=before, limit=limit
        )
        out = []
        for saved in rows:
            out.append(
                (yield from graph._snapshot(saver, saved, ns, apply_pending=False, subgraphs=False))
            )
        return out

    def _snapshot(
        self, saver: Any, saved: Any, ns: str, *, apply_pending: bool, subgraphs: bool
    ) -> Gen:
        checkpoint = copy_checkpoint(saved.checkpoint)
        channels = self.restore_channels(checkpoint)
        metadata = saved.metadata or {}
        pending = [(str(t), c, v) for t, c, v in saved.pending_writes or []]
        null_writes = [
            (c, v) for t, c, v in pending if t == NULL_TASK_ID and c not in SPECIAL_CHANNELS
        ]
        if null_writes and apply_pending:
            self.apply_writes(checkpoint, channels, [_Writes((), INPUT, null_writes, ())], None)
        step = int(metadata.get("step", -1)) + 1
        tasks = self.prepare_tasks(checkpoint, channels, step, ns)
        by_id = {t.id: t for t in tasks}
        errors: dict[str, Any] = {}
        interrupts: dict[str, list[Interrupt]] = {}
        results: dict[str, dict[str, Any]] = {}
        for tid, chan, value in pending:
            if tid not in by_id:
                continue
            if chan == ERROR:
                errors[tid] = value
            elif chan == INTERRUPT:
                interrupts.setdefault(tid, []).extend(value)
            elif chan not in SPECIAL_CHANNELS:
                by_id[tid].writes.append((chan, value))
                if chan in self._state_key_set:
                    results.setdefault(tid, {})[chan] = value
        finished = {t.id for t in tasks if t.writes}
        if apply_pending and finished:
            self.apply_writes(checkpoint, channels, [t for t in tasks if t.writes], None)
        thread_id = saved.config["configurable"]["thread_id"]
        out_tasks = []
        for t in tasks:
            state: Any = None
            node = self.nodes.get(t.name)
            sub = node.subgraph if node is not None else None
            if sub is not None and sub.checkpointer is not False:
                sub_ns = _strip_task_ids(t.ns) if sub.checkpointer is True else t.ns
                if subgraphs:
                    state = yield from sub._get_state_in(
                        saver,
                        {"configurable": {"thread_id": thread_id, "checkpoint_ns": sub_ns}},
                        thread_id,
                        sub_ns,
                        None,
                        True,
                    )
                else:
                    state = {"configurable": {"thread_id": thread_id, "checkpoint_ns": sub_ns}}
            shown_interrupts = (
                () if apply_pending and t.id in finished else tuple(interrupts.get(t.id, ()))
            )
            out_tasks.append(
                PregelTask(
                    t.id,
                    t.name,
                    t.path,
                    errors.get(t.id),
                    shown_interrupts,
                    state,
                    results.get(t.id),
                )
            )
        nxt = tuple(t.name for t in tasks if not (apply_pending and t.id in finished))
        return StateSnapshot(
            values=self.read_state(channels),
            next=nxt,
            config=_patch_checkpoint_map(saved.config, metadata) or saved.config,
            metadata=metadata,
            created_at=checkpoint["ts"],
            parent_config=_patch_checkpoint_map(saved.parent_config, metadata),
            tasks=tuple(out_tasks),
            interrupts=tuple(i for t in out_tasks for i in t.interrupts),
        )

    def _bulk_update(
        self, saver: Any, config: dict[str, Any], supersteps: Sequence[Sequence[Any]]
    ) -> Gen:
        if not supersteps:
            raise InvalidUpdateError("No supersteps provided")
        thread_id, ns, _ = self._read_config(config)
        graph = self._subgraph_for(ns) if ns else self
        current = config
        for updates in supersteps:
            current = yield from graph._update_one(saver, current, thread_id, ns, list(updates))
        return current

    def _update_one(
        self, saver: Any, config: dict[str, Any], thread_id: str, ns: str, updates: list[Any]
    ) -> Gen:
        if not updates:
            raise InvalidUpdateError("No updates provided")
        updates = [StateUpdate(*u) if not isinstance(u, StateUpdate) else u for u in updates]
        conf_in = config["configurable"]
        cid = conf_in.get("checkpoint_id")
        conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
        if cid:
            conf["checkpoint_id"] = cid
        saved = yield _call(saver, "get_tuple", {"configurable": conf})
        user_conf = {
            k: v
            for k, v in conf_in.items()
            if k not in ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")
        }
        put_conf: dict[str, Any] = {**user_conf, "thread_id": thread_id, "checkpoint_ns": ns}
        if saved is not None:
            checkpoint = copy_checkpoint(saved.checkpoint)
            previous = dict(saved.checkpoint["channel_versions"])
            step = int(saved.metadata.get("step", -1))
            parents = dict(saved.metadata.get("parents") or {})
            put_conf["checkpoint_id"] = saved.checkpoint["id"]
            pending = [(str(t), c, v) for t, c, v in saved.pending_writes or []]
        else:
            from checkpointkit.checkpoint import empty_checkpoint

            checkpoint = empty_checkpoint()
            previous = {}
            step = -1
            parents = {}
            if cid:
                put_conf["checkpoint_id"] = cid  # parented on the unknown id, as LangGraph does
            pending = []
        put_config = {"configurable": put_conf, "metadata": dict(config.get("metadata") or {})}
        channels = self.restore_channels(checkpoint)
        next_version = _saver_next_version(saver)
        first = updates[0]

        def put(source: str, new_step: int, updated: set[str]) -> _Call:
            nonlocal checkpoint
            checkpoint = _create_checkpoint(self, checkpoint, channels, updated)
            versions = _new_versions(previous, checkpoint["channel_versions"])
            meta = {"source": source, "step": new_step, "parents": parents}
            return _call(saver, "put", put_config, copy_checkpoint(checkpoint), meta, versions)

        def finish(next_config: dict[str, Any]) -> dict[str, Any]:
            return (
                _patch_checkpoint_map(next_config, saved.metadata if saved else None) or next_config
            )

        def run_pending_tasks() -> list[_Task]:
            tasks = self.prepare_tasks(checkpoint, channels, step + 1, ns)
            null_writes = [
                (c, v) for t, c, v in pending if t == NULL_TASK_ID and c not in SPECIAL_CHANNELS
            ]
            if null_writes:
                self.apply_writes(
                    checkpoint, channels, [_Writes((), INPUT, null_writes, ())], next_version
                )
            by_id = {t.id: t for t in tasks}
            for tid, chan, value in pending:
                if tid in by_id and chan not in SPECIAL_CHANNELS:
                    by_id[tid].writes.append((chan, value))
            return tasks

        if first.values is None and first.as_node == END:
            if len(updates) > 1:
                raise InvalidUpdateError("Cannot apply multiple updates when clearing state")
            updated: set[str] = set()
            if saved is not None:
                tasks = run_pending_tasks()
                updated = self.apply_writes(checkpoint, channels, tasks, next_version)
            return finish((yield put("update", step + 1, updated)))
        if first.as_node == INPUT:
            if len(updates) > 1:
                raise InvalidUpdateError("Cannot apply multiple updates when updating as input")
            if first.values is None:
                raise InvalidUpdateError(f"Received no input writes for {START}")
            updated = self.apply_writes(
                checkpoint,
                channels,
                [_Writes((), INPUT, [(START, first.values)], ())],
                next_version,
            )
            next_step = step + 1 if saved is not None else -1
            return finish((yield put("input", next_step, updated)))
        if first.values is None and first.as_node == COPY:
            if len(updates) > 1:
                raise InvalidUpdateError("Cannot copy checkpoint with multiple updates")
            if saved is None:
                raise InvalidUpdateError("Cannot copy a non-existent checkpoint")
            copy = copy_checkpoint(saved.checkpoint)
            copy["id"] = new_checkpoint_id()
            copy["ts"] = datetime.now(timezone.utc).isoformat()
            parent_conf = dict(put_conf)
            if saved.parent_config is not None:
                parent_conf["checkpoint_id"] = saved.parent_config["configurable"]["checkpoint_id"]
            else:
                parent_conf.pop("checkpoint_id", None)
            meta = {"source": "fork", "step": step + 1, "parents": parents}
            next_config = yield _call(
                saver,
                "put",
                {"configurable": parent_conf, "metadata": put_config["metadata"]},
                copy,
                meta,
                {},
            )
            return finish(next_config)
        if not cid and saved is not None and pending:
            finished = [t for t in run_pending_tasks() if t.writes]
            if finished:
                self.apply_writes(checkpoint, channels, finished, next_version)
        writes_tasks: list[_Writes] = []
        if len(updates) == 1:
            as_node = (
                first.as_node if first.as_node is not None else self._infer_as_node(checkpoint)
            )
            pairs = [(as_node, first.values)]
        else:
            pairs = []
            for u in updates:
                if u.as_node is None:
                    raise InvalidUpdateError("as_node is required when applying multiple updates")
                pairs.append((u.as_node, u.values))
        for as_node, values in pairs:
            if as_node not in self.nodes:
                raise InvalidUpdateError(f"Node {as_node} does not exist")
            writes = self.node_writes(as_node, values, channels)
            writes_tasks.append(_Writes((), as_node, writes, (INTERRUPT,)))
        updated = self.apply_writes(checkpoint, channels, writes_tasks, next_version)
        return finish((yield put("update", step + 1, updated)))

    def _infer_as_node(self, checkpoint: Checkpoint) -> str:
        seen_all = checkpoint["versions_seen"]
        if not any(v for seen in seen_all.values() for v in seen.values()):
            return START
        last = sorted(
            (v, n) for n, seen in seen_all.items() if n in self.nodes for v in seen.values()
        )
        if len(last) == 1 or (len(last) > 1 and last[-1][0] != last[-2][0]):
            return last[-1][1]
        raise InvalidUpdateError("Ambiguous update, specify as_node")


def _create_checkpoint(
    graph: CompiledStateGraph,
    checkpoint: Checkpoint,
    channels: dict[str, Channel],
    updated: Iterable[str] | None = None,
) -> Checkpoint:
    values: dict[str, Any] = {}
    for k in checkpoint["channel_versions"]:
        ch = channels.get(k)
        if ch is None:
            continue
        v = ch.checkpoint()
        if v is not MISSING:
            values[k] = v
    return Checkpoint(
        v=4,
        id=new_checkpoint_id(),
        ts=datetime.now(timezone.utc).isoformat(),
        channel_values=values,
        channel_versions=dict(checkpoint["channel_versions"]),
        versions_seen={k: dict(v) for k, v in checkpoint["versions_seen"].items()},
        updated_channels=sorted(updated)
        if updated is not None
        else checkpoint.get("updated_channels"),
    )


def _acquire_run(run: _Run) -> Any:
    """The run's lease on its thread when the saver grants exclusive runs (root runs only);
    a busy thread raises ``ThreadBusyError`` before anything runs."""
    if run.nested or run.saver is None or run.thread_id is None:
        return None
    acquire = getattr(run.saver, "acquire_run", None)
    return acquire(run.thread_id) if callable(acquire) else None


async def _aacquire_run(run: _Run) -> Any:
    if run.nested or run.saver is None or run.thread_id is None:
        return None
    acquire = getattr(run.saver, "aacquire_run", None)
    return await acquire(run.thread_id) if callable(acquire) else None


class _RunResult(NamedTuple):
    status: str
    values: dict[str, Any]
    interrupts: tuple[Interrupt, ...]


class _Run:
    """One invocation of a graph in one namespace: the loop state and its saver I/O."""

    def __init__(self, graph: CompiledStateGraph, stream_modes: Sequence[str]) -> None:
        self.graph = graph
        self.modes = frozenset(stream_modes)
        self.saver: Any = None
        self.thread_id: str | None = None
        self.ns = ""
        self.addressed_id: str | None = None
        self.user_conf: dict[str, Any] = {}
        self.user_meta: dict[str, Any] = {}
        self.durability = "async"
        self.recursion_limit = 25
        self.store: Any = None
        self.context: Any = None
        self.interrupt_before: Sequence[str] | str = ()
        self.interrupt_after: Sequence[str] | str = ()
        self.parent: TaskContext | None = None
        self.nested = False
        self.parent_resuming = False
        self.resuming = False
        self.resume_map: dict[str, Any] | None = None
        self.null_resume: NullResume | None = None
        self.checkpoint_map: dict[str, str] = {}
        self.is_async = False
        # loop state
        self.checkpoint: Checkpoint = Checkpoint(
            v=4,
            id="",
            ts="",
            channel_values={},
            channel_versions={},
            versions_seen={},
            updated_channels=None,
        )
        self.metadata: dict[str, Any] = {}
        self.channels: dict[str, Channel] = {}
        self.pending: list[tuple[str, str, Any]] = []
        self.exit_writes: list[tuple[str, list[tuple[str, Any]], str]] = []
        self.parent_id: str | None = None
        self.saved_id: str | None = None
        self.saved_versions: dict[str, Any] = {}
        self.step = -1
        self.stop = 0
        self._next_version: Any = _int_next_version

    # -- helpers ---------------------------------------------------------------------------
    def task_config(self, task: _Task) -> dict[str, Any]:
        conf = {**self.user_conf, "checkpoint_ns": task.ns}
        if self.thread_id is not None:
            conf["thread_id"] = self.thread_id
        return {
            "configurable": conf,
            "metadata": {
                **self.user_meta,
                "langgraph_step": self.step,
                "langgraph_node": task.name,
                "langgraph_triggers": task.triggers,
                "langgraph_path": task.path,
                "langgraph_checkpoint_ns": task.ns,
            },
            "recursion_limit": self.recursion_limit,
        }

    def _writes_config(self) -> dict[str, Any]:
        return {
            "configurable": {
                "thread_id": self.thread_id,
                "checkpoint_ns": self.ns,
                "checkpoint_id": self.checkpoint["id"],
            }
        }

    def _put_config(self) -> dict[str, Any]:
        conf = {**self.user_conf, "thread_id": self.thread_id, "checkpoint_ns": self.ns}
        if self.parent_id is not None:
            conf["checkpoint_id"] = self.parent_id
        return {"configurable": conf, "metadata": self.user_meta}

    def _state_writes(self, writes: list[tuple[str, Any]]) -> dict[str, Any] | None:
        keys = self.graph._state_key_set
        out = {k: v for k, v in writes if k in keys}
        return out or None

    def finish(self, result: _RunResult) -> Any:
        """What invoke returns (and, nested, how a pause reaches the parent task)."""
        if result.status == "out_of_steps":
            raise GraphRecursionError(
                f"Recursion limit of {self.recursion_limit} reached without hitting a stop "
                "condition. You can increase the limit by setting the `recursion_limit` config "
                "key.\nFor troubleshooting, visit: "
                "https://docs.langchain.com/oss/python/langgraph/errors/GRAPH_RECURSION_LIMIT"
            )
        if self.nested and result.status in ("interrupted", "interrupt_before", "interrupt_after"):
            raise GraphInterrupt(result.interrupts)
        if result.interrupts:
            return {**result.values, "__interrupt__": list(result.interrupts)}
        return result.values

    # -- saver I/O ------------------------------------------------------------------------
    def _save_writes(self, task_id: str, writes: list[tuple[str, Any]], path: str = "") -> Gen:
        self.pending.extend((task_id, c, v) for c, v in writes)
        if self.saver is None:
            return
        if self.durability == "exit":
            self.exit_writes.append((task_id, writes, path))
            return
        yield _call(self.saver, "put_writes", self._writes_config(), writes, task_id, path)

    def _put_checkpoint(self, source: str, updated: Iterable[str] | None = None) -> Gen:
        self.checkpoint = _create_checkpoint(self.graph, self.checkpoint, self.channels, updated)
        self.metadata = {"source": source, "step": self.step, "parents": dict(self.checkpoint_map)}
        self.pending = []
        self.exit_writes = []
        if self.saver is not None and self.durability != "exit":
            yield from self._save_current()
        self.step += 1

    def _save_current(self) -> Gen:
        new_versions = _new_versions(self.saved_versions, self.checkpoint["channel_versions"])
        put_config = self._put_config()
        saved = yield _call(
            self.saver,
            "put",
            put_config,
            copy_checkpoint(self.checkpoint),
            dict(self.metadata),
            new_versions,
        )
        self.parent_id = self.saved_id = self.checkpoint["id"]
        self.saved_versions = dict(self.checkpoint["channel_versions"])
        if "checkpoints" in self.modes:
            parent_id = put_config["configurable"].get("checkpoint_id")
            parent = None
            if parent_id is not None:
                parent = {
                    "configurable": {
                        "thread_id": self.thread_id,
                        "checkpoint_ns": self.ns,
                        "checkpoint_id": parent_id,
                    }
                }
            yield _Emit("checkpoints", self._checkpoint_event(saved, parent))

    def _flush_exit(self) -> Gen:
        """``durability="exit"``: save the head and its pending writes once, when the run ends."""
        if self.saver is None or self.durability != "exit":
            return
        if self.checkpoint["id"] != self.saved_id and self.metadata.get("step", -2) > -2:
            yield from self._save_current()
        for task_id, writes, path in self.exit_writes:
            yield _call(self.saver, "put_writes", self._writes_config(), writes, task_id, path)
        self.exit_writes = []

    def _checkpoint_event(self, saved_config: Any, parent: dict[str, Any] | None) -> dict[str, Any]:
        tasks = self.graph.prepare_tasks(self.checkpoint, self.channels, self.step + 1, self.ns)
        return {
            "config": _patch_checkpoint_map(saved_config, self.metadata),
            "parent_config": _patch_checkpoint_map(parent, self.metadata),
            "metadata": dict(self.metadata),
            "values": self.graph.read_state(self.channels),
            "next": [t.name for t in tasks],
            "tasks": [{"id": t.id, "name": t.name, "interrupts": (), "state": None} for t in tasks],
        }

    # -- the loop -------------------------------------------------------------------------
    def main(self, input: Any) -> Gen:
        yield from self._load()
        try:
            yield from self._first(input)
            result = yield from self._loop()
        except BaseException:
            yield from self._flush_exit()
            raise
        yield from self._flush_exit()
        return result

    def _load(self) -> Gen:
        saver = self.saver
        if saver is not None:
            self._next_version = _saver_next_version(saver)
        saved = None
        if saver is not None:
            conf: dict[str, Any] = {"thread_id": self.thread_id, "checkpoint_ns": self.ns}
            if self.addressed_id:
                conf["checkpoint_id"] = self.addressed_id
            saved = yield _call(saver, "get_tuple", {"configurable": conf})
        if saved is not None:
            self.checkpoint = copy_checkpoint(saved.checkpoint)
            self.metadata = dict(saved.metadata or {})
            self.pending = [(str(t), c, v) for t, c, v in saved.pending_writes or []]
            self.parent_id = self.saved_id = self.checkpoint["id"]
            self.saved_versions = dict(self.checkpoint["channel_versions"])
            self.step = int(self.metadata.get("step", -1)) + 1
        else:
            from checkpointkit.checkpoint import empty_checkpoint

            self.checkpoint = empty_checkpoint()
            self.metadata = {"step": -2}
            self.parent_id = self.addressed_id
            self.step = -1
        self.stop = self.step + self.recursion_limit + 1
        self.channels = self.graph.restore_channels(self.checkpoint)

    def _first(self, input: Any) -> Gen:
        graph = self.graph
        versions = self.checkpoint["channel_versions"]
        is_cmd = isinstance(input, Command)
        self.resuming = bool(versions) and (
            input is None or is_cmd or (self.nested and self.parent_resuming)
        )
        if self.resuming and self.addressed_id is not None and not self.nested:
            # Replay of an addressed checkpoint: a "fork" copy, unless it is an update/fork head.
            keep = False
            if self.metadata.get("source") in ("update", "fork"):
                latest = yield _call(
                    self.saver,
                    "get_tuple",
                    {"configurable": {"thread_id": self.thread_id, "checkpoint_ns": self.ns}},
                )
                keep = latest is not None and latest.checkpoint["id"] == self.checkpoint["id"]
            if not keep:
                self.pending = []
                yield from self._put_checkpoint("fork")
        if is_cmd:
            if input.resume is not None and self.saver is None:
                raise RuntimeError("Cannot use Command(resume=...) without checkpointer")
            if not versions:
                raise EmptyInputError(f"Received no input for {START}")
            yield from self._apply_command(input)
        null_writes = [
            (c, v) for t, c, v in self.pending if t == NULL_TASK_ID and c not in SPECIAL_CHANNELS
        ]
        for t, c, v in self.pending:
            if t == NULL_TASK_ID and c == RESUME:
                if _is_resume_map(v):
                    self.resume_map = {**(self.resume_map or {}), **v}
                else:
                    self.null_resume = NullResume(v)
        if null_writes:
            graph.apply_writes(
                self.checkpoint,
                self.channels,
                [_Writes((), INPUT, null_writes, ())],
                self._next_version,
            )
        if self.resuming:
            self.checkpoint["versions_seen"][INTERRUPT] = {
                k: v for k, v in self.checkpoint["channel_versions"].items() if k in self.channels
            }
            if "values" in self.modes:
                yield _Emit("values", graph.read_state(self.channels))
        elif input is not None and not is_cmd:
            discard = graph.prepare_tasks(self.checkpoint, self.channels, self.step, self.ns)
            graph.apply_writes(
                self.checkpoint,
                self.channels,
                [*discard, _Writes((), INPUT, [(START, input)], ())],
                self._next_version,
            )
            yield from self._put_checkpoint("input", updated=[START])
        elif not self.nested:
            raise EmptyInputError(f"Received no input for {START}")

    def _apply_command(self, cmd: Command) -> Gen:
        if cmd.graph == Command.PARENT:
            raise InvalidUpdateError("There is no parent graph")
        writes: list[tuple[str, Any]] = []
        self.graph._route(cmd.goto, None, writes)
        if cmd.resume is not None:
            if _is_resume_map(cmd.resume):
                self.resume_map = dict(cmd.resume)
            else:
                done = {t for t, c, _ in self.pending if c not in SPECIAL_CHANNELS}
                waiting = [
                    i for t, c, v in self.pending if c == INTERRUPT and t not in done for i in v
                ]
                if len(waiting) > 1:
                    raise RuntimeError(_MULTIPLE_INTERRUPTS)
            writes.append((RESUME, cmd.resume))
        if cmd.update is not None:
            if isinstance(cmd.update, dict):
                writes.extend(cmd.update.items())
            else:
                writes.extend(cmd.update)
        if not writes:
            raise EmptyInputError("Received empty Command input")
        # Special writes are last-write-wins and regular ones first-write-wins, so each kind
        # goes in its own call and regular writes are re-sent after the ones already stored.
        special = [(c, v) for c, v in writes if c in SPECIAL_CHANNELS]
        regular_old = [
            (c, v) for t, c, v in self.pending if t == NULL_TASK_ID and c not in SPECIAL_CHANNELS
        ]
        regular_new = [(c, v) for c, v in writes if c not in SPECIAL_CHANNELS]
        self.pending = [
            w
            for w in self.pending
            if not (w[0] == NULL_TASK_ID and w[1] in {c for c, _ in special})
        ]
        if special:
            yield from self._save_writes(NULL_TASK_ID, special)
        if regular_new:
            self.pending.extend((NULL_TASK_ID, c, v) for c, v in regular_new)
            if self.saver is not None:
                all_regular = regular_old + regular_new
                if self.durability == "exit":
                    self.exit_writes.append((NULL_TASK_ID, all_regular, ""))
                else:
                    yield _call(
                        self.saver,
                        "put_writes",
                        self._writes_config(),
                        all_regular,
                        NULL_TASK_ID,
                        "",
                    )

    def _should_interrupt(self, nodes: Sequence[str] | str, tasks: Sequence[_Task]) -> bool:
        if not nodes:
            return False
        seen = self.checkpoint["versions_seen"].get(INTERRUPT, {})
        changed = any(
            k not in seen or _newer(v, seen[k])
            for k, v in self.checkpoint["channel_versions"].items()
        )
        hit = any(t.name != START and (nodes == "*" or t.name in nodes) for t in tasks)
        if changed and hit:
            self.checkpoint["versions_seen"][INTERRUPT] = dict(self.checkpoint["channel_versions"])
            return True
        return False

    def _loop(self) -> Gen:
        graph = self.graph
        modes = self.modes
        while True:
            if self.step > self.stop:
                return _RunResult("out_of_steps", graph.read_state(self.channels), ())
            tasks = graph.prepare_tasks(self.checkpoint, self.channels, self.step, self.ns)
            if not tasks:
                return _RunResult("done", graph.read_state(self.channels), ())
            if self.pending:
                self._restore_task_writes(tasks)
            if self.interrupt_before and self._should_interrupt(self.interrupt_before, tasks):
                return _RunResult("interrupt_before", graph.read_state(self.channels), ())
            todo = [t for t in tasks if not t.done]
            if "updates" in modes:
                for t in tasks:
                    if t.done and t.name != START:
                        yield _Emit("updates", {t.name: self._state_writes(t.writes)})
            for t in todo:
                t.input = graph.task_input(t, self.channels)
                if "tasks" in modes and t.name != START:
                    yield _Emit(
                        "tasks",
                        {"id": t.id, "name": t.name, "input": t.input, "triggers": t.triggers},
                    )
            interrupts: list[tuple[_Task, tuple[Interrupt, ...], list[Any] | None]] = []
            errors: list[tuple[_Task, BaseException]] = []
            if todo:
                yield _Start(self, todo)
                cancelled = False
                for _ in range(len(todo)):
                    task, kind, payload = yield _NEXT
                    if kind == "ok":
                        task.writes = payload or [(NO_WRITES, None)]
                        yield from self._save_writes(task.id, task.writes, repr(task.path))
                        if task.name != START:
                            if "updates" in modes:
                                yield _Emit("updates", {task.name: self._state_writes(task.writes)})
                            if "tasks" in modes:
                                yield _Emit("tasks", self._task_end(task, None, ()))
                    elif kind == "interrupt":
                        interrupts.append((task, payload[0], payload[1]))
                    else:
                        errors.append((task, payload))
                        if not cancelled:
                            cancelled = True
                            yield _CANCEL
            if errors:
                for task, exc in errors:
                    yield from self._save_writes(
                        task.id, [(ERROR, _error_repr(exc))], repr(task.path)
                    )
                    if "tasks" in modes and task.name != START:
                        yield _Emit("tasks", self._task_end(task, _error_repr(exc), ()))
                raise errors[0][1]
            if interrupts:
                found: list[Interrupt] = []
                for task, raised, resume in sorted(interrupts, key=lambda x: _path_key(x[0].path)):
                    writes: list[tuple[str, Any]] = [(INTERRUPT, list(raised))]
                    if resume:
                        writes.append((RESUME, resume))
                    yield from self._save_writes(task.id, writes, repr(task.path))
                    found.extend(raised)
                    if "tasks" in modes:
                        yield _Emit("tasks", self._task_end(task, None, raised))
                if "updates" in modes:
                    yield _Emit("updates", {"__interrupt__": tuple(found)})
                values = graph.read_state(self.channels)
                finished = [t for t in tasks if t.writes]
                if finished:
                    # The caller sees finished siblings' writes; the saved head stays unchanged.
                    scratch = copy_checkpoint(self.checkpoint)
                    channels = {k: ch.copy() for k, ch in self.channels.items()}
                    updated = graph.apply_writes(scratch, channels, finished, self._next_version)
                    if not updated.isdisjoint(graph._state_key_set):
                        values = graph.read_state(channels)
                        if "values" in modes:
                            yield _Emit("values", values)
                return _RunResult("interrupted", values, tuple(found))
            updated = graph.apply_writes(self.checkpoint, self.channels, tasks, self._next_version)
            if "values" in modes and not updated.isdisjoint(graph._state_key_set):
                yield _Emit("values", graph.read_state(self.channels))
            yield from self._put_checkpoint("loop", updated=updated)
            if self.interrupt_after and self._should_interrupt(self.interrupt_after, tasks):
                return _RunResult("interrupt_after", graph.read_state(self.channels), ())

    def _task_end(self, task: _Task, error: Any, interrupts: Sequence[Interrupt]) -> dict[str, Any]:
        return {
            "id": task.id,
            "name": task.name,
            "error": error,
            "result": self._state_writes(task.writes) if error is None and not interrupts else None,
            "interrupts": list(interrupts),
        }

    def _restore_task_writes(self, tasks: list[_Task]) -> None:
        """Resume: tasks whose writes were saved before are done; the rest get their answers."""
        by_id = {t.id: t for t in tasks}
        for tid, chan, value in self.pending:
            task = by_id.get(tid)
            if task is None:
                continue
            if chan == RESUME:
                task.resume = list(value) if isinstance(value, list) else [value]
            elif chan not in SPECIAL_CHANNELS or chan == NO_WRITES:
                task.writes.append((chan, value))
                task.done = True

    # -- executing one task ---------------------------------------------------------------
    def _call_args(
        self, node: NodeSpec, ctx: TaskContext, state: Any
    ) -> tuple[list[Any], dict[str, Any]]:
        args: list[Any] = [state]
        kwargs: dict[str, Any] = {}
        for pname, what, kw_only in node.extras:
            if what == "config":
                value: Any = ctx.config
            elif what == "runtime":
                value = ctx.runtime
            elif what == "store":
                value = self.store
            else:
                value = ctx.runtime.stream_writer
            if kw_only:
                kwargs[pname] = value
            else:
                args.append(value)
        return args, kwargs

    def execute(self, task: _Task) -> tuple[_Task, str, Any]:
        """Run one task in this thread; never raises (the outcome says what happened)."""
        ctx = TaskContext(self, task, task.resume)
        token = CURRENT.set(ctx)
        try:
            node = self.graph.nodes[task.name]
            if task.name == START:
                output = task.input
            elif node.subgraph is not None:
                output = node.subgraph.invoke(task.input)
            else:
                if node.is_async:
                    raise TypeError(
                        f"node {task.name!r} is async; run the graph with ainvoke/astream"
                    )
                args, kwargs = self._call_args(node, ctx, task.input)
                output = node.fn(*args, **kwargs)
            writes = self.graph.node_writes(task.name, output, self.channels)
            if ctx.resume_used:
                writes.insert(0, (RESUME, list(ctx.resume)))
            return task, "ok", writes
        except GraphInterrupt as gi:
            return task, "interrupt", (gi.interrupts, list(ctx.resume) if ctx.resume_used else None)
        except Exception as exc:
            return task, "error", exc
        finally:
            CURRENT.reset(token)

    async def aexecute(self, task: _Task) -> tuple[_Task, str, Any]:
        """Async twin of :meth:`execute`; cancellation is reported as a ``CancelledError``."""
        ctx = TaskContext(self, task, task.resume)
        token = CURRENT.set(ctx)
        try:
            node = self.graph.nodes[task.name]
            if task.name == START:
                output = task.input
            elif node.subgraph is not None:
                output = await node.subgraph.ainvoke(task.input)
            elif node.is_async:
                args, kwargs = self._call_args(node, ctx, task.input)
                output = await node.fn(*args, **kwargs)
            else:
                args, kwargs = self._call_args(node, ctx, task.input)
                cvars = contextvars.copy_context()
                loop = asyncio.get_running_loop()
                output = await loop.run_in_executor(
                    None, lambda: cvars.run(node.fn, *args, **kwargs)
                )
            writes = self.graph.node_writes(task.name, output, self.channels)
            if ctx.resume_used:
                writes.insert(0, (RESUME, list(ctx.resume)))
            return task, "ok", writes
        except GraphInterrupt as gi:
            return task, "interrupt", (gi.interrupts, list(ctx.resume) if ctx.resume_used else None)
        except asyncio.CancelledError as exc:
            return task, "error", exc
        except Exception as exc:
            return task, "error", exc
        finally:
            CURRENT.reset(token)


# -- drivers ------------------------------------------------------------------------------
def _saver_call_sync(op: _Call) -> Any:
    result = getattr(op.saver, op.method)(*op.args, **op.kwargs)
    if op.method == "list":
        return list(result)
    return result


async def _saver_call_async(op: _Call) -> Any:
    amethod = getattr(op.saver, "a" + op.method, None)
    if amethod is None:
        return _saver_call_sync(op)
    if op.method == "list":
        return [row async for row in amethod(*op.args, **op.kwargs)]
    return await amethod(*op.args, **op.kwargs)


def _drive_sync(gen: Gen) -> Iterator[tuple[str, Any]]:
    """Run a core generator with sync saver calls; tasks of a step run in worker threads."""
    pool: ThreadPoolExecutor | None = None
    done: queue.SimpleQueue[tuple[_Task, str, Any]] = queue.SimpleQueue()
    send: Any = None
    try:
        while True:
            try:
                op = gen.send(send)
            except StopIteration as stop:
                yield "__result__", stop.value
                return
            send = None
            if type(op) is _Call:
                send = _saver_call_sync(op)
            elif type(op) is _Emit:
                yield op.mode, op.payload
            elif type(op) is _Start:
                if len(op.tasks) == 1:
                    done.put(op.run.execute(op.tasks[0]))
                else:
                    if pool is None:
                        pool = ThreadPoolExecutor(max_workers=min(32, len(op.tasks)))
                    for task in op.tasks:
                        fut = pool.submit(contextvars.copy_context().run, op.run.execute, task)

                        def report(f: Future[tuple[_Task, str, Any]]) -> None:
                            done.put(f.result())

                        fut.add_done_callback(report)
            elif op is _NEXT:
                send = done.get()
            elif op is _CANCEL:
                pass  # sync runs let running siblings finish and keep their writes
            else:  # pragma: no cover
                raise AssertionError(f"unknown op {op!r}")
    finally:
        gen.close()
        if pool is not None:
            pool.shutdown(wait=True)


async def _drive_async(gen: Gen) -> AsyncIterator[tuple[str, Any]]:
    """Run a core generator with async saver calls; tasks of a step run as asyncio tasks."""
    done: asyncio.Queue[tuple[_Task, str, Any]] = asyncio.Queue()
    running: set[asyncio.Task[Any]] = set()
    send: Any = None
    try:
        while True:
            try:
                op = gen.send(send)
            except StopIteration as stop:
                yield "__result__", stop.value
                return
            send = None
            if type(op) is _Call:
                send = await _saver_call_async(op)
            elif type(op) is _Emit:
                yield op.mode, op.payload
            elif type(op) is _Start:
                for task in op.tasks:
                    atask = asyncio.ensure_future(op.run.aexecute(task))
                    running.add(atask)

                    def report(f: asyncio.Task[Any]) -> None:
                        running.discard(f)
                        done.put_nowait(f.result())

                    atask.add_done_callback(report)
            elif op is _NEXT:
                send = await done.get()
            elif op is _CANCEL:
                for atask in list(running):
                    atask.cancel()
            else:  # pragma: no cover
                raise AssertionError(f"unknown op {op!r}")
    finally:
        gen.close()
        for atask in list(running):
            atask.cancel()


def _run_sync(gen: Gen) -> Any:
    for mode, payload in _drive_sync(gen):
        if mode == "__result__":
            return payload
    raise AssertionError("no result")  # pragma: no cover


async def _run_async(gen: Gen) -> Any:
    async for mode, payload in _drive_async(gen):
        if mode == "__result__":
            return payload
    raise AssertionError("no result")  # pragma: no cover
