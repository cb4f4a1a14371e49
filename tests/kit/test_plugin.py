"""The kit's own features: passing run, levels, capability skips, known failures, report."""

from __future__ import annotations

import copy
import textwrap
from typing import Any

import pytest
from kit_harness import SAVER_CONTRACT, KitRunner, conformance_module

import checkpointkit
from checkpointkit.conformance import report as ck_report
from checkpointkit.conformance.report import RunReport, validate_report
from checkpointkit.conformance.requirements import load_requirements

MEMORY = textwrap.dedent(
    """
    import pytest

    from checkpointkit.backends.memory import MemorySaver
    from checkpointkit.conformance import Capabilities, SaverConformance


    class TestMemorySaver(SaverConformance):
        capabilities = Capabilities({capabilities})
        known_failures = {known_failures}

        @pytest.fixture
        def saver(self):
            return MemorySaver()
    """
)
EVERY_OPTIONAL = "list_threads=True, copy_thread=True, prune=True, delete_for_runs=True"
PERSISTENT = {"PER-001", "PER-002"}


def literal(text: str) -> str:
    """``text`` as an ``fnmatch`` pattern that matches only itself."""
    return "".join(f"[{c}]" if c in "[]*?" else c for c in text)


def memory_module(capabilities: str = EVERY_OPTIONAL, known_failures: str = "{}") -> str:
    return MEMORY.format(capabilities=capabilities, known_failures=known_failures)


def test_memory_saver_passes_the_whole_suite(run_kit: KitRunner) -> None:
    """Every declared requirement passes, scenarios included; persistent is not declared."""
    run = run_kit(memory_module(), contract_only=False)
    counts = run.result.parseoutcomes()
    assert run.result.ret == pytest.ExitCode.OK
    assert counts.get("failed", 0) == counts.get("errors", 0) == counts.get("xpassed", 0) == 0
    entry = run.saver("MemorySaver")
    assert entry["level"] == "conformant"
    outcomes = run.outcomes("MemorySaver")
    assert set(outcomes) == SAVER_CONTRACT
    assert run.with_outcome("MemorySaver", "skipped") == PERSISTENT
    assert run.with_outcome("MemorySaver", "passed") == SAVER_CONTRACT - PERSISTENT
    # Outside the saver contract (scenarios, reliability) too, only tests of capabilities
    # this run leaves undeclared skip, each saying so.
    undeclared = [cap for cap, declared in entry["capabilities"].items() if not declared]
    for row in entry["requirements"]:
        assert row["outcome"] in ("passed", "skipped"), row
        if row["outcome"] == "skipped":
            assert row["reasons"], row
            for reason in row["reasons"]:
                assert reason.startswith("MemorySaver does not declare '"), row
                assert any(f"'{cap}'" in reason for cap in undeclared), row
    validate_report(run.report)
    assert run.report["kit_version"] == checkpointkit.__version__
    assert run.report["spec_version"] == checkpointkit.SPEC_VERSION
    assert entry["capabilities"]["persistent"] is False
    assert entry["capabilities"]["prune"] is True
    run.result.stdout.fnmatch_lines(["*checkpointkit conformance: MemorySaver  level=conformant*"])


def test_a_saver_that_persists_is_complete(run_kit: KitRunner) -> None:
    """Declaring persistent with a factory that persists reaches level "complete"."""
    source = conformance_module(
        "PickleFileSaver",
        capabilities=EVERY_OPTIONAL + ", persistent=True",
        factory="PickleFileSaver",
    )
    run = run_kit(source, contract_only=True)
    assert run.result.ret == pytest.ExitCode.OK, run.result.stdout.str()
    assert run.with_outcome("PickleFileSaver", "passed") == SAVER_CONTRACT
    assert run.saver("PickleFileSaver")["level"] == "complete"


