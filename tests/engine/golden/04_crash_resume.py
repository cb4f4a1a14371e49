# ruff: noqa
# Adapted from lg_experiments/04_crash_resume.py: imports point at checkpointkit (see tests/engine/golden/README.md).
"""Topic 4: failures and resume.

A. linear a -> b -> c, b raises on its first call (in-memory saver).
B. fan-out a -> (b1, b2) -> c; b1 succeeds quickly, b2 sleeps then raises, same super-step.
C. same as B but b2 raises immediately while b1 is still running (b1 slower).
D. SqliteSaver: a child process is killed with os._exit() inside node b (and inside
   parallel b2), a new process resumes from the same db file.
"""
import operator
import os
import subprocess
import sys
import time
from typing import Annotated

from typing_extensions import TypedDict

from checkpointkit.backends.memory import MemorySaver as InMemorySaver
from checkpointkit.reference_engine import END, START, StateGraph

from _common import L, P, dump_saver, print_history, print_state, versions

RUNS = []
FAIL = {}


class State(TypedDict):
    log: Annotated[list, operator.add]


def node(name, fail_first=False, sleep=0.0, fail_sleep=0.0):
    def fn(state: State):
        RUNS.append(name)
        if fail_first and not FAIL.get(name):
            FAIL[name] = True
            time.sleep(fail_sleep)
            raise ValueError(f"{name} boom")
        time.sleep(sleep)
        return {"log": [name]}

    return fn


def linear(saver):
    b = StateGraph(State)
    b.add_node("a", node("a"))
    b.add_node("b", node("b", fail_first=True))
    b.add_node("c", node("c"))
    b.add_edge(START, "a"); b.add_edge("a", "b"); b.add_edge("b", "c"); b.add_edge("c", END)
    return b.compile(checkpointer=saver)


def fanout(saver, b1_sleep, b2_fail_sleep):
    b = StateGraph(State)
    b.add_node("a", node("a"))
    b.add_node("b1", node("b1", sleep=b1_sleep))
    b.add_node("b2", node("b2", fail_first=True, fail_sleep=b2_fail_sleep))
    b.add_node("c", node("c"))
    b.add_edge(START, "a"); b.add_edge("a", "b1"); b.add_edge("a", "b2")
    b.add_edge(["b1", "b2"], "c"); b.add_edge("c", END)
    return b.compile(checkpointer=saver)


