"""``StateGraph``: the builder API (nodes, edges, conditional edges) that compiles to a Pregel graph."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Hashable, Sequence
from typing import Any, get_args, get_origin, get_type_hints

from checkpointkit.reference_engine.channels import (
    BinaryOperatorAggregate,
    Channel,
    EphemeralValue,
    LastValue,
    NamedBarrierValue,
    Topic,
)
from checkpointkit.reference_engine.constants import END, NS_END, NS_SEP, START, TASKS

__all__ = ["Branch", "NodeSpec", "StateGraph"]


@dataclasses.dataclass
class Branch:
    """A conditional edge: ``path(state)`` names the next node(s), optionally through ``path_map``."""

    path: Callable[..., Any]
    path_map: dict[Hashable, str] | None


@dataclasses.dataclass
class NodeSpec:
    """A compiled node: what triggers it, how to call it, and the writes its edges add."""

    name: str
    fn: Any  # a callable, or a compiled graph used as a subgraph
    triggers: tuple[str, ...] = ()
    edges: list[str] = dataclasses.field(default_factory=list)
    joins: list[str] = dataclasses.field(default_factory=list)
    branches: list[Branch] = dataclasses.field(default_factory=list)
    # Extra arguments the function asks for: (parameter name, what, keyword-only).
    extras: tuple[tuple[str, str, bool], ...] = ()
    is_async: bool = False
    subgraph: Any = None  # the compiled graph when the node is a subgraph


_EXTRA_BY_NAME = {"config": "config", "runtime": "runtime", "store": "store", "writer": "writer"}


def _inspect_extras(fn: Callable[..., Any]) -> tuple[tuple[tuple[str, str, bool], ...], bool]:
    """Which of config / runtime / store / writer a node function takes, found once at add_node."""
    target: Any = fn
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return (), is_async
    extras: list[tuple[str, str, bool]] = []
    for i, p in enumerate(params):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if i == 0 and p.kind != p.KEYWORD_ONLY:
            continue  # the state
        ann = (
            p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        )
        what = _EXTRA_BY_NAME.get(p.name)
        if what is None:
            if "Runtime" in str(ann):
                what = "runtime"
            elif "RunnableConfig" in str(ann):
                what = "config"
            elif "BaseStore" in str(ann):
                what = "store"
        if what is None:
            if p.default is p.empty:
                raise ValueError(
                    f"node function parameter {p.name!r} is not one the engine can fill"
                )
            continue
        extras.append((p.name, what, p.kind == p.KEYWORD_ONLY))
    return tuple(extras), is_async


def _reducer_of(annotation: Any) -> tuple[Any, Callable[[Any, Any], Any] | None]:
    """``Annotated[T, reducer]`` -> (T, reducer); anything else -> (annotation, None)."""
    if get_origin(annotation) is not None and hasattr(annotation, "__metadata__"):
        base = get_args(annotation)[0]
        for meta in reversed(annotation.__metadata__):
            if callable(meta):
                return base, meta
        return base, None
    return annotation, None


def _state_channels(schema: Any) -> dict[str, Channel]:
    try:
        hints = get_type_hints(schema, include_extras=True)
    except Exception as exc:  # pragma: no cover - user schema errors
        raise TypeError(f"cannot read the state schema {schema!r}: {exc}") from exc
    channels: dict[str, Channel] = {}
    for key, ann in hints.items():
        typ, reducer = _reducer_of(ann)
        channels[key] = (
            LastValue(key) if reducer is None else BinaryOperatorAggregate(key, typ, reducer)
        )
    return channels


class StateGraph:
    """A graph whose nodes read and write a shared state described by a TypedDict."""

    def __init__(
        self,
        state_schema: Any,
        context_schema: Any = None,
        *,
        input_schema: Any = None,
        output_schema: Any = None,
    ) -> None:
        self.state_schema = state_schema
        self.context_schema = context_schema
        self.state_channels = _state_channels(state_schema)
        self.nodes: dict[str, NodeSpec] = {}
        self.edges: list[tuple[str, str]] = []
        self.waiting_edges: list[tuple[tuple[str, ...], str]] = []
        self.branches: list[tuple[str, Branch]] = []
        self.compiled = False

    # -- building -------------------------------------------------------------------------
    def add_node(
        self,
        node: str | Callable[..., Any],
        action: Any = None,
        *,
        destinations: Any = None,
        metadata: dict[str, Any] | None = None,
        input_schema: Any = None,
        retry_policy: Any = None,
        cache_policy: Any = None,
        defer: bool = False,
    ) -> StateGraph:
        """Add a node: ``fn(state)``, ``fn(state, config)``, ``fn(state, runtime)`` or a compiled graph."""
        if action is None:
            if isinstance(node, str):
                raise ValueError(f"Node `{node}` needs an action")
            action, name = node, getattr(node, "__name__", None) or getattr(node, "name", None)
            if not isinstance(name, str):
                raise ValueError("cannot infer a node name; pass one")
        else:
            if not isinstance(node, str):
                raise TypeError("the node name must be a str")
            name = node
        if defer:
            raise NotImplementedError("deferred nodes are not supported by the reference engine")
        if name in self.nodes:
            raise ValueError(f"Node `{name}` already present.")
        if name in (START, END):
            raise ValueError(f"Node `{name}` is reserved.")
        for ch in (NS_SEP, NS_END):
            if ch in name:
                raise ValueError(
                    f"'{ch}' is a reserved character and is not allowed in the node names."
                )
        from checkpointkit.reference_engine.pregel import CompiledStateGraph

        if isinstance(action, CompiledStateGraph):
            spec = NodeSpec(name, action, subgraph=action)
        else:
            if not callable(action):
                raise TypeError(f"node {name!r}: action must be callable")
            extras, is_async = _inspect_extras(action)
            spec = NodeSpec(name, action, extras=extras, is_async=is_async)
        self.nodes[name] = spec
        return self

    def add_edge(self, start_key: str | Sequence[str], end_key: str) -> StateGraph:
        """Run ``end_key`` after ``start_key``; a list of starts waits for all of them (fan-in)."""
        if isinstance(start_key, str):
            if start_key == END:
                raise ValueError("END cannot be a start node")
            if end_key == START:
                raise ValueError("START cannot be an end node")
            self.edges.append((start_key, end_key))
        else:
            starts = tuple(start_key)
            for s in starts:
                if s == END:
                    raise ValueError("END cannot be a start node")
            self.waiting_edges.append((starts, end_key))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any],
        path_map: dict[Hashable, str] | Sequence[str] | None = None,
    ) -> StateGraph:
        """After ``source``, go where ``path(state)`` says (names, ``Send``s or keys of ``path_map``)."""
        mapping: dict[Hashable, str] | None
        if path_map is None:
            mapping = None
        elif isinstance(path_map, dict):
            mapping = dict(path_map)
        else:
            mapping = {name: name for name in path_map}
        self.branches.append((source, Branch(path, mapping)))
        return self

    def add_sequence(self, nodes: Sequence[Any]) -> StateGraph:
        """Add nodes chained one after the other."""
        previous: str | None = None
        for item in nodes:
            if isinstance(item, tuple):
                name, fn = item
                self.add_node(name, fn)
            else:
                self.add_node(item)
                name = getattr(item, "__name__", None) or item.name
            if previous is not None:
                self.add_edge(previous, name)
            previous = name
        return self

    def set_entry_point(self, key: str) -> StateGraph:
        return self.add_edge(START, key)

    def set_conditional_entry_point(
        self, path: Callable[..., Any], path_map: dict[Hashable, str] | Sequence[str] | None = None
    ) -> StateGraph:
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, key: str) -> StateGraph:
        return self.add_edge(key, END)

    # -- compiling ------------------------------------------------------------------------
    def _check(self) -> None:
        known = set(self.nodes) | {START}
        for start, end in self.edges:
            if start not in known:
                raise ValueError(f"Found edge starting at unknown node '{start}'")
            if end != END and end not in self.nodes:
                raise ValueError(f"Found edge ending at unknown node `{end}`")
        for starts, end in self.waiting_edges:
            for s in starts:
                if s not in known:
                    raise ValueError(f"Found edge starting at unknown node '{s}'")
            if end != END and end not in self.nodes:
                raise ValueError(f"Found edge ending at unknown node `{end}`")
        for source, branch in self.branches:
            if source not in known:
                raise ValueError(f"Found edge starting at unknown node '{source}'")
            for dest in (branch.path_map or {}).values():
                if dest != END and dest not in self.nodes:
                    raise ValueError(f"At '{source}' node, 'path_map' has unknown node '{dest}'")
        if not any(s == START for s, _ in self.edges) and not any(
            s == START for s, _ in self.branches
        ):
            raise ValueError(
                "Graph must have an entrypoint: add at least one edge from START to another node"
            )

    def compile(
        self,
        checkpointer: Any = None,
        *,
        store: Any = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        debug: bool = False,
        name: str | None = None,
        cache: Any = None,
    ) -> Any:
        """Freeze the graph. ``checkpointer``: a saver, None (inherit as a subgraph), False or True."""
        from checkpointkit.reference_engine.pregel import CompiledStateGraph

        self._check()
        for lst in (interrupt_before, interrupt_after):
            if lst and lst != "*":
                for n in lst:
                    if n not in self.nodes:
                        raise ValueError(f"Interrupt node `{n}` not found")
        channels: dict[str, Channel] = dict(self.state_channels)
        channels[START] = EphemeralValue(START)
        nodes: dict[str, NodeSpec] = {START: NodeSpec(START, None, triggers=(START,))}
        for spec in self.nodes.values():
            branch_ch = f"branch:to:{spec.name}"
            channels[branch_ch] = EphemeralValue(branch_ch, guard=False)
            nodes[spec.name] = dataclasses.replace(
                spec, triggers=(branch_ch,), edges=[], joins=[], branches=[]
            )
        for start, end in self.edges:
            nodes[start].edges.append(end)
        for starts, end in self.waiting_edges:
            chan = f"join:{'+'.join(starts)}:{end}"
            channels[chan] = NamedBarrierValue(chan, frozenset(starts))
            for s in starts:
                nodes[s].joins.append(chan)
            if end != END:
                nodes[end].triggers = (*nodes[end].triggers, chan)
        for source, branch in self.branches:
            nodes[source].branches.append(branch)
        channels[TASKS] = Topic(TASKS)
        self.compiled = True
        return CompiledStateGraph(
            builder=self,
            channels=channels,
            nodes=nodes,
            checkpointer=checkpointer,
            store=store,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            name=name or "LangGraph",
        )
