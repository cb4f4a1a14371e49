"""Broken savers that pass the whole saver contract and are caught only by the scenario layer."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest
from kit_harness import SAVER_CONTRACT, KitRun, KitRunner

from checkpointkit.conformance.requirements import load_requirements

REQUIREMENTS = load_requirements()
SCENARIOS = {rid for rid, req in REQUIREMENTS.items() if req.document == "scenarios.md"}
EVERY_OPTIONAL = "list_threads=True, copy_thread=True, prune=True, delete_for_runs=True"


@dataclass(frozen=True)
class Case:
    saver: str
    caught_by: frozenset[str]
    """Exactly the scenario requirements that fail; every other requirement passes."""
    persistent: bool = False

    def __str__(self) -> str:
        return self.saver


CASES = [
    # The thread stays on the old branch after a fork, and after a replay that asks again.
    Case("StepOrderedLatestSaver", frozenset({"SCN-FRK-002", "SCN-FRK-004"})),
    Case(
        "DataclassFlatteningSaver",
        frozenset(
            {
                "SCN-RES-002",  # b1's Sends come back as dicts on resume
                "SCN-UPD-003",  # the stored input's Overwrite
                "SCN-SUB-005",  # an interrupt inside a subgraph
                "SCN-INT-001",
                "SCN-INT-003",
            }
        ),
    ),
    Case(
        "CloseOnlyFileSaver",
        frozenset({"SCN-KIL-001", "SCN-KIL-002"}),
        persistent=True,
    ),
    # The control: a file-backed saver that is not broken passes everything, kills included.
    Case("WriteThroughFileSaver", frozenset(), persistent=True),
]


def _module(case: Case) -> str:
    if case.persistent:
        capabilities = EVERY_OPTIONAL + ", persistent=True"
        fixtures = f"""
        @pytest.fixture
        def saver(self, tmp_path):
            return sbs.{case.saver}(str(tmp_path / "saver.pickle"))

        @pytest.fixture
        def saver_factory(self, tmp_path):
            return SaverFactory(
                "scenario_broken_savers:{case.saver}", (str(tmp_path / "factory.pickle"),)
            )
        """
    else:
        capabilities = EVERY_OPTIONAL
        fixtures = f"""
        @pytest.fixture
        def saver(self):
            return sbs.{case.saver}()
        """
    header = f"""
        import pytest

        import scenario_broken_savers as sbs
        from checkpointkit.conformance import Capabilities, SaverConformance
        from checkpointkit.conformance.factories import SaverFactory


        class Test{case.saver}(SaverConformance):
            capabilities = Capabilities({capabilities})
            saver_name = {case.saver!r}
        """
    return textwrap.dedent(header) + textwrap.indent(textwrap.dedent(fixtures), "    ")


# Runs only the two layers the claim is about: other layers of the suite are deselected.
CONFTEST = """
from checkpointkit.conformance.requirements import load_requirements

KEEP = {
    rid
    for rid, req in load_requirements().items()
    if req.document in ("saver-contract.md", "scenarios.md")
}


def pytest_collection_modifyitems(config, items):
    keep = [i for i in items if {s for m in i.iter_markers("spec") for s in m.args} & KEEP]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
"""


def _outcomes(run: KitRun, saver: str) -> dict[str, str]:
    return {r["id"]: r["outcome"] for r in run.saver(saver)["requirements"]}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_only_the_scenario_layer_catches(run_kit: KitRunner, case: Case) -> None:
    run_kit.pytester.makeconftest(CONFTEST)
    # Enough random sequences that MOD-001 passing means something.
    run = run_kit(_module(case), stateful_examples=15)
    outcomes = _outcomes(run, case.saver)
    assert set(outcomes) >= SAVER_CONTRACT | SCENARIOS
    # Only requirements of an undeclared capability (persistent, for in-memory savers) skip.
    skipped = {rid for rid, got in outcomes.items() if got == "skipped"}
    assert all(REQUIREMENTS[rid].capability == "persistent" for rid in skipped), skipped
    assert not (case.persistent and skipped), skipped
    contract = {rid: got for rid, got in outcomes.items() if rid in SAVER_CONTRACT - skipped}
    assert set(contract.values()) == {"passed"}, {
        rid: got for rid, got in contract.items() if got != "passed"
    }
    failed = {rid for rid, got in outcomes.items() if got == "failed"}
    assert failed == case.caught_by, run.result.stdout.str()[-4000:]
    others = {
        rid: got for rid, got in outcomes.items() if rid in SCENARIOS - case.caught_by - skipped
    }
    assert set(others.values()) == {"passed"}, others
    expected = pytest.ExitCode.TESTS_FAILED if case.caught_by else pytest.ExitCode.OK
    assert run.result.ret == expected, run.result.stdout.str()[-4000:]
