"""Child process of the crash harness: runs a graph on the saver and SIGKILLs itself at a chosen point.

Run by path (``python crash_child.py JOB``) and kept free of pytest and the conformance
package, so a child starts in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import operator
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any, TypedDict

from checkpointkit.reference_engine import END, START, Command, Send, StateGraph, interrupt

__all__ = [
    "GRAPHS",
    "INPUT",
    "KillSwitch",
    "Ledger",
    "NoLease",
    "build",
    "drive",
    "main",
    "strip_trace",
    "write_chain",
]

GRAPHS = ("linear", "fanout", "subgraph", "interrupt")
INPUT: dict[str, Any] = {"trace": [], "total": 0}
FANOUT = 4
ANSWER = "yes"
MAX_INVOCATIONS = 12
ACK_PUT = "@put"  # ledger label: a put returned (json [ns, checkpoint id])
ACK_WRITES = "@writes"  # a put_writes returned (json [ns, checkpoint id, task id, exec id])


class Ledger:
    """Side effects appended to a file with ``O_APPEND`` (kept by the kernel across SIGKILL)."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def record(self, label: str, exec_id: str) -> None:
        if self.path is None:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{label} {exec_id}\n".encode())
        finally:
            os.close(fd)

    @staticmethod
    def read(path: str) -> list[tuple[str, str]]:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        return [(line.rsplit(" ", 1)[0], line.rsplit(" ", 1)[1]) for line in lines if line]


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class KillSwitch:
    """Wraps the saver: counts ``put``/``put_writes`` and node runs, and SIGKILLs this process
    at the chosen one. ``kind``: ``node`` (inside a node, after its side effect), ``writes``
    (right after a ``put_writes`` returns, before the step's ``put``), ``put`` (a timer fires
    ``delay_us`` after a ``put`` starts, or at its return if it was faster)."""

    def __init__(
        self, saver: Any, kill: dict[str, Any] | None, ledger: Ledger | None = None
    ) -> None:
        self._saver = saver
        self.kill = kill
        self.ledger = ledger
        self.counts = {"node": 0, "writes": 0, "put": 0}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._saver, name)

    def _hit(self, kind: str) -> bool:
        with self._lock:
            self.counts[kind] += 1
            return (
                self.kill is not None
                and self.kill["kind"] == kind
                and self.counts[kind] == self.kill["n"]
            )

    def node_ran(self) -> None:
        if self._hit("node"):
            _die()

    def _acknowledged(self, kind: str, *parts: str) -> None:
        # What the saver acknowledged (the call returned) must survive any later kill.
        if self.ledger is not None:
            self.ledger.record(kind, json.dumps(parts, separators=(",", ":")))

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        ns = str(config["configurable"].get("checkpoint_ns") or "")
        if self._hit("put"):
            assert self.kill is not None
            timer = threading.Timer(self.kill.get("delay_us", 0) / 1e6, _die)
            timer.daemon = True
            timer.start()
            self._saver.put(config, checkpoint, metadata, new_versions)
            self._acknowledged(ACK_PUT, ns, checkpoint["id"])
            _die()
        out = self._saver.put(config, checkpoint, metadata, new_versions)
        self._acknowledged(ACK_PUT, ns, checkpoint["id"])
        return out

    def put_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self._saver.put_writes(config, writes, task_id, task_path)
        conf = config["configurable"]
        ns, cid = str(conf.get("checkpoint_ns") or ""), str(conf["checkpoint_id"])
        for channel, value in writes:
            if channel == "trace" and isinstance(value, list):
                for entry in value:
                    exec_id = str(entry).partition("@")[2].partition("=")[0]
                    self._acknowledged(ACK_WRITES, ns, cid, task_id, exec_id)
        if self._hit("writes"):
            _die()


class State(TypedDict, total=False):
    trace: Annotated[list[str], operator.add]
    total: Annotated[int, operator.add]
    item: int


def _node(label: str | Callable[[Any], str], switch: KillSwitch | None, ledger: Ledger) -> Any:
    def run(state: Any) -> dict[str, Any]:
        name = label(state) if callable(label) else label
        exec_id = uuid.uuid4().hex[:12]
        ledger.record(name, exec_id)
        if switch is not None:
            switch.node_ran()
        return {"trace": [f"{name}@{exec_id}"], "total": len(name)}

    return run


def build(name: str, saver: Any, switch: KillSwitch | None, ledger: Ledger) -> Any:
    """One of :data:`GRAPHS`, compiled with ``saver``; every task logs a side effect once."""
    g = StateGraph(State)
    if name == "linear":
        names = ["a", "b", "c", "d"]
        for n in names:
            g.add_node(n, _node(n, switch, ledger))
        g.add_edge(START, "a")
        for x, y in itertools.pairwise(names):
            g.add_edge(x, y)
        g.add_edge("d", END)
    elif name == "fanout":
        g.add_node("split", _node("split", switch, ledger))
        g.add_node("work", _node(lambda s: f"work{s['item']}", switch, ledger))
        g.add_node("join", _node("join", switch, ledger))
        g.add_edge(START, "split")
        g.add_conditional_edges(
            "split", lambda s: [Send("work", {"item": i}) for i in range(FANOUT)]
        )
        g.add_edge("work", "join")
        g.add_edge("join", END)
    elif name == "subgraph":
        sub = StateGraph(State)
        sub.add_node("s1", _node("sub.s1", switch, ledger))
        sub.add_node("s2", _node("sub.s2", switch, ledger))
        sub.add_edge(START, "s1")
        sub.add_edge("s1", "s2")
        sub.add_edge("s2", END)
        g.add_node("pre", _node("pre", switch, ledger))
        g.add_node("sub", sub.compile())
        g.add_node("post", _node("post", switch, ledger))
        g.add_edge(START, "pre")
        g.add_edge("pre", "sub")
        g.add_edge("sub", "post")
        g.add_edge("post", END)
    elif name == "interrupt":
        after = _node("ask", switch, ledger)

        def ask(state: Any) -> dict[str, Any]:
            answer = interrupt("proceed?")
            out: dict[str, Any] = after(state)
            out["trace"] = [f"{out['trace'][0]}={answer}"]
            return out

        g.add_node("a", _node("a", switch, ledger))
        g.add_node("ask", ask)
        g.add_node("b", _node("b", switch, ledger))
        g.add_edge(START, "a")
        g.add_edge("a", "ask")
        g.add_edge("ask", "b")
        g.add_edge("b", END)
    else:
        raise ValueError(f"unknown crash graph {name!r}; known: {GRAPHS}")
    return g.compile(checkpointer=saver)


