# ruff: noqa
# Adapted from lg_experiments/02_update_state.py: imports point at checkpointkit (see tests/engine/golden/README.md).
"""Topic 2: update_state through reducers, as_node, Overwrite, fork of a past checkpoint."""
import operator
from typing import Annotated

from typing_extensions import TypedDict

from checkpointkit.backends.memory import MemorySaver as InMemorySaver
from checkpointkit.reference_engine import InvalidUpdateError
from checkpointkit.reference_engine import END, START, StateGraph
from checkpointkit.reference_engine import Overwrite

from _common import L, P, dump_saver, print_history, print_state, versions

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


saver = InMemorySaver()
L.watch(saver)
g = build(saver)
cfg = {"configurable": {"thread_id": "u1"}}
g.invoke({"log": ["in"], "last": "in"}, cfg)
RUNS.clear()

P("== A. update_state(cfg, {'log':['X'], 'last':'X'}) with no as_node, on finished thread")
ret = g.update_state(cfg, {"log": ["X"], "last": "X"})
P("   returned config:", ret)
print_state(g, cfg)
P("   RUNS (nodes executed by update_state):", RUNS)

P("== B. update_state(as_node='a') -> next becomes successors of a")
ret = g.update_state(cfg, {"log": ["Y"]}, as_node="a")
s = print_state(g, cfg)
P("== B2. invoke(None) continues from there: RUNS")
P("   result:", g.invoke(None, cfg))
P("   RUNS:", RUNS)
RUNS.clear()

P("== C. Overwrite replaces the reducer value")
g.update_state(cfg, {"log": Overwrite(["only"])}, as_node="c")
print_state(g, cfg)
P("== C2. two Overwrites for the same key in one update -> error?")
try:
    g.bulk_update_state(cfg, [[({"log": Overwrite(["o1"])}, "a", None), ({"log": Overwrite(["o2"])}, "b", None)]])
    print_state(g, cfg)
except Exception as e:
    P("   raised", type(e).__name__, str(e).splitlines()[0])
P("== C3. dict form {'__overwrite__': v} also overwrites")
g.update_state(cfg, {"log": {"__overwrite__": ["dictform"]}}, as_node="c")
print_state(g, cfg)

P("== C4. a NODE returning Overwrite, and Overwrite inside the graph input")
bo = StateGraph(State)
bo.add_node("a", mk("a"))
bo.add_node("reset", lambda s: {"log": Overwrite(["reset"])})
bo.add_node("c", mk("c"))
bo.add_edge(START, "a"); bo.add_edge("a", "reset"); bo.add_edge("reset", "c")
go = bo.compile(checkpointer=saver)
co = {"configurable": {"thread_id": "u-ow"}}
P("   run 1:", go.invoke({"log": ["in"]}, co))
P("   run 2 with input {'log': Overwrite(['fresh'])}:", go.invoke({"log": Overwrite(["fresh"])}, co))
P("   values per checkpoint (oldest first):", [s.values.get("log") for s in reversed(list(go.get_state_history(co)))])
RUNS.clear()

P("== D. as_node=unknown / LastValue twice in one step")
try:
    g.update_state(cfg, {"last": "z"}, as_node="nope")
except Exception as e:
    P("   raised", type(e).__name__, e)
try:
    g.bulk_update_state(cfg, [[({"last": "p"}, "a", None), ({"last": "q"}, "b", None)]])
except Exception as e:
    P("   raised", type(e).__name__, str(e).splitlines()[0])

P("== E. as_node inference when ambiguous: new thread after parallel nodes")


class S2(TypedDict):
    log: Annotated[list, operator.add]


b = StateGraph(S2)
b.add_node("p", lambda s: {"log": ["p"]})
b.add_node("q", lambda s: {"log": ["q"]})
b.add_edge(START, "p"); b.add_edge(START, "q")
gp = b.compile(checkpointer=saver)
cp = {"configurable": {"thread_id": "u-par"}}
gp.invoke({"log": []}, cp)
try:
    gp.update_state(cp, {"log": ["r"]})
except Exception as e:
    P("   raised", type(e).__name__, e)