def test_undeclared_capabilities_skip_with_the_exact_reason(run_kit: KitRunner) -> None:
    run = run_kit(memory_module(capabilities=""), contract_only=True)
    assert run.result.ret == pytest.ExitCode.OK
    expected = {
        "THR-001": "MemorySaver does not declare 'list_threads' [spec THR-001]",
        "CPY-001": "MemorySaver does not declare 'copy_thread' [spec CPY-001]",
        "CPY-002": "MemorySaver does not declare 'copy_thread' [spec CPY-002]",
        "PRN-001": "MemorySaver does not declare 'prune' [spec PRN-001]",
        "PRN-002": "MemorySaver does not declare 'prune' [spec PRN-002]",
        "RUN-001": "MemorySaver does not declare 'delete_for_runs' [spec RUN-001]",
        "PER-001": "MemorySaver does not declare 'persistent' [spec PER-001]",
        "PER-002": "MemorySaver does not declare 'persistent' [spec PER-002]",
    }
    rows = {r["id"]: r for r in run.saver("MemorySaver")["requirements"]}
    for rid, reason in expected.items():
        assert rows[rid]["outcome"] == "skipped"
        assert rows[rid]["reasons"] == [reason]
        # ``-r s`` lists each skip with its reason.
        run.result.stdout.fnmatch_lines([f"SKIPPED [[]*[]] *: {literal(reason)}"])
    assert run.with_outcome("MemorySaver", "skipped") == set(expected)
    # Skips of optional capabilities leave a saver conformant.
    assert run.saver("MemorySaver")["level"] == "conformant"


def test_an_undeclared_flavor_skips_its_tests(run_kit: KitRunner) -> None:
    """``async_=False``: every async-flavored test skips, named by the saver's display name."""
    source = memory_module(capabilities="async_=False").replace(
        "known_failures = {}", "known_failures = {}\n    saver_name = 'Acme'"
    )
    run = run_kit(source, "-k", "test_put_returns_normalised_config or test_list_threads")
    assert run.result.ret == pytest.ExitCode.OK
    run.result.assert_outcomes(passed=1, skipped=3)
    out = run.result.stdout.str()
    assert "Acme does not declare 'async' [spec PUT-001]" in out
    assert "Acme does not declare 'list_threads', 'async' [spec THR-001]" in out
    nodeids = [n for r in run.saver("Acme")["requirements"] for n in r["tests"]]
    assert nodeids and all("[Acme-" in n for n in nodeids)  # the saver's name in every test id
    (row,) = [r for r in run.saver("Acme")["requirements"] if r["id"] == "PUT-001"]
    assert row["outcome"] == "passed"
    assert sorted(row["tests"].values()) == ["passed", "skipped"]


def test_a_known_failure_that_passes_fails_the_run(run_kit: KitRunner) -> None:
    known = '{"PUT-001": "https://example.invalid/issues/1"}'
    run = run_kit(memory_module(known_failures=known), "-k", "test_put_returns_normalised_config")
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    run.result.assert_outcomes(failed=2)
    run.result.stdout.fnmatch_lines(
        ["*[[]XPASS(strict)[]] known failure PUT-001: https://example.invalid/issues/1*"]
    )
    assert run.outcomes("MemorySaver") == {"PUT-001": "failed"}


def test_a_known_failure_that_fails_is_reported_not_failed(run_kit: KitRunner) -> None:
    source = conformance_module(
        "ConfigEchoSaver", known_failures={"PUT-001": "echoes extra keys, issue 7"}
    )
    run = run_kit(source, contract_only=True)
    assert run.result.ret == pytest.ExitCode.OK, run.result.stdout.str()
    assert run.with_outcome("ConfigEchoSaver", "known_failure") == {"PUT-001"}
    (row,) = [r for r in run.saver("ConfigEchoSaver")["requirements"] if r["id"] == "PUT-001"]
    assert row["reasons"] == ["known failure PUT-001: echoes extra keys, issue 7"]
    # A MUST requirement that is known to fail keeps the saver below "conformant".
    assert run.saver("ConfigEchoSaver")["level"] == "partial"


