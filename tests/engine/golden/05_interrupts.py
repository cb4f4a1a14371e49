# ruff: noqa
# Adapted from lg_experiments/05_interrupts.py: imports point at checkpointkit (see tests/engine/golden/README.md).
"""Topic 5: interrupt() / Command(resume=...) / interrupt_before / interrupt_after."""
import operator
from typing import Annotated

from typing_extensions import TypedDict

from checkpointkit.backends.memory import MemorySaver as InMemorySaver
from checkpointkit.reference_engine import END, START, StateGraph
from checkpointkit.reference_engine import Command, interrupt

from _common import L, P, dump_saver, print_history, print_state, versions

print("#", versions())
RUNS = []


class State(TypedDict):
    log: Annotated[list, operator.add]
    answer: str


def plain(name):
    def fn(state):
        RUNS.append(name)
        return {"log": [name]}
    return fn


def asking(name, n_questions=1, write_answer=True):
    def fn(state):
        RUNS.append(name)
        answers = []
        for i in range(n_questions):
            answers.append(interrupt(f"{name} question {i}"))
            RUNS.append(f"{name}:got:{answers[-1]}")
        if not write_answer:
            return {"log": [f"{name}={'/'.join(map(str, answers))}"]}
        return {"log": [name], "answer": "/".join(map(str, answers))}
    return fn


def linear(saver, b_fn, **compile_kw):
    b = StateGraph(State)
    b.add_node("a", plain("a")); b.add_node("b", b_fn); b.add_node("c", plain("c"))
    b.add_edge(START, "a"); b.add_edge("a", "b"); b.add_edge("b", "c"); b.add_edge("c", END)
    return b.compile(checkpointer=saver, **compile_kw)


saver = InMemorySaver()
L.watch(saver)

P("== A. interrupt() inside node b")
g = linear(saver, asking("b"))
cfg = {"configurable": {"thread_id": "i1"}}
out = g.invoke({"log": ["in"]}, cfg)
P("   invoke returned:", out)
P("   RUNS:", RUNS); RUNS.clear()
s = print_state(g, cfg, "get_state while interrupted")
P("   state.interrupts:", [(i.value, i.id) for i in s.interrupts])
dump_saver(saver, "i1", "raw saver while interrupted")
P("-- resume with Command(resume='yes')")
out = g.invoke(Command(resume="yes"), cfg)
P("   invoke returned:", out)
P("   RUNS (b re-executes from the top):", RUNS); RUNS.clear()
print_history(g, cfg, "history after resume")
dump_saver(saver, "i1", "raw saver after resume")

P("== A2. stream(updates) shows the interrupt event; invoke(None) while interrupted re-raises it")
cfg = {"configurable": {"thread_id": "i1b"}}
for ev in g.stream({"log": ["in"]}, cfg, stream_mode="updates"):
    P("  ", ev)
P("   invoke(None) ->", g.invoke(None, cfg), "RUNS", RUNS); RUNS.clear()
P("   n checkpoints:", len(list(g.get_state_history(cfg))))
for ev in g.stream(Command(resume="ok"), cfg, stream_mode="values"):
    P("   values:", ev)
RUNS.clear()

P("== B. two interrupts in one node, answered one at a time")
g = linear(saver, asking("b", 2))
cfg = {"configurable": {"thread_id": "i2"}}
P("   1st:", g.invoke({"log": ["in"]}, cfg))
P("   2nd (resume r1):", g.invoke(Command(resume="r1"), cfg))
dump_saver(saver, "i2", "raw saver between the two answers")
P("   3rd (resume r2):", g.invoke(Command(resume="r2"), cfg))
P("   RUNS:", RUNS); RUNS.clear()

P("== C. two parallel interrupting nodes, resume by id map")
b = StateGraph(State)
b.add_node("a", plain("a")); b.add_node("x", asking("x", write_answer=False)); b.add_node("y", asking("y", write_answer=False)); b.add_node("c", plain("c"))
b.add_edge(START, "a"); b.add_edge("a", "x"); b.add_edge("a", "y"); b.add_edge(["x", "y"], "c")
gp = b.compile(checkpointer=saver)
cfg = {"configurable": {"thread_id": "i3"}}
out = gp.invoke({"log": ["in"]}, cfg)
P("   invoke returned:", out)
s = print_state(gp, cfg, "get_state")
try:
    gp.invoke(Command(resume="single"), cfg)
except Exception as e:
    P("   resume with a single value raised:", type(e).__name__, str(e)[:80])
ids = {i.value: i.id for i in s.interrupts}
RUNS.clear()
P("   resume only x by id:", gp.invoke(Command(resume={ids["x question 0"]: "X!"}), cfg))
P("   RUNS:", RUNS); RUNS.clear()
print_state(gp, cfg, "get_state after answering x only")
P("   resume y by id:", gp.invoke(Command(resume={ids["y question 0"]: "Y!"}), cfg))
P("   RUNS:", RUNS); RUNS.clear()

