"""The graphs the scenario layer runs, importable by module path so a child process can build them."""

from __future__ import annotations

import json
import operator
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from typing import Annotated, Any, TypedDict

from checkpointkit.reference_engine import (
    END,
    START,
    Send,
    StateGraph,
    add_messages,
    interrupt,
)

__all__ = [
    "BUILDERS",
    "Faults",
    "Ledger",
    "NodeFailure",
    "WriteTap",
    "asking",
    "asking_pair",
    "branching",
    "chat",
    "child_main",
    "fanout_sends",
    "linear",
    "nested_pair",
    "with_subgraph",
]

GATE_TIMEOUT = 30.0  # seconds a node waits for a sibling's writes before giving up


class NodeFailure(RuntimeError):
    """The exception a scenario node raises on purpose."""


class Ledger:
    """Counts node side effects: in memory, and appended to a file when ``path`` is given.

    The file is written with ``O_APPEND`` before the node returns, so it survives a SIGKILL
    of the process that runs the node (the kernel keeps the data; no fsync is needed).
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._events: list[str] = []
        self._lock = threading.Lock()

    def record(self, event: str) -> None:
        with self._lock:
            self._events.append(event)
            if self.path is not None:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, (event + "\n").encode())
                finally:
                    os.close(fd)

    def events(self) -> list[str]:
        if self.path is not None:
            try:
                with open(self.path, encoding="utf-8") as f:
                    return f.read().splitlines()
            except FileNotFoundError:
                return []
        with self._lock:
            return list(self._events)

    def counts(self) -> Counter[str]:
        return Counter(self.events())

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            if self.path is not None and os.path.exists(self.path):
                os.remove(self.path)


class WriteTap:
    """Passes every call through to a saver and notes which write values it has stored.

    The saver under test does all the work; a node uses :meth:`wait_for` to act only after a
    sibling's writes were stored, which makes "one sibling finished, the other failed"
    deterministic for both the thread-pool and the asyncio engine.
    """

    def __init__(self, saver: Any) -> None:
        self._saver = saver
        self._stored: list[Any] = []
        self._cond = threading.Condition()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._saver, name)

    def _note(self, writes: Sequence[tuple[str, Any]]) -> None:
        with self._cond:
            self._stored.extend(value for _, value in writes)
            self._cond.notify_all()

    def put_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self._saver.put_writes(config, writes, task_id, task_path)
        self._note(writes)

    async def aput_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await self._saver.aput_writes(config, writes, task_id, task_path)
        self._note(writes)

    def wait_for(self, value: Any, timeout: float = GATE_TIMEOUT) -> bool:
        """Block until a write with this value has been stored (False on timeout)."""
        with self._cond:
            return self._cond.wait_for(lambda: value in self._stored, timeout)


class Faults:
    """Which nodes fail (once each) or kill the process, and what they wait for first."""

    def __init__(
        self,
        *,
        fail_once: Collection[str] = (),
        kill_in: str | None = None,
        wait_for: Callable[[], object] | None = None,
    ) -> None:
        self.fail_once = set(fail_once)
        self.kill_in = kill_in
        self.wait_for = wait_for
        self._lock = threading.Lock()

    def hit(self, name: str) -> None:
        """Called at the top of every node: fail or die here if this node was chosen."""
        if name == self.kill_in:
            if self.wait_for is not None:
                self.wait_for()
            os.kill(os.getpid(), signal.SIGKILL)
        with self._lock:
            failing = name in self.fail_once
            self.fail_once.discard(name)
        if failing:
            if self.wait_for is not None:
                self.wait_for()
            raise NodeFailure(f"{name} failed")


NO_FAULTS = Faults()


# -- state schemas ------------------------------------------------------------------------------
class LogState(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    last: str


class WorkerInput(TypedDict):
    i: int


class LoopState(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    rounds: int


class ChatState(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    audit: Annotated[list[str], operator.add]
    turns: int


class SubState(TypedDict, total=False):
    topic: str
    sub_log: Annotated[list[str], operator.add]
    answer: str


class ParentState(TypedDict, total=False):
    topic: str
    log: Annotated[list[str], operator.add]
    answer: str


class XState(TypedDict, total=False):
    x_topic: str
    x_log: Annotated[list[str], operator.add]
    x_answer: str


class YState(TypedDict, total=False):
    y_topic: str
    y_log: Annotated[list[str], operator.add]
    y_answer: str


class PairState(TypedDict, total=False):
    x_topic: str
    y_topic: str
    x_answer: str
    y_answer: str
    log: Annotated[list[str], operator.add]


# -- node factories -----------------------------------------------------------------------------
def _step(
    name: str, ledger: Ledger, faults: Faults, *, last: bool = True
) -> Callable[[Any], dict[str, Any]]:
    def node(state: Any) -> dict[str, Any]:
        faults.hit(name)
        ledger.record(name)
        return {"log": [name], "last": name} if last else {"log": [name]}

    node.__name__ = name
    return node


def _worker(ledger: Ledger) -> Callable[[WorkerInput], dict[str, Any]]:
    def w(arg: WorkerInput) -> dict[str, Any]:
        name = f"w{arg['i']:02d}"
        ledger.record(name)
        return {"log": [name]}

    return w


# -- builders -----------------------------------------------------------------------------------
def linear(
    checkpointer: Any,
    ledger: Ledger,
    faults: Faults = NO_FAULTS,
    *,
    nodes: Sequence[str] = ("a", "b", "c"),
    **compile_kwargs: Any,
) -> Any:
    """``START -> a -> b -> c -> END`` over :class:`LogState`; each node logs its name."""
    g = StateGraph(LogState)
    previous = START
    for name in nodes:
        g.add_node(name, _step(name, ledger, faults))
        g.add_edge(previous, name)
        previous = name
    g.add_edge(previous, END)
    return g.compile(checkpointer=checkpointer, **compile_kwargs)


def fanout_sends(
    checkpointer: Any, ledger: Ledger, faults: Faults = NO_FAULTS, *, sends: int = 12
) -> Any:
    """``a -> (b1, b2) -> c`` with a join; ``b1`` also sends ``sends`` ordered worker tasks.

    The final log is ``[..., 'a', 'b1', 'b2', 'c', 'w00', 'w01', ...]``: worker results are
    applied in Send order, which is the order of ``b1``'s pending writes.
    """
    g = StateGraph(LogState)
    for name in ("a", "b1", "b2", "c"):
        g.add_node(name, _step(name, ledger, faults, last=False))
    g.add_node("w", _worker(ledger))
    g.add_edge(START, "a")
    g.add_edge("a", "b1")
    g.add_edge("a", "b2")
    g.add_edge(["b1", "b2"], "c")
    g.add_conditional_edges("b1", lambda _s: [Send("w", {"i": i}) for i in range(sends)])
    g.add_edge("c", END)
    g.add_edge("w", END)
    return g.compile(checkpointer=checkpointer)


def branching(checkpointer: Any, ledger: Ledger, *, rounds: int = 2) -> Any:
    """``plan -> (left, right) -> merge``, looped by a conditional edge ``rounds`` times."""
    g = StateGraph(LoopState)

    def plan(state: LoopState) -> dict[str, Any]:
        ledger.record("plan")
        return {"log": [f"plan{state.get('rounds', 0)}"]}

    def side(name: str) -> Callable[[LoopState], dict[str, Any]]:
        def fn(state: LoopState) -> dict[str, Any]:
            ledger.record(name)
            return {"log": [f"{name}{state.get('rounds', 0)}"]}

        return fn

    def merge(state: LoopState) -> dict[str, Any]:
        ledger.record("merge")
        return {"log": ["merge"], "rounds": state.get("rounds", 0) + 1}

    g.add_node("plan", plan)
    g.add_node("left", side("left"))
    g.add_node("right", side("right"))
    g.add_node("merge", merge)
    g.add_edge(START, "plan")
    g.add_edge("plan", "left")
    g.add_edge("plan", "right")
    g.add_edge(["left", "right"], "merge")
    g.add_conditional_edges(
        "merge", lambda s: "again" if s.get("rounds", 0) < rounds else "done",
        {"again": "plan", "done": END},
    )  # fmt: skip
    return g.compile(checkpointer=checkpointer)


def chat(checkpointer: Any, ledger: Ledger | None = None) -> Any:
    """A chat turn: ``reply`` (messages by id) and ``audit`` run in parallel from START."""
    g = StateGraph(ChatState)

    def reply(state: ChatState) -> dict[str, Any]:
        turn = state.get("turns", 0) + 1
        last = state["messages"][-1]["content"]
        if ledger is not None:
            ledger.record("reply")
        return {
            "messages": [{"id": f"ai-{turn}", "role": "ai", "content": f"echo {last}"}],
            "turns": turn,
        }

    def audit(state: ChatState) -> dict[str, Any]:
        return {"audit": [f"saw {len(state['messages'])}"]}

    g.add_node("reply", reply)
    g.add_node("audit", audit)
    g.add_edge(START, "reply")
    g.add_edge(START, "audit")
    g.add_edge("reply", END)
    g.add_edge("audit", END)
    return g.compile(checkpointer=checkpointer)


def asking(checkpointer: Any, ledger: Ledger, *, questions: int = 1, **compile_kwargs: Any) -> Any:
    """``a -> b -> c`` where ``b`` asks ``questions`` interrupts, in order, then logs the answers."""
    g = StateGraph(LogState)

    def b(state: LogState) -> dict[str, Any]:
        ledger.record("b:before")
        answers = [str(interrupt(f"b question {n}")) for n in range(questions)]
        ledger.record("b:after")
        return {"log": ["b=" + "/".join(answers)], "last": "b"}

    g.add_node("a", _step("a", ledger, NO_FAULTS))
    g.add_node("b", b)
    g.add_node("c", _step("c", ledger, NO_FAULTS))
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "c")
    g.add_edge("c", END)
    return g.compile(checkpointer=checkpointer, **compile_kwargs)


def asking_pair(checkpointer: Any, ledger: Ledger) -> Any:
    """``a -> (x, y) -> c``: two parallel nodes that each interrupt once."""
    g = StateGraph(LogState)

    def asker(name: str) -> Callable[[LogState], dict[str, Any]]:
        def fn(state: LogState) -> dict[str, Any]:
            ledger.record(f"{name}:before")
            answer = interrupt(f"{name} question")
            ledger.record(f"{name}:after")
            return {"log": [f"{name}={answer}"]}

        return fn

    g.add_node("a", _step("a", ledger, NO_FAULTS, last=False))
    g.add_node("x", asker("x"))
    g.add_node("y", asker("y"))
    g.add_node("c", _step("c", ledger, NO_FAULTS, last=False))
    g.add_edge(START, "a")
    g.add_edge("a", "x")
    g.add_edge("a", "y")
    g.add_edge(["x", "y"], "c")
    g.add_edge("c", END)
    return g.compile(checkpointer=checkpointer)


def _sub(ledger: Ledger, checkpointer: Any, *, ask: bool = False) -> Any:
    g = StateGraph(SubState)

    def s1(state: SubState) -> dict[str, Any]:
        ledger.record("s1")
        return {"sub_log": ["s1"]}

    def s2(state: SubState) -> dict[str, Any]:
        reply = str(interrupt("s2?")) if ask else "-"
        ledger.record("s2")
        done = len(state.get("sub_log", [])) + 1
        return {"sub_log": ["s2"], "answer": f"{state['topic']}:{done}:{reply}"}

    g.add_node("s1", s1)
    g.add_node("s2", s2)
    g.add_edge(START, "s1")
    g.add_edge("s1", "s2")
    g.add_edge("s2", END)
    return g.compile(checkpointer=checkpointer)


def with_subgraph(
    checkpointer: Any, ledger: Ledger, *, mode: bool | None = None, ask: bool = False
) -> Any:
    """``p1 -> sub -> p2``; ``sub`` is a compiled subgraph with ``checkpointer=mode``."""
    g = StateGraph(ParentState)

    def p1(state: ParentState) -> dict[str, Any]:
        ledger.record("p1")
        return {"log": ["p1"]}

    def p2(state: ParentState) -> dict[str, Any]:
        ledger.record("p2")
        return {"log": [f"p2:{state.get('answer')}"]}

    g.add_node("p1", p1)
    g.add_node("sub", _sub(ledger, mode, ask=ask))
    g.add_node("p2", p2)
    g.add_edge(START, "p1")
    g.add_edge("p1", "sub")
    g.add_edge("sub", "p2")
    g.add_edge("p2", END)
    return g.compile(checkpointer=checkpointer)


def nested_pair(checkpointer: Any, ledger: Ledger) -> Any:
    """Two different subgraphs, ``sub_x`` (x1, x2) and ``sub_y`` (y1, y2, y3), in one super-step."""
    gx = StateGraph(XState)
    for n in ("x1", "x2"):
        gx.add_node(n, _sub_step(n, "x", ledger))
    gx.add_edge(START, "x1")
    gx.add_edge("x1", "x2")
    gx.add_edge("x2", END)
    gy = StateGraph(YState)
    for n in ("y1", "y2", "y3"):
        gy.add_node(n, _sub_step(n, "y", ledger))
    gy.add_edge(START, "y1")
    gy.add_edge("y1", "y2")
    gy.add_edge("y2", "y3")
    gy.add_edge("y3", END)

    def report(state: PairState) -> dict[str, Any]:
        return {"log": [f"{state.get('x_answer')}|{state.get('y_answer')}"]}

    g = StateGraph(PairState)
    g.add_node("sub_x", gx.compile())
    g.add_node("sub_y", gy.compile())
    g.add_node("report", report)
    g.add_edge(START, "sub_x")
    g.add_edge(START, "sub_y")
    g.add_edge(["sub_x", "sub_y"], "report")
    g.add_edge("report", END)
    return g.compile(checkpointer=checkpointer)


def _sub_step(name: str, prefix: str, ledger: Ledger) -> Callable[[Any], dict[str, Any]]:
    def fn(state: Any) -> dict[str, Any]:
        ledger.record(name)
        seen = state.get(f"{prefix}_log", [])
        return {
            f"{prefix}_log": [name],
            f"{prefix}_answer": f"{state[f'{prefix}_topic']}+{len(seen) + 1}",
        }

    return fn


BUILDERS: dict[str, Callable[..., Any]] = {
    "linear": linear,
    "fanout_sends": fanout_sends,
}


def child_main(argv: Sequence[str] | None = None) -> None:
    """Entry point of a scenario child process: build a graph over the saver and invoke it once.

    ``argv[0]`` is a JSON job: ``factory`` (a :class:`SaverFactory` as JSON), ``graph`` (a key
    of :data:`BUILDERS`), ``thread``, ``ledger`` (a file path), ``input``, ``durability``,
    ``kill_in`` (a node name or null) and ``gate`` (a write value the killing node waits for).
    Prints the invoke result as JSON on the last line of stdout.
    """
    from checkpointkit.conformance.factories import SaverFactory

    job = json.loads((argv if argv is not None else sys.argv[1:])[0])
    ledger = Ledger(job["ledger"])
    with SaverFactory.from_json(job["factory"]).open() as saver:
        tap = WriteTap(saver)
        gate = job.get("gate")

        def wait() -> None:
            if gate is not None and not tap.wait_for(gate):
                raise NodeFailure(f"gave up waiting for write {gate!r}")

        faults = Faults(kill_in=job.get("kill_in"), wait_for=wait)
        graph = BUILDERS[job["graph"]](tap, ledger, faults)
        config = {"configurable": {"thread_id": job["thread"]}}
        out = graph.invoke(job["input"], config, durability=job.get("durability", "sync"))
    print(json.dumps(out, sort_keys=True), flush=True)


if __name__ == "__main__":
    child_main()
