"""pytest plugin: markers, capability skips, known failures and the conformance report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from checkpointkit.conformance.report import RunReport

_REPORT_KEY: pytest.StashKey[RunReport] = pytest.StashKey()
_KNOWN_KEY: pytest.StashKey[_KnownFailures] = pytest.StashKey()
FLAVORS = ("sync", "async")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("checkpointkit")
    group.addoption(
        "--checkpointkit-report",
        metavar="PATH",
        default=None,
        help="write the per-requirement conformance report as JSON to PATH",
    )
    group.addoption(
        "--checkpointkit-summary",
        choices=("full", "short", "none"),
        default="full",
        help="conformance table in the terminal summary (default: full)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spec(*ids): the spec requirement IDs a test checks")
    config.addinivalue_line(
        "markers", "requires(*capabilities): capabilities the saver must declare for this test"
    )
    config.addinivalue_line("markers", "slow: long-running test (CHECKPOINTKIT_SLOW=1 profile)")
    config.pluginmanager.register(_Recorder(config), "checkpointkit-recorder")


def _conformance_class(cls: Any) -> Any:
    if cls is None:
        return None
    from checkpointkit.conformance.base import SaverConformance

    return cls if isinstance(cls, type) and issubclass(cls, SaverConformance) else None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cls = _conformance_class(metafunc.cls)
    if cls is None:
        return
    name = cls.display_name()
    # The saver's name goes into every test id, with the flavor where a test has one.
    if "flavor" in metafunc.fixturenames:
        ids = [f"{name}-{f}" for f in FLAVORS]
        metafunc.parametrize("flavor", FLAVORS, ids=ids, indirect=True)
    else:
        metafunc.parametrize("ck_saver_name", [name], ids=[name], indirect=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import checkpointkit
    from checkpointkit.conformance.capabilities import Capability
    from checkpointkit.conformance.report import RunReport, TestOutcome
    from checkpointkit.conformance.requirements import load_requirements

    requirements = load_requirements()
    report = RunReport(requirements, checkpointkit.__version__, checkpointkit.SPEC_VERSION)
    config.stash[_REPORT_KEY] = report
    known_failures = _KnownFailures()
    config.stash[_KNOWN_KEY] = known_failures
    for item in items:
        cls = _conformance_class(getattr(item, "cls", None))
        if cls is None:
            continue
        spec_ids = tuple(i for m in item.iter_markers("spec") for i in m.args)
        unknown = [i for i in spec_ids if i not in requirements]
        if unknown:
            raise pytest.UsageError(f"{item.nodeid}: unknown spec ID(s) {', '.join(unknown)}")
        needed: list[Capability] = []
        for mark in item.iter_markers("requires"):
            for cap in mark.args:
                needed.append(cap if isinstance(cap, Capability) else Capability(cap))
        params = getattr(item, "callspec", None)
        flavor = params.params.get("flavor") if params is not None else None
        if flavor is not None:
            needed.append(Capability.SYNC if flavor == "sync" else Capability.ASYNC)
        name = cls.display_name()
        missing = [c for c in dict.fromkeys(needed) if not cls.capabilities.has(c)]
        test = TestOutcome(item.nodeid, spec_ids, tuple(c.value for c in needed), flavor)
        report.register(name, cls.capabilities.as_dict(), cls.known_failures, test)
        ids = f" [spec {', '.join(spec_ids)}]" if spec_ids else ""
        if missing:
            caps = ", ".join(f"'{c.value}'" for c in missing)
            item.add_marker(pytest.mark.skip(reason=f"{name} does not declare {caps}{ids}"))
            continue
        known = [(i, cls.known_failures[i]) for i in spec_ids if i in cls.known_failures]
        if known:
            reason = "; ".join(f"known failure {i}: {why}" for i, why in known)
            # Strictness is per requirement, not per test (see _KnownFailures).
            item.add_marker(pytest.mark.xfail(strict=False, reason=reason))
            known_failures.add(item.nodeid, [(name, i, flavor) for i, _ in known])


class _KnownFailures:
    """A known failure is strict per (saver, requirement, flavor): at least one of the
    requirement's tests must fail in each flavor. Its other tests may pass (a divergence is often
    one case of several); when the last of them has run and none failed, that last passing test
    is turned into a failure: the known failure is stale and must be removed."""

    def __init__(self) -> None:
        self.groups: dict[str, list[tuple[str, str, str | None]]] = {}
        self.remaining: dict[tuple[str, str, str | None], int] = {}
        self.failed: set[tuple[str, str, str | None]] = set()

    def add(self, nodeid: str, groups: list[tuple[str, str, str | None]]) -> None:
        self.groups[nodeid] = groups
        for group in groups:
            self.remaining[group] = self.remaining.get(group, 0) + 1

    def settle(self, report: pytest.TestReport) -> None:
        """Called once per test, with its final (call, or failed/skipped setup) report."""
        groups = self.groups.pop(report.nodeid, None)
        if not groups:
            return
        xfailed = hasattr(report, "wasxfail") and report.skipped
        stale = []
        for group in groups:
            self.remaining[group] -= 1
            if xfailed:
                self.failed.add(group)
            elif self.remaining[group] == 0 and group not in self.failed:
                stale.append(group)
        if stale and hasattr(report, "wasxfail") and report.passed:
            ids = ", ".join(rid for _, rid, _ in stale)
            report.longrepr = (
                f"[XPASS(strict)] {report.wasxfail} (no test of {ids} failed for {stale[0][0]}: "
                "remove it from known_failures)"
            )
            report.outcome = "failed"
            del report.wasxfail


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report: pytest.TestReport = yield
    known = item.config.stash.get(_KNOWN_KEY, None)
    if known is not None and (call.when == "call" or (call.when == "setup" and not report.passed)):
        known.settle(report)
    return report


class _Recorder:
    """Feeds test outcomes into the run report and prints/writes it at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        run = self.config.stash.get(_REPORT_KEY, None)
        if run is None or (report.when != "call" and report.outcome == "passed"):
            return
        if hasattr(report, "wasxfail"):
            # xfailed, or a passing test of a requirement that still fails elsewhere
            outcome = "xfailed" if report.skipped else "passed" if report.passed else "failed"
            reason = str(report.wasxfail) if report.skipped else ""
        elif report.skipped:
            longrepr = report.longrepr
            reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
            outcome, reason = "skipped", reason.removeprefix("Skipped: ")
        elif report.failed:
            outcome, reason = "failed", f"{report.when} failed"
        else:
            outcome, reason = "passed", ""
        run.record(report.nodeid, outcome, reason)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        report = self.config.stash.get(_REPORT_KEY, None)
        mode = self.config.getoption("--checkpointkit-summary")
        if report is None or not report.savers or mode == "none":
            return
        terminalreporter.section("checkpointkit conformance")
        for line in report.render(verbose=mode == "full"):
            terminalreporter.write_line(line)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.config.getoption("--checkpointkit-report")
        report = self.config.stash.get(_REPORT_KEY, None)
        if not path or report is None:
            return
        Path(path).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
