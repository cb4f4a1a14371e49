"""Per-requirement outcomes of a conformance run: terminal tables and the JSON report."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from checkpointkit.conformance.requirements import Requirement

__all__ = ["REPORT_SCHEMA", "RunReport", "TestOutcome", "validate_report"]

REPORT_SCHEMA = "checkpointkit-report/1"
OUTCOMES = ("passed", "failed", "known_failure", "skipped", "not_run")
LEVELS = ("complete", "conformant", "partial", "none")


@dataclasses.dataclass
class TestOutcome:
    nodeid: str
    spec_ids: tuple[str, ...]
    capabilities: tuple[str, ...]
    flavor: str | None
    outcome: str = "not_run"  # passed | failed | xfailed | skipped | not_run
    reason: str = ""


@dataclasses.dataclass
class SaverEntry:
    name: str
    capabilities: dict[str, bool]
    known_failures: dict[str, str]
    tests: dict[str, TestOutcome] = dataclasses.field(default_factory=dict)


class RunReport:
    """Collects test outcomes per saver and folds them into per-requirement outcomes."""

    def __init__(self, requirements: dict[str, Requirement], kit_version: str, spec_version: str):
        self.requirements = requirements
        self.kit_version = kit_version
        self.spec_version = spec_version
        self.savers: dict[str, SaverEntry] = {}

    def register(
        self,
        saver: str,
        capabilities: dict[str, bool],
        known_failures: dict[str, str],
        test: TestOutcome,
    ) -> None:
        entry = self.savers.setdefault(saver, SaverEntry(saver, capabilities, dict(known_failures)))
        entry.tests[test.nodeid] = test

    def record(self, nodeid: str, outcome: str, reason: str = "") -> None:
        for entry in self.savers.values():
            test = entry.tests.get(nodeid)
            if test is None:
                continue
            # The worst phase wins: a failing teardown fails a passed test.
            if test.outcome in ("not_run", "passed") or outcome == "failed":
                test.outcome, test.reason = outcome, reason

    # -- folding ---------------------------------------------------------------------------
    def requirement_rows(self, entry: SaverEntry) -> list[dict[str, Any]]:
        by_id: dict[str, list[TestOutcome]] = defaultdict(list)
        for test in entry.tests.values():
            for rid in test.spec_ids:
                by_id[rid].append(test)
        rows = []
        for rid, req in sorted(self.requirements.items()):
            tests = by_id.get(rid, [])
            if not tests:
                continue
            outcomes = {t.outcome for t in tests}
            if "failed" in outcomes:
                outcome = "failed"
            elif "xfailed" in outcomes:
                outcome = "known_failure"
            elif "passed" in outcomes:
                outcome = "passed"
            elif outcomes == {"skipped"}:
                outcome = "skipped"
            else:
                outcome = "not_run"
            reasons = sorted({t.reason for t in tests if t.reason and t.outcome != "passed"})
            rows.append(
                {
                    "id": rid,
                    "level": req.level,
                    "title": req.title,
                    "capability": req.capability,
                    "outcome": outcome,
                    "tests": {t.nodeid: t.outcome for t in tests},
                    "reasons": reasons,
                }
            )
        return rows

    @staticmethod
    def level(rows: list[dict[str, Any]]) -> str:
        """complete: every requirement passed. conformant: no MUST failed or known-failing
        (skips of undeclared optional capabilities allowed). partial: something passed."""
        if not rows:
            return "none"
        outcomes = [r["outcome"] for r in rows]
        if all(o == "passed" for o in outcomes):
            return "complete"
        must_bad = any(
            r["level"] == "MUST" and r["outcome"] in ("failed", "known_failure", "not_run")
            for r in rows
        )
        if not must_bad and "failed" not in outcomes:
            return "conformant"
        return "partial" if "passed" in outcomes else "none"

    def to_json(self) -> dict[str, Any]:
        savers = []
        for entry in self.savers.values():
            rows = self.requirement_rows(entry)
            counts = {o: sum(1 for r in rows if r["outcome"] == o) for o in OUTCOMES}
            savers.append(
                {
                    "saver": entry.name,
                    "capabilities": entry.capabilities,
                    "known_failures": entry.known_failures,
                    "level": self.level(rows),
                    "summary": counts,
                    "requirements": rows,
                }
            )
        return {
            "schema": REPORT_SCHEMA,
            "kit_version": self.kit_version,
            "spec_version": self.spec_version,
            "savers": savers,
        }

    # -- text -------------------------------------------------------------------------------
    def render(self, verbose: bool = True) -> list[str]:
        data = self.to_json()
        lines: list[str] = []
        marks = {
            "passed": "PASS",
            "failed": "FAIL",
            "known_failure": "XFAIL",
            "skipped": "SKIP",
            "not_run": "----",
        }
        for saver in data["savers"]:
            rows = saver["requirements"]
            lines.append(f"checkpointkit conformance: {saver['saver']}  level={saver['level']}")
            by_cap: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for row in rows:
                by_cap[row["capability"] or "core"][row["outcome"]] += 1
            lines.append(
                f"  {'capability':<16} {'declared':<9} {'pass':>5} {'fail':>5} {'xfail':>6} {'skip':>5}"
            )
            for cap, counts in sorted(by_cap.items()):
                declared = "yes" if cap == "core" or saver["capabilities"].get(cap) else "no"
                lines.append(
                    f"  {cap:<16} {declared:<9} {counts['passed']:>5} {counts['failed']:>5} "
                    f"{counts['known_failure']:>6} {counts['skipped']:>5}"
                )
            if verbose:
                for row in rows:
                    note = f"  ({'; '.join(row['reasons'])[:100]})" if row["reasons"] else ""
                    lines.append(
                        f"  {marks[row['outcome']]:<5} {row['id']:<16} {row['level']:<6} "
                        f"{row['title']}{note if row['outcome'] != 'passed' else ''}"
                    )
            s = saver["summary"]
            lines.append(
                f"  {len(rows)} requirements: {s['passed']} passed, {s['failed']} failed, "
                f"{s['known_failure']} known failures, {s['skipped']} skipped"
            )
        return lines


def validate_report(data: Any) -> None:
    """Raise ``ValueError`` naming the first problem if ``data`` is not a valid report."""

    def need(cond: bool, what: str) -> None:
        if not cond:
            raise ValueError(f"invalid checkpointkit report: {what}")

    need(isinstance(data, dict), "top level must be an object")
    need(data.get("schema") == REPORT_SCHEMA, f"schema must be {REPORT_SCHEMA!r}")
    for key in ("kit_version", "spec_version"):
        need(isinstance(data.get(key), str), f"{key} must be a string")
    need(isinstance(data.get("savers"), list), "savers must be a list")
    for saver in data["savers"]:
        need(isinstance(saver.get("saver"), str), "saver name must be a string")
        need(saver.get("level") in LEVELS, f"level must be one of {LEVELS}")
        need(isinstance(saver.get("capabilities"), dict), "capabilities must be an object")
        need(isinstance(saver.get("requirements"), list), "requirements must be a list")
        for row in saver["requirements"]:
            need(isinstance(row.get("id"), str), "requirement id must be a string")
            need(row.get("level") in ("MUST", "SHOULD", "MAY"), f"bad level in {row.get('id')}")
            need(row.get("outcome") in OUTCOMES, f"bad outcome in {row.get('id')}")
            need(isinstance(row.get("tests"), dict) and row["tests"], f"{row['id']} has no tests")
