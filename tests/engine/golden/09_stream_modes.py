# ruff: noqa
# Adapted from lg_experiments/09_stream_modes.py: imports point at checkpointkit (see tests/engine/golden/README.md).
"""Topic 9: stream() events for the 3-node linear graph (a -> b -> c)."""
import operator
from typing import Annotated

from typing_extensions import TypedDict

from checkpointkit.backends.memory import MemorySaver as InMemorySaver
from checkpointkit.reference_engine import END, START, StateGraph

from _common import L, P, versions

print("#", versions())


class State(TypedDict):
    log: Annotated[list, operator.add]
    last: str


def mk(name):
    def node(state: State):
        return {"log": [name], "last": name}

    return node


def build(saver):
    b = StateGraph(State)
    for n in "abc":
        b.add_node(n, mk(n))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "c")
    b.add_edge("c", END)
    return b.compile(checkpointer=saver)


saver = InMemorySaver()
L.watch(saver)
g = build(saver)

for mode in ("values", "updates"):
    cfg = {"configurable": {"thread_id": f"s-{mode}"}}
    P(f"== stream_mode={mode!r}, first run")
    for ev in g.stream({"log": ["in"], "last": "in"}, cfg, stream_mode=mode):
        P("  ", ev)
    P(f"== stream_mode={mode!r}, second run same thread")
    for ev in g.stream({"log": ["in2"]}, cfg, stream_mode=mode):
        P("  ", ev)
    P(f"== stream_mode={mode!r}, resume with None on finished thread")
    for ev in g.stream(None, cfg, stream_mode=mode):
        P("  ", ev)

P("== default stream_mode (no arg) on a fresh thread")
for ev in g.stream({"log": ["in"]}, {"configurable": {"thread_id": "s-default"}}):
    P("  ", ev)

P("== stream_mode=['values','updates'] -> (mode, payload) tuples")
for ev in g.stream({"log": ["in"]}, {"configurable": {"thread_id": "s-multi"}}, stream_mode=["values", "updates"]):
    P("  ", ev)

P("== stream_mode='checkpoints' (one event per checkpoint saved)")
evs = list(g.stream({"log": ["in"]}, {"configurable": {"thread_id": "s-cp"}}, stream_mode="checkpoints"))
for c in evs:
    P("   config=", c["config"]["configurable"].get("checkpoint_id"), "parent=",
      (c.get("parent_config") or {}).get("configurable", {}).get("checkpoint_id"),
      "meta=", {k: c["metadata"].get(k) for k in ("source", "step")},
      "next=", c["next"], "values=", c["values"], "tasks=", [(t["name"], t.get("result")) for t in c["tasks"]])

P("== langgraph_step seen by each node (config['metadata']['langgraph_step']) vs checkpoint step")
from checkpointkit.reference_engine import get_config


def spy(name):
    def node(state):
        md = get_config()["metadata"]
        P(f"   node {name}: langgraph_step={md['langgraph_step']} triggers={md['langgraph_triggers']} checkpoint_ns={md['langgraph_checkpoint_ns']}")
        return {"log": [name]}
    return node


b = StateGraph(State)
for n in "abc":
    b.add_node(n, spy(n))
b.add_edge(START, "a"); b.add_edge("a", "b"); b.add_edge("b", "c")
gs = b.compile(checkpointer=saver)
gs.invoke({"log": []}, {"configurable": {"thread_id": "s-spy"}})
P("   checkpoints (step, source, next):", [(s.metadata["step"], s.metadata["source"], s.next) for s in reversed(list(gs.get_state_history({"configurable": {"thread_id": "s-spy"}})))])

P("== stream_mode='tasks'")
for ev in g.stream({"log": ["in"]}, {"configurable": {"thread_id": "s-tasks"}}, stream_mode="tasks"):
    P("  ", {k: ev[k] for k in ev if k in ("id", "name", "input", "triggers", "result", "error", "interrupts")})
