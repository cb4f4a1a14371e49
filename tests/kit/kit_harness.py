"""Kit self-test harness: run the conformance suite in a child pytest and read its report."""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from checkpointkit.conformance.requirements import load_requirements

KIT_DIR = Path(__file__).resolve().parent

# The plugin loads in the child through its pytest11 entry point; these mirror the project's
# own settings, without plugins that would reorder tests or write caches.
INNER_INI = """\
[pytest]
addopts = -p no:randomly -p no:cacheprovider --strict-markers -r sfxX
asyncio_default_fixture_loop_scope = function
"""

EVERY_OPTIONAL = "list_threads=True, copy_thread=True, prune=True, delete_for_runs=True"

SAVER_CONTRACT = {
    rid for rid, req in load_requirements().items() if req.document == "saver-contract.md"
}


def conformance_module(
    saver: str,
    *,
    class_name: str | None = None,
    capabilities: str = EVERY_OPTIONAL,
    known_failures: dict[str, str] | None = None,
    factory: str | None = None,
    body: str = "",
) -> str:
    """Source of a test module that runs the suite on ``broken_savers.<saver>``.

    ``factory`` makes the saver file-backed: both fixtures open ``broken_savers.<factory>``
    on one file in ``tmp_path``.
    """
    name = class_name or f"Test{saver}"
    if factory is None:
        fixtures = f"""
        @pytest.fixture
        def saver(self):
            return broken_savers.{saver}()
        """
    else:
        fixtures = f"""
        @pytest.fixture
        def saver(self, tmp_path):
            return broken_savers.{factory}(str(tmp_path / "store.pickle"))

        @pytest.fixture
        def saver_factory(self, tmp_path):
            return SaverFactory("broken_savers:{factory}", (str(tmp_path / "store.pickle"),))
        """
    return textwrap.dedent(
        f"""
        import pytest

        import broken_savers
        from checkpointkit.conformance import Capabilities, SaverConformance
        from checkpointkit.conformance.factories import SaverFactory


        class {name}(SaverConformance):
            capabilities = Capabilities({capabilities})
            known_failures = {known_failures or {}!r}
            saver_name = {saver!r}
        """
    ) + textwrap.indent(textwrap.dedent(fixtures) + textwrap.dedent(body), "    ")


@dataclass
class KitRun:
    """A finished child run: pytest's result and the parsed ``--checkpointkit-report``."""

    result: pytest.RunResult
    report: dict[str, Any]

    def saver(self, name: str) -> dict[str, Any]:
        entries: list[dict[str, Any]] = self.report["savers"]
        (entry,) = [s for s in entries if s["saver"] == name]
        return entry

    def outcomes(self, name: str) -> dict[str, str]:
        """Requirement ID -> outcome, for the saver-contract requirements."""
        rows = self.saver(name)["requirements"]
        return {r["id"]: r["outcome"] for r in rows if r["id"] in SAVER_CONTRACT}

    def with_outcome(self, name: str, outcome: str) -> set[str]:
        return {rid for rid, got in self.outcomes(name).items() if got == outcome}


class KitRunner:
    """Writes a test module into a pytester directory and runs it in a child process.

    A child process keeps plugin, Hypothesis and thread state out of this run, and lets a
    hung saver be killed. The child loads ``kit_child_plugin``: Hypothesis does not shrink,
    and ``contract_only`` deselects every test that checks no saver-contract requirement.
    ``stateful_examples`` sizes MOD-001 (cheap unless it is the target); ``call_timeout``
    bounds each async saver call (``CHECKPOINTKIT_CALL_TIMEOUT``).
    """

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        self.monkeypatch = monkeypatch
        pytester.makeini(INNER_INI)
        path = os.pathsep.join(filter(None, [str(KIT_DIR), os.environ.get("PYTHONPATH")]))
        monkeypatch.setenv("PYTHONPATH", path)

    def __call__(
        self,
        source: str,
        *args: str,
        stateful_examples: int = 3,
        call_timeout: float = 30.0,
        timeout: float = 240.0,
        contract_only: bool = False,
    ) -> KitRun:
        self.monkeypatch.setenv("CHECKPOINTKIT_STATEFUL_EXAMPLES", str(stateful_examples))
        self.monkeypatch.setenv("CHECKPOINTKIT_CALL_TIMEOUT", str(call_timeout))
        self.pytester.makepyfile(test_inner=source)
        self.monkeypatch.setenv(
            "CHECKPOINTKIT_SELFTEST_CONTRACT_ONLY", "1" if contract_only else "0"
        )
        report_path = self.pytester.path / "report.json"
        report_path.unlink(missing_ok=True)
        result = self.pytester.runpytest_subprocess(
            f"--checkpointkit-report={report_path}",
            "--hypothesis-seed=0",
            "-p",
            "kit_child_plugin",
            *args,
            timeout=timeout,
        )
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
        return KitRun(result, report)