P("== F. update_state on an empty thread (no checkpoints yet)")
cnew = {"configurable": {"thread_id": "u-empty"}}
r = g.update_state(cnew, {"log": ["seed"], "last": "seed"})
P("   returned:", r)
print_history(g, cnew, "history of u-empty")
try:
    g.update_state({"configurable": {"thread_id": "u-empty2"}}, {"log": ["seed"]}, as_node="a")
    print_history(g, {"configurable": {"thread_id": "u-empty2"}}, "history of u-empty2 (as_node=a)")
    P("   invoke(None) ->", g.invoke(None, {"configurable": {"thread_id": "u-empty2"}}))
except Exception as e:
    P("   raised", type(e).__name__, e)
RUNS.clear()
P("== F2. update_state(as_node='__start__') on empty thread (same as inferred): source update, step 0")
cin = {"configurable": {"thread_id": "u-asinput"}}
g.update_state(cin, {"log": ["viaInput"]}, as_node="__start__")
print_history(g, cin, "history u-asinput")
P("   invoke(None) ->", g.invoke(None, cin), "RUNS", RUNS)
RUNS.clear()

P("== F3. update_state(as_node='__input__') = acts as graph input (source 'input')")
cin3 = {"configurable": {"thread_id": "u-input3"}}
g.update_state(cin3, {"log": ["viaINPUT"]}, as_node="__input__")
print_history(g, cin3, "history u-input3 (empty thread)")
P("   invoke(None) ->", g.invoke(None, cin3), "RUNS", RUNS)
RUNS.clear()
g.update_state(cin3, {"log": ["again"]}, as_node="__input__")
print_history(g, cin3, "history u-input3 after second __input__ update on finished thread")
P("   invoke(None) ->", g.invoke(None, cin3), "RUNS", RUNS)
RUNS.clear()

P("== G. FORK: update_state on a PAST checkpoint (thread u2)")
c2 = {"configurable": {"thread_id": "u2"}}
g.invoke({"log": ["in"], "last": "in"}, c2)
RUNS.clear()
hist = list(g.get_state_history(c2))
past = [h for h in hist if h.metadata["step"] == 1][0]  # checkpoint after 'a', next=('b',)
P("   past checkpoint:", L.norm(past.config["configurable"]["checkpoint_id"]), "next", past.next, "values", past.values)
fork_cfg = g.update_state(past.config, {"last": "FORKED", "log": ["F"]})
P("   update_state returned:", fork_cfg)
print_history(g, c2, "history after fork")
print_state(g, c2, "get_state(thread) (latest = the fork)")
P("== G2. invoke(None, fork_cfg)")
P("   result:", g.invoke(None, fork_cfg))
P("   RUNS:", RUNS)
RUNS.clear()
print_history(g, c2, "history after running the fork")

P("== H. update_state with as_node=END-like clear: update_state(cfg, None, as_node='__end__')? (values None + END clears tasks)")
c3 = {"configurable": {"thread_id": "u3"}}
b3 = StateGraph(State)
for n in "abc":
    b3.add_node(n, mk(n))
b3.add_edge(START, "a"); b3.add_edge("a", "b"); b3.add_edge("b", "c")
g3 = b3.compile(checkpointer=saver, interrupt_before=["b"])
g3.invoke({"log": ["in"]}, c3)
print_state(g3, c3, "before clear")
g3.update_state(c3, None, as_node=END)
print_state(g3, c3, "after update_state(None, as_node=END)")
RUNS.clear()
P("   invoke(None) ->", g3.invoke(None, c3), "RUNS", RUNS)

P("== I. as_node='__copy__' duplicates a checkpoint (source 'fork')")
c4 = {"configurable": {"thread_id": "u4"}}
g.invoke({"log": ["in"]}, c4)
h4 = list(g.get_state_history(c4))
pastb = [h for h in h4 if h.metadata["step"] == 1][0]
r = g.update_state(pastb.config, None, as_node="__copy__")
P("   copy returned:", r)
print_history(g, c4, "history u4 after __copy__ of step-1 checkpoint")
