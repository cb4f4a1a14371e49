# ruff: noqa
# Adapted from lg_experiments/10_store.py: imports point at checkpointkit (see tests/engine/golden/README.md).
"""Topic 10: the long-term Store (InMemoryStore) and how nodes reach it."""
import operator
import time
from typing import Annotated

from typing_extensions import TypedDict

from checkpointkit.backends.memory import MemorySaver as InMemorySaver
from checkpointkit.reference_engine import START, StateGraph
from checkpointkit.reference_engine import Runtime
from checkpointkit.reference_engine.store import BaseStore
from checkpointkit.reference_engine.store import InMemoryStore

from _common import L, P, versions

print("#", versions())


def item_str(it):
    if it is None:
        return "None"
    d = {"ns": it.namespace, "key": it.key, "value": it.value}
    if hasattr(it, "score") and it.score is not None:
        d["score"] = it.score
    return repr(d)


def attempt(label, fn):
    try:
        P(f"   {label} ->", fn())
    except BaseException as e:
        P(f"   {label} -> {type(e).__name__}: {e}")


store = InMemoryStore()
P("== A. put / get / overwrite / delete")
store.put(("users", "u1"), "prefs", {"lang": "en", "n": 1})
it = store.get(("users", "u1"), "prefs")
P("   get:", item_str(it), "| type:", type(it).__name__, "| created_at==updated_at:", it.created_at == it.updated_at,
  "| created_at tz:", it.created_at.tzinfo)
P("   Item.dict() keys:", sorted(it.dict().keys()))
time.sleep(0.01)
store.put(("users", "u1"), "prefs", {"lang": "fr"})
it2 = store.get(("users", "u1"), "prefs")
P("   after 2nd put (value replaced, not merged):", item_str(it2), "| created_at kept:", it2.created_at == it.created_at,
  "| updated_at moved:", it2.updated_at > it.updated_at)
P("   get missing key:", store.get(("users", "u1"), "nope"), "| missing namespace:", store.get(("nobody",), "prefs"))
store.delete(("users", "u1"), "prefs")
P("   after delete:", store.get(("users", "u1"), "prefs"))
attempt("delete missing key (no error?)", lambda: store.delete(("users", "u1"), "prefs"))
attempt("get with int key (coerced to str)", lambda: (store.put(("k",), 5, {"v": 1}), item_str(store.get(("k",), "5")))[1])

P("== B. namespace validation")
attempt("put(('langgraph','x'))", lambda: store.put(("langgraph", "x"), "k", {"a": 1}))
attempt("put(())", lambda: store.put((), "k", {"a": 1}))
attempt("put(('a.b',))", lambda: store.put(("a.b",), "k", {"a": 1}))
attempt("put(('',))", lambda: store.put(("",), "k", {"a": 1}))
attempt("put value not a dict", lambda: store.put(("a",), "k", "string"))

P("== C. search: prefix, filter, limit, offset, ordering")
s = InMemoryStore()
for i in range(6):
    s.put(("docs", "team1" if i % 2 == 0 else "team2"), f"d{i}", {"i": i, "type": "a" if i < 3 else "b", "meta": {"tag": "x" if i % 3 == 0 else "y"}})