def drive(graph: Any, thread_id: str, durability: str) -> dict[str, Any]:
    """Run the thread to its end from whatever is stored: start, resume, or answer.

    ``get_state().next`` leaves out tasks whose writes are stored, so an empty ``next``
    does not mean the run finished: a run is done when an invocation returns without
    pending interrupts (``invoke(None)`` applies stored writes and carries on).
    """
    config = {"configurable": {"thread_id": thread_id}}
    for _ in range(MAX_INVOCATIONS):
        state = graph.get_state(config)
        if state.created_at is None:
            out = graph.invoke(dict(INPUT), config, durability=durability)
        elif state.interrupts:
            out = graph.invoke(Command(resume=ANSWER), config, durability=durability)
        else:
            out = graph.invoke(None, config, durability=durability)
        if "__interrupt__" not in out:
            return dict(graph.get_state(config).values)
    raise RuntimeError(f"thread {thread_id!r} did not finish in {MAX_INVOCATIONS} invocations")


def strip_trace(values: dict[str, Any]) -> dict[str, Any]:
    """Final values with execution ids removed: comparable with an uninterrupted run."""
    out = dict(values)
    out["trace"] = [_strip(t) for t in values.get("trace", [])]
    return out


def _strip(entry: str) -> str:
    label, _, rest = entry.partition("@")
    _, _, answer = rest.partition("=")
    return f"{label}={answer}" if answer else label


@contextlib.contextmanager
def open_factory(data: dict[str, Any]) -> Iterator[Any]:
    """``SaverFactory.from_json(data).open()`` without importing the conformance package."""
    module_name, _, attr = data["target"].partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    made = obj(*data.get("args", ()), **data.get("kwargs", {}))
    if hasattr(made, "__enter__") and not hasattr(made, "put"):
        with made as saver:
            yield saver
    else:
        try:
            yield made
        finally:
            close = getattr(made, "close", None)
            if callable(close):
                close()


class NoLease:
    """The saver without its ``acquire_run``: lets two runs share a thread on purpose."""

    def __init__(self, saver: Any) -> None:
        self._saver = saver

    def __getattr__(self, name: str) -> Any:
        if name in ("acquire_run", "aacquire_run"):
            raise AttributeError(name)
        return getattr(self._saver, name)


def write_chain(saver: Any, thread_id: str, steps: int) -> None:
    """``steps`` checkpoints in a chain, each with one pending write, like an engine would."""
    from checkpointkit.checkpoint import checkpoint_config, empty_checkpoint

    parent: str | None = None
    versions: dict[str, Any] = {}
    for i in range(steps):
        checkpoint = empty_checkpoint()
        version = saver.get_next_version(versions.get("n"), None)
        versions = {"n": version, "log": version}
        checkpoint["channel_values"] = {"n": i, "log": [thread_id, i]}
        checkpoint["channel_versions"] = dict(versions)
        checkpoint["updated_channels"] = ["log", "n"]
        config = checkpoint_config(thread_id, "", parent)
        stored = saver.put(
            config, checkpoint, {"source": "loop", "step": i, "owner": thread_id}, versions
        )
        saver.put_writes(stored, [("w", [thread_id, i])], f"task-{i}")
        parent = stored["configurable"]["checkpoint_id"]


def _writers(saver: Any, job: dict[str, Any]) -> dict[str, Any]:
    errors: list[str] = []

    def work(thread_id: str) -> None:
        try:
            write_chain(saver, thread_id, job["steps"])
        except BaseException as exc:  # reported to the parent
            errors.append(f"{thread_id}: {exc!r}")

    threads = [threading.Thread(target=work, args=(t,)) for t in job["threads"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"errors": errors}


def main(argv: list[str]) -> int:
    job = json.loads(argv[1])
    mode = job.get("mode", "crash")
    if mode != "crash":
        with open_factory(job["factory"]) as saver:
            if mode == "writers":
                print(json.dumps(_writers(saver, job)))
            elif mode == "race":
                graph = build(job["graph"], NoLease(saver), None, Ledger(None))
                config = {"configurable": {"thread_id": job["thread"]}}
                print("ready", flush=True)
                sys.stdin.readline()  # the parent starts both racers at once
                values = graph.invoke(dict(INPUT), config, durability="sync")
                print(json.dumps({"values": values}))
            elif mode == "hold":
                lease = saver.acquire_run(job["thread"], owner=f"holder pid {os.getpid()}")
                print("held", flush=True)
                sys.stdin.readline()
                lease.release()
            else:
                raise ValueError(f"unknown mode {mode!r}")
        return 0
    with open_factory(job["factory"]) as saver:
        ledger = Ledger(job["ledger"])
        switch = KillSwitch(saver, job.get("kill"), ledger)
        graph = build(job["graph"], switch, switch, ledger)
        values = drive(graph, job["thread"], job["durability"])
    print(json.dumps({"values": values, "counts": switch.counts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
