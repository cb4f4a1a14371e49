# ruff: noqa
# Adapted from lg_experiments/06_durability.py: imports point at checkpointkit (see tests/engine/golden/README.md).
"""Topic 6: durability = 'sync' | 'async' | 'exit' -- what is persisted."""
import operator
from typing import Annotated

from typing_extensions import TypedDict

from checkpointkit.backends.memory import MemorySaver as InMemorySaver
from checkpointkit.reference_engine import END, START, StateGraph
from checkpointkit.reference_engine import Command, interrupt

from _common import L, P, dump_saver, print_history, versions

print("#", versions())
RUNS = []
FAIL = {}


class State(TypedDict):
    log: Annotated[list, operator.add]


def mk(name, fail_first=False, ask=False):
    def fn(state):
        RUNS.append(name)
        if fail_first and not FAIL.get(name):
            FAIL[name] = True
            raise ValueError(f"{name} boom")
        if ask:
            v = interrupt(f"{name}?")
            return {"log": [f"{name}={v}"]}
        return {"log": [name]}
    return fn


def build(saver, **kw):
    b = StateGraph(State)
    b.add_node("a", mk("a")); b.add_node("b", mk("b", **kw)); b.add_node("c", mk("c"))
    b.add_edge(START, "a"); b.add_edge("a", "b"); b.add_edge("b", "c"); b.add_edge("c", END)
    return b.compile(checkpointer=saver)


for mode in ("sync", "async", "exit", None):
    saver = InMemorySaver()
    L.watch(saver)
    g = build(saver)
    cfg = {"configurable": {"thread_id": f"d-{mode}"}}
    kw = {} if mode is None else {"durability": mode}
    g.invoke({"log": ["in"]}, cfg, **kw)
    rows = list(saver.list(None))
    P(f"== durability={mode!r}: 1st run -> {len(rows)} checkpoints:",
      [(r.metadata.get("source"), r.metadata.get("step")) for r in rows])
    g.invoke({"log": ["in2"]}, cfg, **kw)
    rows = list(saver.list(None))
    P(f"   after 2nd run -> {len(rows)} checkpoints:", [(r.metadata.get("source"), r.metadata.get("step")) for r in rows])
    if mode == "exit":
        dump_saver(saver, f"d-{mode}", "raw saver (exit mode)")
        print_history(g, cfg, "history (exit mode)")
    L.savers.remove(saver)

P("== exit mode + a node that raises (b fails first time)")
saver = InMemorySaver(); L.watch(saver)
g = build(saver, fail_first=True)
cfg = {"configurable": {"thread_id": "d-exit-fail"}}
try:
    g.invoke({"log": ["in"]}, cfg, durability="exit")
except Exception as e:
    P("   raised", type(e).__name__, e)
dump_saver(saver, "d-exit-fail", "raw saver after failure (exit mode)")
RUNS.clear()
P("   resume invoke(None) ->", g.invoke(None, cfg, durability="exit"), "RUNS", RUNS); RUNS.clear()
dump_saver(saver, "d-exit-fail", "raw saver after resume (exit mode)")
L.savers.remove(saver)

P("== exit mode + interrupt() in b")
saver = InMemorySaver(); L.watch(saver)
g = build(saver, ask=True)
cfg = {"configurable": {"thread_id": "d-exit-int"}}
P("   ->", g.invoke({"log": ["in"]}, cfg, durability="exit"))
dump_saver(saver, "d-exit-int", "raw saver at interrupt (exit mode)")
RUNS.clear()
P("   resume ->", g.invoke(Command(resume="Z"), cfg, durability="exit"), "RUNS", RUNS); RUNS.clear()
dump_saver(saver, "d-exit-int", "raw saver after resume (exit mode)")
print_history(g, cfg, "history")

P("== durability given via config['configurable']['__pregel_durability'] is internal; default when omitted = 'async'")
