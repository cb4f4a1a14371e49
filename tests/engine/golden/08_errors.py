# ruff: noqa
# Adapted from lg_experiments/08_errors.py: imports point at checkpointkit (see tests/engine/golden/README.md).
"""Topic 8: config errors - missing thread_id, unknown checkpoint_id, empty input, recursion limit."""
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


def mk(name):
    def fn(state):
        RUNS.append(name)
        return {"log": [name]}
    return fn


def build(saver, loop=False):
    b = StateGraph(State)
    for n in "abc":
        b.add_node(n, mk(n))
    b.add_edge(START, "a"); b.add_edge("a", "b"); b.add_edge("b", "c")
    if loop:
        b.add_edge("c", "a")
    else:
        b.add_edge("c", END)
    return b.compile(checkpointer=saver)


def attempt(label, fn):
    try:
        r = fn()
        P(f"   {label} -> OK:", r)
    except BaseException as e:
        P(f"   {label} -> {type(e).__module__}.{type(e).__name__}: {e}")


saver = InMemorySaver(); L.watch(saver)
g = build(saver)

P("== A. missing thread_id with a checkpointer")
attempt("invoke(input) no config", lambda: g.invoke({"log": []}))
attempt("invoke(input, {})", lambda: g.invoke({"log": []}, {}))
attempt("invoke(input, {'configurable': {}})", lambda: g.invoke({"log": []}, {"configurable": {}}))
attempt("invoke(input, {'configurable': {'foo': 1}})", lambda: g.invoke({"log": []}, {"configurable": {"foo": 1}}))
attempt("get_state({'configurable': {}})", lambda: g.get_state({"configurable": {}}))
attempt("get_state({})", lambda: g.get_state({}))
attempt("list(get_state_history({'configurable': {}}))", lambda: list(g.get_state_history({"configurable": {}})))
attempt("update_state({'configurable': {}}, ...)", lambda: g.update_state({"configurable": {}}, {"log": ["x"]}, as_node="a"))
attempt("stream(...) no config (consumed)", lambda: list(g.stream({"log": []})))
attempt("thread_id=123 (int) is accepted, coerced to str", lambda: (g.invoke({"log": []}, {"configurable": {"thread_id": 123}}), g.get_state({"configurable": {"thread_id": "123"}}).values))
RUNS.clear()

P("== B. no checkpointer: state APIs")
g0 = build(None)
attempt("get_state without checkpointer", lambda: g0.get_state({"configurable": {"thread_id": "x"}}))
attempt("update_state without checkpointer", lambda: g0.update_state({"configurable": {"thread_id": "x"}}, {"log": ["x"]}))
attempt("invoke with thread_id but no checkpointer", lambda: g0.invoke({"log": []}, {"configurable": {"thread_id": "x"}}))
RUNS.clear()

P("== C. unknown checkpoint_id")
cfg = {"configurable": {"thread_id": "e1"}}
g.invoke({"log": ["in"]}, cfg); RUNS.clear()
bogus = {"configurable": {"thread_id": "e1", "checkpoint_id": "1f0aaaaa-0000-6000-8000-000000000000"}}
attempt("get_state(unknown id)", lambda: L.norm(repr(g.get_state(bogus))))
attempt("invoke(None, unknown id)", lambda: g.invoke(None, bogus))
P("   RUNS:", RUNS); RUNS.clear()
attempt("invoke(input, unknown id)", lambda: g.invoke({"log": ["x"]}, bogus))
P("   RUNS:", RUNS); RUNS.clear()
print_history(g, cfg, "history e1 after invoke(input, unknown id)")
attempt("update_state(unknown id)", lambda: g.update_state(bogus, {"log": ["u"]}, as_node="a"))
print_history(g, cfg, "history e1 after update_state(unknown id)")
attempt("get_state_history(config with unknown checkpoint_id)", lambda: [s.metadata for s in g.get_state_history(bogus)])
attempt("get_state_history(config with KNOWN checkpoint_id) lists only that one", lambda: [s.metadata["step"] for s in g.get_state_history(g.get_state(cfg).config)])

P("== D. invoke(None) on a thread with no checkpoints")
attempt("invoke(None, new thread)", lambda: g.invoke(None, {"configurable": {"thread_id": "empty"}}))
P("   checkpoints on 'empty':", len(list(saver.list({"configurable": {"thread_id": "empty"}}))))
attempt("invoke({}, new thread) (input with no keys)", lambda: g.invoke({}, {"configurable": {"thread_id": "empty2"}}))
RUNS.clear()
P("== E. invoke(None) on a finished thread (no checkpoint_id): no-op, no new checkpoint")
cfg2 = {"configurable": {"thread_id": "e2"}}
g.invoke({"log": ["in"]}, cfg2); RUNS.clear()
n0 = len(list(saver.list(cfg2)))
attempt("invoke(None, finished thread)", lambda: g.invoke(None, cfg2))
P("   checkpoints before/after:", n0, len(list(saver.list(cfg2))), "RUNS", RUNS)
RUNS.clear()

P("== F. recursion limit")
gl = build(saver, loop=True)
attempt("invoke looping graph recursion_limit=4", lambda: gl.invoke({"log": []}, {"configurable": {"thread_id": "loop"}, "recursion_limit": 4}))
P("   RUNS:", RUNS); RUNS.clear()
print_history(gl, {"configurable": {"thread_id": "loop"}}, "history loop thread")
attempt("continue invoke(None) with recursion_limit=2", lambda: gl.invoke(None, {"configurable": {"thread_id": "loop"}, "recursion_limit": 2}))
P("   RUNS:", RUNS); RUNS.clear()
P("   steps now:", [h.metadata["step"] for h in gl.get_state_history({"configurable": {"thread_id": "loop"}})])
