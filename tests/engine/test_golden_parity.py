"""Golden parity: every lg_experiments case replayed on the reference engine matches LangGraph."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("[0-9][0-9]_*.py"))

_SPEC_IDS = {
    "01_linear_history": (
        "ENG-STEP-001",
        "ENG-STEP-002",
        "ENG-HIST-001",
        "ENG-HIST-002",
        "ENG-STATE-001",
    ),
    "02_update_state": ("ENG-UPD-001", "ENG-UPD-002", "ENG-UPD-003", "ENG-UPD-004", "ENG-UPD-005"),
    "03_time_travel": ("ENG-FORK-001", "ENG-FORK-002", "ENG-FORK-003"),
    "04_crash_resume": ("ENG-RES-001", "ENG-RES-002", "ENG-RES-003", "ENG-RES-004"),
    "05_interrupts": ("ENG-INT-001", "ENG-INT-002", "ENG-INT-003", "ENG-INT-004"),
    "06_durability": ("ENG-DUR-001", "ENG-DUR-002"),
    "07_subgraphs": ("ENG-SUB-001", "ENG-SUB-002", "ENG-SUB-003", "ENG-SUB-004"),
    "08_errors": ("ENG-ERR-001", "ENG-ERR-002", "ENG-ERR-003", "ENG-STEP-003"),
    "09_stream_modes": ("ENG-STREAM-001",),
    "10_store": ("ENG-STORE-001",),
    "11_parallel_order": ("ENG-STEP-004", "ENG-STEP-005"),
}


def _run(case: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        [sys.executable, f"{case}.py"],
        cwd=GOLDEN,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    return out.splitlines()


# Deviation "exception module": our errors live in our package.
_MODULE = re.compile(r"\bcheckpointkit\.reference_engine\.errors\.")
# Deviation "pending-write order across tasks": rows are ordered by task id, a hash.
_PENDING = re.compile(r"pending_writes=\[(.*)\]$")
_ROW = re.compile(r", (?=\('t\d+', ')")
_LABEL = re.compile(r"^\('(t\d+)'")


def _canon_pending(line: str) -> str:
    m = _PENDING.search(line)
    if not m:
        return line
    rows = _ROW.split(m.group(1))
    labels = []
    for row in rows:
        lm = _LABEL.match(row)
        assert lm, row
        labels.append(lm.group(1))
    if len(set(labels)) < 2:
        return line
    groups: dict[str, list[str]] = {}
    for label, row in zip(labels, rows, strict=True):
        groups.setdefault(label, []).append(_LABEL.sub("('T'", row))
    canon = sorted(", ".join(g) for g in groups.values())
    return line[: m.start(1)] + " | ".join(canon) + "]"


def _expected(case: str) -> list[str]:
    lines = (GOLDEN / "outputs" / f"{case}.txt").read_text().splitlines()
    if case == "04_crash_resume":
        lines = _expect_async_kill_like_sync(lines)
    return lines


def _expect_async_kill_like_sync(lines: list[str]) -> list[str]:
    """Deviation "async durability": our async saves finish before the next step starts, so a
    kill right after a step loses nothing. The TIMING-DEPENDENT section must then read exactly
    like the ``durability=sync`` section (same shape, checkpoint labels 10 further on)."""
    sync_head = next(i for i, ln in enumerate(lines) if "durability=sync pre-kill-sleep=0.0s" in ln)
    sync_end = next(i for i in range(sync_head + 1, len(lines)) if lines[i].startswith("== D."))
    race_head = next(i for i, ln in enumerate(lines) if "TIMING-DEPENDENT" in ln)  # last section

    def shift(line: str) -> str:
        return re.sub(r"\bc(\d+)\b", lambda m: f"c{int(m.group(1)) + 10}", line)

    race = [lines[race_head]] + [shift(ln) for ln in lines[sync_head + 1 : sync_end]]
    return lines[:race_head] + race


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=pytest.mark.spec(*_SPEC_IDS[c]), id=c) for c in CASES]
)
def test_case_matches_langgraph(case: str) -> None:
    got = _run(case)
    want = _expected(case)
    # Line 1 names the package versions that produced the output.
    got_n = [_canon_pending(_MODULE.sub("langgraph.errors.", ln)) for ln in got[1:]]
    want_n = [_canon_pending(ln) for ln in want[1:]]
    for i, (g, w) in enumerate(zip(got_n, want_n, strict=False), start=2):
        assert g == w, f"{case}.txt line {i} differs:\n ours: {g}\n want: {w}"
    assert len(got_n) == len(want_n), f"{case}: {len(got_n) + 1} lines, expected {len(want_n) + 1}"


def test_every_recorded_case_has_a_script() -> None:
    recorded = sorted(p.stem for p in (GOLDEN / "outputs").glob("*.txt"))
    assert recorded == CASES