def test_a_marker_naming_an_unknown_spec_id_is_a_usage_error(run_kit: KitRunner) -> None:
    body = """
    @pytest.mark.spec("NOPE-001")
    def test_extra(self):
        pass
    """
    run = run_kit(conformance_module("ConfigEchoSaver", body=body))
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    run.result.stderr.fnmatch_lines(["*test_extra*unknown spec ID(s) NOPE-001*"])


def test_forgetting_the_saver_fixture_is_a_collection_error(run_kit: KitRunner) -> None:
    source = conformance_module("ConfigEchoSaver").split("    @pytest.fixture")[0]
    run = run_kit(source)
    assert run.result.ret == pytest.ExitCode.INTERRUPTED
    run.result.stdout.fnmatch_lines(
        ["*TypeError: TestConfigEchoSaver must override the `saver` fixture*"]
    )


# -- class-definition errors, in process ----------------------------------------------------


def test_class_definition_errors() -> None:
    from checkpointkit.conformance import Capabilities, SaverConformance

    with pytest.raises(ValueError, match="unknown spec ID 'NOPE-001'"):

        class TestUnknownKnownFailure(SaverConformance):
            known_failures = {"NOPE-001": "typo"}

            @pytest.fixture
            def saver(self) -> Any:
                return None

    with pytest.raises(ValueError, match=r"known_failures\['PUT-001'\] needs a reason"):

        class TestNoReason(SaverConformance):
            known_failures = {"PUT-001": " "}

            @pytest.fixture
            def saver(self) -> Any:
                return None

    with pytest.raises(TypeError, match=r"TestPlainMethod.saver must be a @pytest.fixture"):

        class TestPlainMethod(SaverConformance):
            def saver(self) -> Any:  # type: ignore[override]
                return None

    with pytest.raises(TypeError, match=r"TestForgot must override the `saver` fixture"):

        class TestForgot(SaverConformance):
            capabilities = Capabilities()

    with pytest.raises(TypeError, match="prun"):
        Capabilities(prun=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"Capabilities.prune must be a bool"):
        Capabilities(prune=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a Capabilities instance"):

        class TestDictCapabilities(SaverConformance):
            capabilities = {"prune": True}  # type: ignore[assignment]

            @pytest.fixture
            def saver(self) -> Any:
                return None


# -- the JSON report ------------------------------------------------------------------------


def small_report() -> dict[str, Any]:
    report = RunReport(load_requirements(), "1.2.3", "9")
    for flavor in ("sync", "async"):
        nodeid = f"t.py::TestX::test_put[X-{flavor}]"
        report.register(
            "X", {"sync": True}, {}, ck_report.TestOutcome(nodeid, ("PUT-001",), (), flavor)
        )
        report.record(nodeid, "passed")
    return report.to_json()


def test_report_shape() -> None:
    data = small_report()
    validate_report(data)
    (saver,) = data["savers"]
    assert saver["level"] == "complete"
    assert [r["id"] for r in saver["requirements"]] == ["PUT-001"]
    assert saver["summary"]["passed"] == 1


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ((), [], "top level must be an object"),
        (("schema",), "checkpointkit-report/0", "schema must be"),
        (("kit_version",), 1, "kit_version must be a string"),
        (("savers",), {}, "savers must be a list"),
        (("savers", 0, "saver"), None, "saver name must be a string"),
        (("savers", 0, "level"), "gold", "level must be one of"),
        (("savers", 0, "capabilities"), [], "capabilities must be an object"),
        (("savers", 0, "requirements", 0, "outcome"), "maybe", "bad outcome in PUT-001"),
        (("savers", 0, "requirements", 0, "level"), "MIGHT", "bad level in PUT-001"),
        (("savers", 0, "requirements", 0, "tests"), {}, "PUT-001 has no tests"),
    ],
    ids=lambda v: "-".join(map(str, v)) if isinstance(v, tuple) else None,
)
def test_malformed_reports_are_rejected(
    path: tuple[str | int, ...], value: object, message: str
) -> None:
    data: Any = copy.deepcopy(small_report())
    if not path:
        data = value
    else:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    with pytest.raises(ValueError, match=message):
        validate_report(data)
