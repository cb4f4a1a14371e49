# ruff: noqa
# Adapted from lg_experiments/01_linear_history.py: imports point at checkpointkit (see tests/engine/golden/README.md).
"""Topic 1 (+9): 3-node linear graph a -> b -> c, reducer field + plain field.

Shows get_state_history after one invoke, then after a second invoke on the
same thread, plus the raw saver contents (channel_values / versions / writes).
"""
import operator
from typing import Annotated

from typing_extensions import TypedDict

from checkpointkit.backends.memory import MemorySaver as InMemorySaver
from checkpointkit.reference_engine import END, START, StateGraph

from _common import L, P, dump_saver, print_history, print_state, versions

print("#", versions())


class State(TypedDict):
    log: Annotated[list, operator.add]  # reducer field
    last: str  # plain LastValue field


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
cfg = {"configurable": {"thread_id": "t1"}}

P("== invoke 1 returns", g.invoke({"log": ["in1"], "last": "in1"}, cfg))
print_history(g, cfg, "history after invoke 1")
dump_saver(saver, "t1", "raw saver after invoke 1")
print_state(g, cfg, "get_state after invoke 1")

P("== invoke 2 returns", g.invoke({"log": ["in2"]}, cfg))
print_history(g, cfg, "history after invoke 2")

# get_state_history filters / limit / before
h = list(g.get_state_history(cfg))
P("== list(filter={'source':'input'}) ->", [ (L.norm(s.config['configurable']['checkpoint_id']), s.metadata['step']) for s in g.get_state_history(cfg, filter={"source": "input"})])
P("== list(limit=2) ->", [L.norm(s.config['configurable']['checkpoint_id']) for s in g.get_state_history(cfg, limit=2)])
P("== list(before=h[3].config) ->", [L.norm(s.config['configurable']['checkpoint_id']) for s in g.get_state_history(cfg, before=h[3].config)])
P("== list(filter={'step': 1}) ->", [L.norm(s.config['configurable']['checkpoint_id']) for s in g.get_state_history(cfg, filter={"step": 1})])

# get_state of an explicit past checkpoint
print_state(g, h[-2].config, "get_state(explicit step-0 checkpoint)")
P("== config returned by get_state (latest):", g.get_state(cfg).config)

# a fresh thread with no checkpoints
print_state(g, {"configurable": {"thread_id": "nobody"}}, "get_state(unknown thread)")
P("== history(unknown thread) ->", list(g.get_state_history({"configurable": {"thread_id": "nobody"}})))

# invoke with no checkpointer at all (same graph, no saver): plain run
g0 = StateGraph(State)
for n in "abc":
    g0.add_node(n, mk(n))
g0.add_edge(START, "a"); g0.add_edge("a", "b"); g0.add_edge("b", "c")
P("== no checkpointer invoke ->", g0.compile().invoke({"log": ["x"]}))

# Input that does not mention the plain field; and partial input later
P("== new thread, input without 'last':", g.invoke({"log": []}, {"configurable": {"thread_id": "t2"}}))
print_history(g, {"configurable": {"thread_id": "t2"}}, "history t2")

P("== metadata: extra configurable keys and config['metadata'] are copied into checkpoint metadata?")
g.invoke({"log": []}, {"configurable": {"thread_id": "t3", "user_id": "u1", "__private": 1}, "metadata": {"tag": "x"}, "run_id": None})
for s in g.get_state_history({"configurable": {"thread_id": "t3"}}):
    # MemorySaver returns metadata keys sorted; print LangGraph's order (source, step, parents, rest).
    P("  ", {**{k: s.metadata[k] for k in ("source", "step", "parents")}, **{k: s.metadata[k] for k in sorted(s.metadata) if k not in ("source", "step", "parents")}})

P("== raw Checkpoint dicts for thread t1 (versions normalised to ints): versions_seen drives 'next'")
from _common import nver
for t in list(reversed(list(saver.list({"configurable": {"thread_id": "t1"}}))))[:6]:
    ck = t.checkpoint
    P(f"   {L.norm(ck['id'])} step={t.metadata['step']} v={ck['v']} keys={sorted(ck.keys())}")
    P(f"      channel_versions={nver(ck['channel_versions'])}")
    P(f"      versions_seen={ {n: nver(v) for n, v in ck['versions_seen'].items()} }")
    P(f"      updated_channels={ck.get('updated_channels')}")
