# ruff: noqa
"""Shared helpers for the LangGraph semantics experiments (adapted for checkpointkit).

Every script prints a compact, *normalised* trace so that two runs (or a
reference engine that mimics LangGraph) can be diffed line by line:

* checkpoint ids  -> c1, c2, ...  (numbered in creation order: uuid6 ids sort by time)
* other UUID-shaped ids (task ids) -> t1, t2, ... in order of first appearance
* 32-hex interrupt ids -> i1, i2, ...
* timestamps are never printed, only whether they are present.

Run any script with the venv python, e.g.
    .venv-lgref/bin/python 01_linear_history.py
"""
from __future__ import annotations

import importlib.metadata as _md
import re
import sys
from typing import Any

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HEX32_RE = re.compile(r"\b[0-9a-f]{32}\b")


def versions() -> str:
    out = []
    for p in ("checkpointkit",):
        try:
            out.append(f"{p}=={_md.version(p)}")
        except _md.PackageNotFoundError:
            pass
    return " ".join(out) + f" python=={sys.version.split()[0]}"


class Labels:
    """Maps opaque ids to short stable labels."""

    def __init__(self) -> None:
        self.cp: dict[str, str] = {}
        self.other: dict[str, str] = {}
        self.intr: dict[str, str] = {}
        self.savers: list[Any] = []

    def watch(self, saver: Any) -> None:
        self.savers.append(saver)

    def refresh(self) -> None:
        ids = set()
        for s in self.savers:
            for t in s.list(None):
                ids.add(t.config["configurable"]["checkpoint_id"])
        for i in sorted(ids):
            if i not in self.cp:
                self.cp[i] = f"c{len(self.cp) + 1}"

    def _uuid(self, m: re.Match) -> str:
        s = m.group(0)
        if s in self.cp:
            return self.cp[s]
        if s not in self.other:
            self.other[s] = f"t{len(self.other) + 1}"
        return self.other[s]

    def _hex(self, m: re.Match) -> str:
        s = m.group(0)
        if s not in self.intr:
            self.intr[s] = f"i{len(self.intr) + 1}"
        return self.intr[s]

    def norm(self, x: Any) -> str:
        self.refresh()
        s = x if isinstance(x, str) else repr(x)
        s = UUID_RE.sub(self._uuid, s)
        s = HEX32_RE.sub(self._hex, s)
        return s


L = Labels()


def P(*parts: Any) -> None:
    """print with id normalisation"""
    print(" ".join(L.norm(p) if not isinstance(p, str) else L.norm(p) for p in parts))


def cfg_label(cfg: dict | None) -> str:
    if not cfg:
        return "None"
    c = cfg.get("configurable", {})
    cid = c.get("checkpoint_id")
    ns = c.get("checkpoint_ns", "")
    lab = L.norm(cid) if cid else "-"
    return f"{lab}" + (f"@ns={L.norm(ns)!s}" if ns else "")


def task_str(t: Any) -> str:
    parts = [t.name]
    if t.error is not None:
        parts.append(f"error={type(t.error).__name__}({t.error})")
    if t.interrupts:
        parts.append("interrupts=" + repr([(i.value, i.id) for i in t.interrupts]))
    if t.result is not None:
        parts.append(f"result={t.result!r}")
    if t.state is not None:
        st = t.state
        if isinstance(st, dict):
            parts.append(f"state=cfg{st.get('configurable')}")
        else:
            parts.append(f"state=Snapshot(values={st.values}, next={st.next})")
    return "(" + " ".join(parts) + ")"


def snap_str(s: Any) -> str:
    md = s.metadata or {}
    md_s = {k: md[k] for k in ("source", "step", "parents") if k in md}
    extra = sorted(k for k in md if k not in ("source", "step", "parents"))
    return (
        f"{cfg_label(s.config)} meta={md_s}"
        + (f" +meta_keys={extra}" if extra else "")
        + f" next={s.next} values={s.values}"
        + f" created_at={'yes' if s.created_at else 'no'}"
        + f" parent={cfg_label(s.parent_config)}"
        + f" tasks=[{', '.join(task_str(t) for t in s.tasks)}]"
        + (f" interrupts={[(i.value, i.id) for i in s.interrupts]}" if s.interrupts else "")
    )


def print_history(graph: Any, config: dict, title: str = "history") -> list:
    hist = list(graph.get_state_history(config))
    P(f"--- {title} ({len(hist)} snapshots, newest first)")
    for s in hist:
        P("  " + snap_str(s))
    return hist


def print_state(graph: Any, config: dict, title: str = "get_state", **kw: Any) -> Any:
    s = graph.get_state(config, **kw)
    P(f"--- {title}: " + snap_str(s))
    return s


def nver(d: dict) -> dict:
    """channel versions are '000..0N.<random>' strings in InMemorySaver/SqliteSaver: keep N"""
    out = {}
    for k, v in d.items():
        out[k] = int(str(v).split(".")[0]) if isinstance(v, str) else v
    return out


def dump_saver(saver: Any, thread_id: str | None = None, title: str = "saver") -> None:
    """Raw view: every stored checkpoint (all namespaces) + its pending writes."""
    cfg = {"configurable": {"thread_id": thread_id}} if thread_id else None
    rows = list(saver.list(cfg))
    P(f"--- {title}: {len(rows)} stored checkpoints (newest first)")
    for t in rows:
        c = t.config["configurable"]
        md = {k: t.metadata.get(k) for k in ("source", "step", "parents") if k in t.metadata}
        vals = {
            k: v
            for k, v in t.checkpoint["channel_values"].items()
        }
        pw = [(tid, ch, v) for tid, ch, v in (t.pending_writes or [])]
        P(
            f"  thread={c['thread_id']} ns={c.get('checkpoint_ns', '')!r} id={L.norm(c['checkpoint_id'])}"
            f" parent={cfg_label(t.parent_config)} meta={md}"
            f" channel_values={vals}"
            f" versions={nver(t.checkpoint['channel_versions'])}"
            + (f" pending_writes={pw}" if pw else "")
        )


def inmemory_order(rows: list) -> list:
    """Rows in LangGraph InMemorySaver's list order: namespace by namespace (in order of
    creation), newest first within each. MemorySaver sorts all rows newest first instead."""
    first_seen: dict = {}
    for r in sorted(rows, key=lambda r: r.config["configurable"]["checkpoint_id"]):
        first_seen.setdefault(r.config["configurable"]["checkpoint_ns"], len(first_seen))
    return sorted(
        rows,
        key=lambda r: (
            first_seen[r.config["configurable"]["checkpoint_ns"]],
            [-ord(c) for c in r.config["configurable"]["checkpoint_id"]],
        ),
    )