def run_inmemory():
    print("#", versions())
    saver = InMemorySaver()
    L.watch(saver)

    P("== A. linear, b raises on first call")
    g = linear(saver)
    cfg = {"configurable": {"thread_id": "crashA"}}
    try:
        g.invoke({"log": ["in"]}, cfg)
    except Exception as e:
        P("   invoke raised:", type(e).__name__, e)
    P("   RUNS:", RUNS); RUNS.clear()
    print_state(g, cfg, "get_state after failure")
    dump_saver(saver, "crashA", "raw saver after failure")
    print_history(g, cfg, "history after failure")
    P("   resume invoke(None) ->", g.invoke(None, cfg))
    P("   RUNS:", RUNS); RUNS.clear()
    print_history(g, cfg, "history after resume")

    for label, b1_sleep, b2_fail_sleep in (("B", 0.0, 0.3), ("C", 0.5, 0.0)):
        P(f"== {label}. fan-out a -> (b1,b2) -> c ; b1 sleep={b1_sleep}s, b2 raises after {b2_fail_sleep}s")
        FAIL.clear()
        g = fanout(saver, b1_sleep, b2_fail_sleep)
        cfg = {"configurable": {"thread_id": f"crash{label}"}}
        t0 = time.time()
        try:
            g.invoke({"log": ["in"]}, cfg)
        except Exception as e:
            P("   invoke raised:", type(e).__name__, e, f"(after ~{round(time.time()-t0,1)}s)")
        time.sleep(0.8)  # let any still-running sibling finish
        P("   RUNS:", RUNS); RUNS.clear()
        print_state(g, cfg, "get_state after failure (live)")
        st = g.get_state(cfg)
        print_state(g, st.config, "get_state(explicit checkpoint_id) after failure (record view)")
        dump_saver(saver, f"crash{label}", "raw saver after failure")
        P("   resume invoke(None) ->", g.invoke(None, cfg))
        P("   RUNS on resume:", RUNS); RUNS.clear()
        print_history(g, cfg, "history after resume")

    P("== F. async (ainvoke) fan-out: b2 raises immediately while b1 (async, 0.5s) is running")
    import asyncio

    def anode(name, fail_first=False, sleep=0.0):
        async def fn(state: State):
            RUNS.append(name)
            if fail_first and not FAIL.get(name):
                FAIL[name] = True
                raise ValueError(f"{name} boom")
            await asyncio.sleep(sleep)
            RUNS.append(name + ":done")
            return {"log": [name]}
        return fn

    FAIL.clear()
    b = StateGraph(State)
    b.add_node("a", anode("a")); b.add_node("b1", anode("b1", sleep=0.5)); b.add_node("b2", anode("b2", fail_first=True))
    b.add_node("c", anode("c"))
    b.add_edge(START, "a"); b.add_edge("a", "b1"); b.add_edge("a", "b2"); b.add_edge(["b1", "b2"], "c")
    ga = b.compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "crashF"}}
    try:
        asyncio.run(ga.ainvoke({"log": ["in"]}, cfg))
    except Exception as e:
        P("   ainvoke raised:", type(e).__name__, e)
    P("   RUNS:", RUNS); RUNS.clear()
    print_state(ga, cfg, "get_state after async failure")
    P("   resume ->", asyncio.run(ga.ainvoke(None, cfg)))
    P("   RUNS on resume:", RUNS); RUNS.clear()

    P("== G. task.error type as seen through get_state:")
    FAIL.clear()
    g = linear(saver)
    cfg = {"configurable": {"thread_id": "crashG"}}
    try:
        g.invoke({"log": ["in"]}, cfg)
    except Exception:
        pass
    RUNS.clear()
    t = g.get_state(cfg).tasks[0]
    P("   type(task.error) =", type(t.error).__name__, "repr:", repr(t.error))

    P("== H. fan-out failure, then resume with invoke(None, <config WITH the head checkpoint_id>)")
    FAIL.clear()
    g = fanout(saver, 0.0, 0.3)
    cfg = {"configurable": {"thread_id": "crashH"}}
    try:
        g.invoke({"log": ["in"]}, cfg)
    except Exception as e:
        P("   invoke raised:", type(e).__name__, e)
    RUNS.clear()
    head = g.get_state(cfg).config
    P("   head config:", head)
    P("   invoke(None, head) ->", g.invoke(None, head))
    P("   RUNS (addressed => treated as replay: successful sibling b1 re-runs):", RUNS); RUNS.clear()
    P("   history:", [(L.norm(h.config["configurable"]["checkpoint_id"]), h.metadata["source"], h.metadata["step"], h.next, L.norm(h.parent_config["configurable"]["checkpoint_id"]) if h.parent_config else None) for h in g.get_state_history(cfg)])

    P("== E. resume with NEW INPUT instead of None after a failure (linear)")
    FAIL.clear()
    g = linear(saver)
    cfg = {"configurable": {"thread_id": "crashE"}}
    try:
        g.invoke({"log": ["in"]}, cfg)
    except Exception as e:
        P("   invoke raised:", type(e).__name__, e)
    RUNS.clear()
    P("   invoke({'log':['again']}) ->", g.invoke({"log": ["again"]}, cfg))
    P("   RUNS:", RUNS); RUNS.clear()
    print_history(g, cfg, "history crashE")


