# ruff: noqa
# Adapted from lg_experiments/11_parallel_order.py: imports point at checkpointkit (see tests/engine/golden/README.md).
"""Extra: ordering of reducer writes inside one super-step, conditional edges, Send, 'next' tuples."""
import operator
import time
from typing import Annotated

from typing_extensions import TypedDict

from checkpointkit.backends.memory import MemorySaver as InMemorySaver
from checkpointkit.reference_engine import END, START, StateGraph
from checkpointkit.reference_engine import Command, Send

from _common import L, P, dump_saver, print_history, versions

print("#", versions())


class State(TypedDict):
    log: Annotated[list, operator.add]
    route: str


def mk(name, sleep=0.0):
    def fn(state):
        time.sleep(sleep)
        return {"log": [name]}
    return fn


saver = InMemorySaver(); L.watch(saver)

P("== A. fan-out to 'zeta' (fast) and 'alpha' (slow): write order in the reducer")
b = StateGraph(State)
b.add_node("zeta", mk("zeta", 0.0)); b.add_node("alpha", mk("alpha", 0.3)); b.add_node("mid", mk("mid", 0.1))
b.add_edge(START, "zeta"); b.add_edge(START, "alpha"); b.add_edge(START, "mid")
g = b.compile(checkpointer=saver)
cfg = {"configurable": {"thread_id": "order"}}
P("   result:", g.invoke({"log": []}, cfg))
P("   stream updates order (completion order):", [list(e.keys())[0] for e in g.stream({"log": []}, {"configurable": {"thread_id": "order2"}})])
print_history(g, cfg, "history")

P("== B. conditional edge")
b = StateGraph(State)
b.add_node("a", mk("a")); b.add_node("b", mk("b")); b.add_node("c", mk("c"))
b.add_edge(START, "a")
b.add_conditional_edges("a", lambda s: s["route"], {"to_b": "b", "to_c": "c", "end": END})
g = b.compile(checkpointer=saver)
for r in ("to_b", "to_c", "end"):
    cfg = {"configurable": {"thread_id": f"cond-{r}"}}
    P(f"   route={r}:", g.invoke({"log": [], "route": r}, cfg), "| next per checkpoint:", [h.next for h in reversed(list(g.get_state_history(cfg)))])
dump_saver(saver, "cond-to_b", "raw cond-to_b")

P("== C. Send fan-out (map) : next shows one entry per Send")
b = StateGraph(State)
b.add_node("a", mk("a"))
def worker(arg):
    return {"log": [f"w{arg['i']}"]}
b.add_node("w", worker)
b.add_edge(START, "a")
b.add_conditional_edges("a", lambda s: [Send("w", {"i": i}) for i in (2, 0, 1)])
g = b.compile(checkpointer=saver, interrupt_before=["w"])
cfg = {"configurable": {"thread_id": "send"}}
P("   invoke (interrupt_before w):", g.invoke({"log": []}, cfg))
st = g.get_state(cfg)
P("   next:", st.next, "| tasks:", [(t.name, t.path) for t in st.tasks])
dump_saver(saver, "send", "raw send thread")
P("   continue:", g.invoke(None, cfg))

P("== D. Command(goto=...) returned from a node")
b = StateGraph(State)
def a(state):
    return Command(update={"log": ["a"]}, goto="c")
b.add_node("a", a, destinations=("b", "c")); b.add_node("b", mk("b")); b.add_node("c", mk("c"))
b.add_edge(START, "a")
g = b.compile(checkpointer=saver)
cfg = {"configurable": {"thread_id": "goto"}}
P("   result:", g.invoke({"log": []}, cfg), "| next per checkpoint:", [h.next for h in reversed(list(g.get_state_history(cfg)))])

P("== E. join edge add_edge(['x','y'], 'z') waits for both even if in different steps")
b = StateGraph(State)
b.add_node("x", mk("x")); b.add_node("x2", mk("x2")); b.add_node("y", mk("y")); b.add_node("z", mk("z"))
b.add_edge(START, "x"); b.add_edge("x", "x2"); b.add_edge(START, "y"); b.add_edge(["x2", "y"], "z")
g = b.compile(checkpointer=saver)
cfg = {"configurable": {"thread_id": "join"}}
P("   result:", g.invoke({"log": []}, cfg), "| (step,next):", [(h.metadata['step'], h.next) for h in reversed(list(g.get_state_history(cfg)))])
P("   compare plain edges x2->z and y->z (z runs twice):")
b = StateGraph(State)
b.add_node("x", mk("x")); b.add_node("x2", mk("x2")); b.add_node("y", mk("y")); b.add_node("z", mk("z"))
b.add_edge(START, "x"); b.add_edge("x", "x2"); b.add_edge(START, "y"); b.add_edge("x2", "z"); b.add_edge("y", "z")
g = b.compile(checkpointer=saver)
cfg = {"configurable": {"thread_id": "nojoin"}}
P("   result:", g.invoke({"log": []}, cfg), "| (step,next):", [(h.metadata['step'], h.next) for h in reversed(list(g.get_state_history(cfg)))])