P("== D. interrupt_before=['b'] at compile")
g = linear(saver, plain("b"), interrupt_before=["b"])
cfg = {"configurable": {"thread_id": "i4"}}
P("   invoke returned:", g.invoke({"log": ["in"]}, cfg))
P("   RUNS:", RUNS); RUNS.clear()
print_history(g, cfg, "history at interrupt_before")
P("   invoke(None) ->", g.invoke(None, cfg), "RUNS", RUNS); RUNS.clear()
print_history(g, cfg, "history after continuing")

P("== D2. interrupt_before + update_state while paused, then continue")
cfg = {"configurable": {"thread_id": "i4b"}}
g.invoke({"log": ["in"]}, cfg); RUNS.clear()
g.update_state(cfg, {"log": ["EDIT"]})
print_state(g, cfg, "after update_state while paused (as_node inferred)")
P("   invoke(None) ->", g.invoke(None, cfg), "RUNS", RUNS); RUNS.clear()

P("== D3. interrupt_before, then Command(resume=...) with no interrupt pending")
cfg = {"configurable": {"thread_id": "i4c"}}
g.invoke({"log": ["in"]}, cfg); RUNS.clear()
try:
    P("   ->", g.invoke(Command(resume="x"), cfg), "RUNS", RUNS); RUNS.clear()
except Exception as e:
    P("   raised", type(e).__name__, e)

P("== E. interrupt_after=['a'] at compile")
g = linear(saver, plain("b"), interrupt_after=["a"])
cfg = {"configurable": {"thread_id": "i5"}}
P("   invoke returned:", g.invoke({"log": ["in"]}, cfg))
P("   RUNS:", RUNS); RUNS.clear()
print_history(g, cfg, "history at interrupt_after")
P("   invoke(None) ->", g.invoke(None, cfg), "RUNS", RUNS); RUNS.clear()
P("   sources/steps:", [(h.metadata["source"], h.metadata["step"], h.next) for h in g.get_state_history(cfg)])

P("== F. interrupt_before passed at invoke time instead of compile")
g = linear(saver, plain("b"))
cfg = {"configurable": {"thread_id": "i6"}}
P("   invoke(..., interrupt_before=['c']) ->", g.invoke({"log": ["in"]}, cfg, interrupt_before=["c"]))
P("   next:", g.get_state(cfg).next); RUNS.clear()
P("   invoke(None) (no interrupt_before now) ->", g.invoke(None, cfg), RUNS); RUNS.clear()

P("== G. Command(update=..., resume=...) and Command(goto=...) as input")
g = linear(saver, asking("b"))
cfg = {"configurable": {"thread_id": "i7"}}
g.invoke({"log": ["in"]}, cfg); RUNS.clear()
P("   Command(update={'log':['U']}, resume='ans') ->", g.invoke(Command(update={"log": ["U"]}, resume="ans"), cfg))
P("   RUNS", RUNS); RUNS.clear()
P("   sources/steps:", [(h.metadata["source"], h.metadata["step"], h.next) for h in g.get_state_history(cfg)])
dump_saver(saver, "i7", "raw i7 (Command update+resume are stored as writes of the null task 00000000-... on the interrupted checkpoint)")
g2 = linear(saver, plain("b"))
cfg = {"configurable": {"thread_id": "i8"}}
g2.invoke({"log": ["in"]}, cfg); RUNS.clear()
P("   finished thread, Command(goto='b') ->", g2.invoke(Command(goto="b"), cfg), "RUNS", RUNS); RUNS.clear()
P("   sources/steps:", [(h.metadata["source"], h.metadata["step"], h.next) for h in g2.get_state_history(cfg)][:3])
P("   NULL task id constant:", __import__("checkpointkit.checkpoint", fromlist=["NULL_TASK_ID"]).NULL_TASK_ID)

P("== H. interrupt without checkpointer")
b = StateGraph(State)
b.add_node("b", asking("b")); b.add_edge(START, "b")
try:
    P("   ->", b.compile().invoke({"log": []}))
except Exception as e:
    P("   raised", type(e).__name__, str(e)[:120])
try:
    P("   Command(resume) without checkpointer ->", b.compile().invoke(Command(resume="x")))
except Exception as e:
    P("   Command(resume) without checkpointer raised", type(e).__name__, str(e)[:120])
RUNS.clear()

P("== I. replay (time travel) to the checkpoint before an interrupt re-fires the interrupt")
g = linear(saver, asking("b"))
cfg = {"configurable": {"thread_id": "i9"}}
g.invoke({"log": ["in"]}, cfg)
g.invoke(Command(resume="first"), cfg); RUNS.clear()
past = [h for h in g.get_state_history(cfg) if h.next == ("b",)][0]
P("   invoke(None, past) ->", g.invoke(None, past.config), "RUNS", RUNS); RUNS.clear()
print_state(g, cfg, "get_state")
P("   Command(resume='second') ->", g.invoke(Command(resume="second"), cfg), "RUNS", RUNS); RUNS.clear()
P("   history:", [(L.norm(h.config["configurable"]["checkpoint_id"]), h.metadata["source"], h.metadata["step"], h.next, L.norm(h.parent_config["configurable"]["checkpoint_id"]) if h.parent_config else None) for h in g.get_state_history(cfg)])