CHILD = r'''
import os, sys, time, operator
sys.path.insert(0, {here!r})
from typing import Annotated
from typing_extensions import TypedDict
from checkpointkit.reference_engine import StateGraph, START, END
from checkpointkit.backends.sqlite import SqliteSaver
import sqlite3

DB, THREAD, MODE, DUR = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
PRE_KILL_SLEEP = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
FLAG = DB + "." + THREAD + ".killed"

class State(TypedDict):
    log: Annotated[list, operator.add]

def mk(name, killer=False, sleep=0.0):
    def fn(state):
        time.sleep(sleep)
        os.write(1, f"  running {{name}}\n".encode())
        if killer and not os.path.exists(FLAG):
            open(FLAG, "w").write("x")
            time.sleep(PRE_KILL_SLEEP)  # lets background checkpoint/write saves finish
            os.write(1, f"  os._exit(1) inside {{name}}\n".encode())
            os._exit(1)
        return {{"log": [name]}}
    return fn

b = StateGraph(State)
b.add_node("a", mk("a"))
if MODE == "linear":
    b.add_node("b", mk("b", killer=True))
    b.add_node("c", mk("c"))
    b.add_edge(START, "a"); b.add_edge("a", "b"); b.add_edge("b", "c"); b.add_edge("c", END)
else:
    b.add_node("b1", mk("b1"))
    b.add_node("b2", mk("b2", killer=True, sleep=0.5))
    b.add_node("c", mk("c"))
    b.add_edge(START, "a"); b.add_edge("a", "b1"); b.add_edge("a", "b2")
    b.add_edge(["b1", "b2"], "c"); b.add_edge("c", END)

conn = sqlite3.connect(DB, check_same_thread=False)
saver = SqliteSaver(conn)
g = b.compile(checkpointer=saver)
cfg = {{"configurable": {{"thread_id": THREAD}}}}
inp = {{"log": ["in"]}} if sys.argv[5] == "start" else None
out = g.invoke(inp, cfg, durability=DUR)
print("  result:", out, flush=True)
'''


def run_sqlite():
    import sqlite3
    from checkpointkit.backends.sqlite import SqliteSaver

    here = os.path.dirname(os.path.abspath(__file__))
    import tempfile
    work = tempfile.mkdtemp(prefix="lg_crash_")
    child = os.path.join(work, "child.py")
    open(child, "w").write(CHILD.format(here=here))
    # (mode, durability, seconds the killer node waits before os._exit)
    for mode, dur, pre in (("linear", "async", 0.5), ("linear", "sync", 0.0), ("fanout", "async", 0.5),
                           ("linear", "exit", 0.5), ("linear", "async", 0.0)):
        tag = " (TIMING-DEPENDENT: background saves race the kill)" if (dur == "async" and pre == 0.0) else ""
        db = os.path.join(work, f"{mode}-{dur}-{pre}.db")
        P(f"== D. SqliteSaver mode={mode} durability={dur} pre-kill-sleep={pre}s: process 1 (killed){tag}")
        r = subprocess.run([sys.executable, child, db, "T", mode, dur, "start", str(pre)], capture_output=True, text=True)
        print(r.stdout, end="")
        P("   process 1 exit code:", r.returncode)
        conn = sqlite3.connect(db, check_same_thread=False)
        saver = SqliteSaver(conn)
        L.watch(saver)
        # a graph object only for reading state (same topology, no killer needed)
        b = StateGraph(State)
        b.add_node("a", node("a"))
        if mode == "linear":
            b.add_node("b", node("b")); b.add_node("c", node("c"))
            b.add_edge(START, "a"); b.add_edge("a", "b"); b.add_edge("b", "c")
        else:
            b.add_node("b1", node("b1")); b.add_node("b2", node("b2")); b.add_node("c", node("c"))
            b.add_edge(START, "a"); b.add_edge("a", "b1"); b.add_edge("a", "b2"); b.add_edge(["b1", "b2"], "c")
        reader = b.compile(checkpointer=saver)
        cfg = {"configurable": {"thread_id": "T"}}
        print_history(reader, cfg, "history read by a NEW process after the kill")
        print_state(reader, cfg, "get_state (live)")
        P("   process 2 resumes with invoke(None):")
        r = subprocess.run([sys.executable, child, db, "T", mode, dur, "resume", str(pre)], capture_output=True, text=True)
        print(r.stdout, end="")
        if r.returncode:
            print("  process 2 failed:", r.stderr.strip().splitlines()[-1])
        print_history(reader, cfg, "history after resume in process 2")
        L.savers.remove(saver)
        conn.close()
    import shutil
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run_inmemory()
    run_sqlite()
