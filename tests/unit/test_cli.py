"""checkpointkit validate: runs the suite in a subprocess and writes a valid report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from checkpointkit.conformance.report import validate_report


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checkpointkit.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={"CHECKPOINTKIT_STATEFUL_EXAMPLES": "3", "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


def test_validate_memory_reports_every_requirement(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = run_cli("validate", "memory", "--quick", "--report", str(report))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads(report.read_text())
    validate_report(data)
    (saver,) = data["savers"]
    assert saver["saver"] == "MemorySaver"
    outcomes = {row["id"]: row["outcome"] for row in saver["requirements"]}
    skipped = {rid for rid, outcome in outcomes.items() if outcome != "passed"}
    assert {"PER-001", "PER-002"} <= skipped  # memory is not persistent, and says so
    undeclared = ("'persistent'", "'multi_process'", "'tamper'")
    for row in saver["requirements"]:
        if row["id"] in skipped:  # only for capabilities memory does not declare
            assert row["outcome"] == "skipped", row
            assert all(any(c in r for c in undeclared) for r in row["reasons"]), row
    assert saver["level"] == "conformant"
    assert "MemorySaver does not declare 'persistent' [spec PER-001]" in done.stdout


def test_validate_user_factory_with_undeclared_capabilities(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = run_cli(
        "validate",
        "checkpointkit.backends.memory:MemorySaver",
        "--capability",
        "prune",
        "--quick",
        "-k",
        "prune or copy",
        "--report",
        str(report),
    )
    assert done.returncode == 0, done.stdout[-3000:]
    rows = {r["id"]: r for r in json.loads(report.read_text())["savers"][0]["requirements"]}
    assert rows["PRN-001"]["outcome"] == "passed"
    assert rows["CPY-001"]["outcome"] == "skipped"
    assert rows["CPY-001"]["reasons"] == [
        "MemorySaver does not declare 'copy_thread' [spec CPY-001]"
    ]


def test_unknown_saver_is_a_clear_error() -> None:
    done = run_cli("validate", "nonsense")
    assert done.returncode != 0
    assert "unknown saver 'nonsense'" in done.stderr
