# ruff: noqa
# Adapted from lg_experiments/07_subgraphs.py: imports point at checkpointkit (see tests/engine/golden/README.md).
"""Topic 7: subgraphs and checkpoint_ns; subgraph compiled with checkpointer None / False / True."""
import operator
from typing import Annotated

from typing_extensions import TypedDict

from checkpointkit.backends.memory import MemorySaver as InMemorySaver
from checkpointkit.reference_engine import END, START, StateGraph
from checkpointkit.reference_engine import Command, interrupt

from _common import L, P, dump_saver, inmemory_order, print_history, print_state, snap_str, versions

print("#", versions())
RUNS = []


class Parent(TypedDict):
    log: Annotated[list, operator.add]


class Sub(TypedDict):
    log: Annotated[list, operator.add]
    sub_log: Annotated[list, operator.add]  # private to the subgraph


def sub_node(name, ask=False):
    def fn(state: Sub):
        RUNS.append(name)
        if ask:
            v = interrupt(f"{name}?")
            return {"log": [f"{name}={v}"], "sub_log": [name]}
        return {"log": [name], "sub_log": [name]}
    return fn


def build_sub(checkpointer, ask=False):
    b = StateGraph(Sub)
    b.add_node("s1", sub_node("s1"))
    b.add_node("s2", sub_node("s2", ask=ask))
    b.add_edge(START, "s1"); b.add_edge("s1", "s2"); b.add_edge("s2", END)
    return b.compile(checkpointer=checkpointer)


def pnode(name):
    def fn(state):
        RUNS.append(name)
        return {"log": [name]}
    return fn


def build_parent(saver, sub, as_function=False):
    b = StateGraph(Parent)
    b.add_node("p1", pnode("p1"))
    if as_function:
        def call_sub(state):
            out = sub.invoke({"log": state["log"]})
            P("     (sub returned inside node:", out, ")")
            return {"log": ["via-fn"]}
        b.add_node("sub", call_sub)
    else:
        b.add_node("sub", sub)
    b.add_node("p2", pnode("p2"))
    b.add_edge(START, "p1"); b.add_edge("p1", "sub"); b.add_edge("sub", "p2"); b.add_edge("p2", END)
    return b.compile(checkpointer=saver)


def list_ns(saver, thread):
    rows = inmemory_order(list(saver.list({"configurable": {"thread_id": thread}})))
    P(f"   saver.list(thread={thread}) -> {len(rows)} checkpoints:")
    for r in rows:
        c = r.config["configurable"]
        P(f"     ns={L.norm(c['checkpoint_ns'])!r:30} id={L.norm(c['checkpoint_id'])} meta={{source:{r.metadata.get('source')}, step:{r.metadata.get('step')}, parents:{L.norm(r.metadata.get('parents'))}}} values={r.checkpoint['channel_values'].get('log')}|{r.checkpoint['channel_values'].get('sub_log')}")


for sub_cp in (None, False, True):
    for as_function in (False, True):
        saver = InMemorySaver(); L.watch(saver)
        sub = build_sub(sub_cp)
        g = build_parent(saver, sub, as_function=as_function)
        thread = f"sg-{sub_cp}-{'fn' if as_function else 'node'}"
        cfg = {"configurable": {"thread_id": thread}}
        P(f"== subgraph checkpointer={sub_cp!r}, {'called inside a node fn' if as_function else 'added as node'}")
        for turn in (1, 2):
            out = g.invoke({"log": [f"turn{turn}"]}, cfg)
            P(f"   turn {turn} result:", out, "RUNS", RUNS); RUNS.clear()
        list_ns(saver, thread)
        L.savers.remove(saver)

P("== interrupt inside subgraph (sub checkpointer=None) ; get_state(subgraphs=True)")
saver = InMemorySaver(); L.watch(saver)
g = build_parent(saver, build_sub(None, ask=True))
cfg = {"configurable": {"thread_id": "sg-int"}}
P("   invoke ->", g.invoke({"log": ["in"]}, cfg)); RUNS.clear()
s = g.get_state(cfg, subgraphs=False)
P("   get_state(subgraphs=False):", snap_str(s))
s = g.get_state(cfg, subgraphs=True)
P("   get_state(subgraphs=True):", snap_str(s))
P("   task.state (subgraph snapshot):", snap_str(s.tasks[0].state))
list_ns(saver, "sg-int")
sub_cfg = g.get_state(cfg).tasks[0].state
P("   get_state(task.state config) addresses the subgraph:", snap_str(g.get_state(sub_cfg)))
P("   get_state_history(subgraph ns):", [ (h.metadata['source'], h.metadata['step'], h.next) for h in g.get_state_history(sub_cfg)])
P("   resume ->", g.invoke(Command(resume="R"), cfg), "RUNS", RUNS); RUNS.clear()
list_ns(saver, "sg-int")
P("   get_state(subgraphs=True) after finish:", snap_str(g.get_state(cfg, subgraphs=True)))

P("== update_state on the subgraph namespace while interrupted")
cfg2 = {"configurable": {"thread_id": "sg-int2"}}
g.invoke({"log": ["in"]}, cfg2); RUNS.clear()
sub_cfg = g.get_state(cfg2).tasks[0].state
r = g.update_state(sub_cfg, {"sub_log": ["EDITED"]})
P("   update_state(sub ns) returned:", r)
P("   sub state now:", snap_str(g.get_state(sub_cfg)))
P("   resume ->", g.invoke(Command(resume="R2"), cfg2), "RUNS", RUNS); RUNS.clear()

P("== interrupt inside subgraph with sub checkpointer=True, two turns")
saver = InMemorySaver(); L.watch(saver)
g = build_parent(saver, build_sub(True, ask=True))
cfg = {"configurable": {"thread_id": "sg-int-true"}}
for turn in (1, 2):
    P(f"   turn {turn} ->", g.invoke({"log": [f"turn{turn}"]}, cfg))
    P(f"   turn {turn} resume ->", g.invoke(Command(resume=f"R{turn}"), cfg), "RUNS", RUNS); RUNS.clear()
list_ns(saver, "sg-int-true")

P("== checkpointer=True on a ROOT graph")
try:
    build_sub(True).invoke({"log": []}, {"configurable": {"thread_id": "x"}})
except Exception as e:
    P("   raised", type(e).__name__, e)

P("== same subgraph called twice inside one node (checkpointer=None): namespaces")
saver = InMemorySaver(); L.watch(saver)
sub = build_sub(None)
b = StateGraph(Parent)
def twice(state):
    sub.invoke({"log": ["x"]}); sub.invoke({"log": ["y"]})
    return {"log": ["twice"]}
b.add_node("n", twice); b.add_edge(START, "n")
gt = b.compile(checkpointer=saver)
gt.invoke({"log": []}, {"configurable": {"thread_id": "sg-twice"}}); RUNS.clear()
list_ns(saver, "sg-twice")

P("== two levels of nesting (inner inside middle inside root), all checkpointer=None")
saver = InMemorySaver(); L.watch(saver)
inner = build_sub(None)
mb = StateGraph(Sub)
mb.add_node("m1", sub_node("m1")); mb.add_node("inner", inner)
mb.add_edge(START, "m1"); mb.add_edge("m1", "inner")
middle = mb.compile()
rb = StateGraph(Parent)
rb.add_node("r1", pnode("r1")); rb.add_node("middle", middle)
rb.add_edge(START, "r1"); rb.add_edge("r1", "middle")
gr = rb.compile(checkpointer=saver)
gr.invoke({"log": []}, {"configurable": {"thread_id": "nest"}}); RUNS.clear()
list_ns(saver, "nest")
