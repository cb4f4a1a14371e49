# ruff: noqa
# Adapted from lg_experiments/03_time_travel.py: imports point at checkpointkit (see tests/engine/golden/README.md).
"""Topic 3: time travel - invoke(None, past.config) and invoke(input, past.config)."""
import operator
from typing import Annotated

from typing_extensions import TypedDict

from checkpointkit.backends.memory import MemorySaver as InMemorySaver
from checkpointkit.reference_engine import END, START, StateGraph

from _common import L, P, print_history, print_state, versions

print("#", versions())

RUNS = []


class State(TypedDict):
    log: Annotated[list, operator.add]
    last: str


def mk(name):
    def node(state: State):
        RUNS.append(name)
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


def cid(s):
    return L.norm(s.config["configurable"]["checkpoint_id"])


saver = InMemorySaver()
L.watch(saver)
g = build(saver)
cfg = {"configurable": {"thread_id": "tt"}}
g.invoke({"log": ["in"], "last": "in"}, cfg)
RUNS.clear()
hist = list(g.get_state_history(cfg))
by_step = {h.metadata["step"]: h for h in hist}

P("== A. invoke(None, <step-1 checkpoint, next=('b',)>)")
past = by_step[1]
P("   past:", cid(past), "next", past.next, "values", past.values)
P("   past.config passed:", past.config)
P("   result:", g.invoke(None, past.config))
P("   RUNS:", RUNS)
RUNS.clear()
print_history(g, cfg, "history after replay from step-1 checkpoint")
print_state(g, cfg, "get_state(thread)")

P("== B. invoke(None, <same past checkpoint>) again")
P("   result:", g.invoke(None, past.config), "RUNS:", RUNS)
RUNS.clear()
P("   history sources/steps/parents now:", [(cid(h), h.metadata["source"], h.metadata["step"], L.norm(h.parent_config["configurable"]["checkpoint_id"]) if h.parent_config else None) for h in g.get_state_history(cfg)])

P("== C. invoke(None, <input checkpoint step -1>)")
cfg2 = {"configurable": {"thread_id": "tt2"}}
g.invoke({"log": ["in"], "last": "in"}, cfg2)
RUNS.clear()
h2 = {h.metadata["step"]: h for h in g.get_state_history(cfg2)}
P("   result:", g.invoke(None, h2[-1].config), "RUNS:", RUNS)
RUNS.clear()
print_history(g, cfg2, "history tt2")

P("== D. invoke(NEW INPUT, <step-1 checkpoint>) on thread tt3")
cfg3 = {"configurable": {"thread_id": "tt3"}}
g.invoke({"log": ["in"], "last": "in"}, cfg3)
RUNS.clear()
h3 = {h.metadata["step"]: h for h in g.get_state_history(cfg3)}
P("   result:", g.invoke({"log": ["NEW"]}, h3[1].config), "RUNS:", RUNS)
RUNS.clear()
print_history(g, cfg3, "history tt3")

P("== E. invoke(None, <final checkpoint id, next=()>) (addressed latest)")
cfg4 = {"configurable": {"thread_id": "tt4"}}
g.invoke({"log": ["in"]}, cfg4)
RUNS.clear()
latest = g.get_state(cfg4)
P("   result:", g.invoke(None, latest.config), "RUNS:", RUNS)
print_history(g, cfg4, "history tt4 (a replay of a finished head still saves a 'fork' checkpoint)")

P("== F. stream(values) of replay from step-0 checkpoint")
for ev in g.stream(None, {"configurable": {"thread_id": "tt4", "checkpoint_id": [h for h in g.get_state_history(cfg4) if h.metadata['step'] == 0][0].config['configurable']['checkpoint_id']}}, stream_mode="values"):
    P("  ", ev)
RUNS.clear()

P("== G. checkpoint_id given but thread has it only on another thread -> treated as missing")
other = {"configurable": {"thread_id": "tt5", "checkpoint_id": past.config["configurable"]["checkpoint_id"]}}
print_state(g, other, "get_state(foreign checkpoint id)")

P("== H. replay from an 'update' checkpoint that already has children -> a 'fork' checkpoint is written")
cfg6 = {"configurable": {"thread_id": "tt6"}}
g.invoke({"log": ["in"]}, cfg6)
h6 = {h.metadata["step"]: h for h in g.get_state_history(cfg6)}
upd = g.update_state(h6[1].config, {"log": ["U"]})  # fork via update on step-1 checkpoint
g.invoke(None, upd)  # runs the update branch: update checkpoint is the head -> no fork
RUNS.clear()
P("   replay from the update checkpoint again (now superseded):", g.invoke(None, upd), "RUNS", RUNS); RUNS.clear()
P("   history (id, source, step, next, parent):", [(L.norm(h.config["configurable"]["checkpoint_id"]), h.metadata["source"], h.metadata["step"], h.next, L.norm(h.parent_config["configurable"]["checkpoint_id"]) if h.parent_config else None) for h in g.get_state_history(cfg6)])

P("== I. replay from a checkpoint paused by interrupt_before: the breakpoint is NOT hit again on the first step")
b = StateGraph(State)
for n in "abc":
    b.add_node(n, mk(n))
b.add_edge(START, "a"); b.add_edge("a", "b"); b.add_edge("b", "c")
gi = b.compile(checkpointer=saver, interrupt_before=["b"])
cfg7 = {"configurable": {"thread_id": "tt7"}}
gi.invoke({"log": ["in"]}, cfg7)
gi.invoke(None, cfg7)
RUNS.clear()
paused = [h for h in gi.get_state_history(cfg7) if h.next == ("b",)][0]
P("   invoke(None, paused.config) ->", gi.invoke(None, paused.config), "RUNS", RUNS); RUNS.clear()
P("   replay from step-0 checkpoint (before a) ->", gi.invoke(None, [h for h in gi.get_state_history(cfg7) if h.metadata["step"] == 0][0].config), "RUNS", RUNS); RUNS.clear()
P("   (breakpoint hit again when b is reached in a later step)  next now:", gi.get_state(cfg7).next)