s.put(("docs",), "root", {"i": 99, "type": "a"})
s.put(("other",), "o", {"i": 0, "type": "a"})
show = lambda res: [(r.namespace, r.key) for r in res]
P("   search(('docs',)):", show(s.search(("docs",))))
P("   search(()) (all, default limit 10):", show(s.search(())))
P("   search(('docs','team1')):", show(s.search(("docs", "team1"))))
P("   filter type=a:", show(s.search(("docs",), filter={"type": "a"})))
P("   filter i>$gt 2:", show(s.search(("docs",), filter={"i": {"$gt": 2}})))
P("   filter i $gte 1 & $lt 4:", show(s.search(("docs",), filter={"i": {"$gte": 1, "$lt": 4}})))
P("   filter i $ne 0:", show(s.search(("docs",), filter={"i": {"$ne": 0}})))
P("   filter nested meta.tag=x via {'meta':{'tag':'x'}}:", show(s.search(("docs",), filter={"meta": {"tag": "x"}})))
P("   filter two keys type=b, i=4:", show(s.search(("docs",), filter={"type": "b", "i": 4})))
P("   limit=2:", show(s.search(("docs",), limit=2)))
P("   limit=2 offset=2:", show(s.search(("docs",), limit=2, offset=2)))
P("   offset=6:", show(s.search(("docs",), offset=6)))
P("   filter type=a limit=1 offset=1:", show(s.search(("docs",), filter={"type": "a"}, limit=1, offset=1)))
P("   search item type / score:", type(s.search(("docs",))[0]).__name__, s.search(("docs",))[0].score)
P("   ordering after re-put of d0 (same key, keeps position?):", (s.put(("docs", "team1"), "d0", {"i": 0, "type": "a"}), show(s.search(("docs", "team1"))))[1])
P("   ordering after delete+put of d0:", (s.delete(("docs", "team1"), "d0"), s.put(("docs", "team1"), "d0", {"i": 0}), show(s.search(("docs", "team1"))))[2])
P("   search with query but no index configured:", show(s.search(("docs",), query="hello", limit=3)))

P("== D. list_namespaces")
n = InMemoryStore()
for ns in [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f"), ("a", "c", "f"), ("b", "a", "f"), ("users", "123"), ("users", "456")]:
    n.put(ns, "k", {"x": 1})
P("   all:", n.list_namespaces())
P("   prefix=('a','b'):", n.list_namespaces(prefix=("a", "b")))
P("   suffix=('f',):", n.list_namespaces(suffix=("f",)))
P("   prefix=('a','*','f') wildcard:", n.list_namespaces(prefix=("a", "*", "f")))
P("   max_depth=2:", n.list_namespaces(max_depth=2))
P("   prefix=('a',) max_depth=3:", n.list_namespaces(prefix=("a",), max_depth=3))
P("   limit=2 offset=1:", n.list_namespaces(limit=2, offset=1))
n.delete(("users", "123"), "k")
P("   after deleting the only item of ('users','123'):", n.list_namespaces(prefix=("users",)))

P("== E. nodes use the store; two threads share it")


class State(TypedDict):
    user: str
    seen: Annotated[list, operator.add]


def remember(state: State, runtime: Runtime):
    st = runtime.store
    ns = ("memories", state["user"])
    prev = [i.key for i in st.search(ns)]
    st.put(ns, f"m{len(prev)}", {"thread_said": "hi"})
    return {"seen": [len(prev)]}


def legacy(state: State, *, store: BaseStore):
    return {"seen": [len(store.search(("memories", state["user"])))]}


shared = InMemoryStore()
b = StateGraph(State)
b.add_node("remember", remember)
b.add_node("legacy", legacy)
b.add_edge(START, "remember"); b.add_edge("remember", "legacy")
g = b.compile(checkpointer=InMemorySaver(), store=shared)
P("   thread A run 1:", g.invoke({"user": "alice"}, {"configurable": {"thread_id": "A"}}))
P("   thread B run 1:", g.invoke({"user": "alice"}, {"configurable": {"thread_id": "B"}}))
P("   thread A run 2:", g.invoke({"user": "alice"}, {"configurable": {"thread_id": "A"}}))
P("   thread C (bob):", g.invoke({"user": "bob"}, {"configurable": {"thread_id": "C"}}))
P("   store contents:", [(i.namespace, i.key) for i in shared.search(("memories",))])
P("   store is NOT part of checkpoints: state of A:", g.get_state({"configurable": {"thread_id": "A"}}).values)

P("== F. node asks for the store when graph compiled without one")
g2 = b.compile(checkpointer=InMemorySaver())
try:
    P("   ->", g2.invoke({"user": "x"}, {"configurable": {"thread_id": "Z"}}))
except Exception as e:
    P("   raised", type(e).__name__, str(e)[:150])
P("== G. store passed at invoke time is not an invoke kwarg; graph.store attr:", type(g.store).__name__)
