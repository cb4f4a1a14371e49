"""The traceability self-test fails on a requirement without a test and on an unknown ID."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from kit_harness import INNER_INI, KIT_DIR
from traceability import check_traceability, find_spec_marks

SPEC = """\
# Fake spec

### FAKE-001 (MUST) One thing
### FAKE-002 (SHOULD, prune) Another thing
"""

TESTS = """\
import pytest
from pytest import mark

spec = pytest.mark.spec
CASES = {"a": ("FAKE-001",)}


@spec("FAKE-001")
def test_one():
    pass


@mark.spec("SECOND")
def test_two():
    pass


@pytest.mark.parametrize("c", [pytest.param(c, marks=pytest.mark.spec(*CASES[c])) for c in CASES])
def test_computed(c):
    pass
"""

CONFTEST = """\
from pathlib import Path

import pytest


@pytest.fixture
def trace_roots():
    return Path("fake/spec"), [Path("fake/src")]
"""


def fake_tree(root: Path, second: str) -> None:
    (root / "fake" / "spec").mkdir(parents=True)
    (root / "fake" / "src").mkdir(parents=True)
    (root / "fake" / "spec" / "fake.md").write_text(SPEC)
    (root / "fake" / "src" / "suite.py").write_text(TESTS.replace("SECOND", second))


def test_marks_are_found_in_every_spelling(tmp_path: Path) -> None:
    fake_tree(tmp_path, "FAKE-002")
    marks = find_spec_marks([tmp_path / "fake" / "src"])
    assert sorted(marks.ids) == ["FAKE-001", "FAKE-002"]
    assert [w.rsplit(":", 1)[1] for w in marks.ids["FAKE-001"]] == ["8", "5"]  # alias, data
    assert check_traceability(tmp_path / "fake" / "spec", [tmp_path / "fake" / "src"]) == []


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        ("FAKE-002", None),
        ("FAKE-003", "FAKE-002 (fake.md) has no test marked*"),
        (
            "FAKE-003",
            "FAKE-003 is not a requirement in fake/spec, but is named at fake/src/suite.py:13",
        ),
    ],
    ids=["clean", "requirement-without-test", "unknown-id"],
)
def test_self_test_fails_on_a_broken_tree(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, second: str, expected: str | None
) -> None:
    fake_tree(pytester.path, second)
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INNER_INI)
    shutil.copy(KIT_DIR / "test_traceability.py", pytester.path / "test_traceability.py")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(KIT_DIR), os.environ.get("PYTHONPATH", "")])
    )
    result = pytester.runpytest_subprocess()
    if expected is None:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([f"E   *{expected}*"])
