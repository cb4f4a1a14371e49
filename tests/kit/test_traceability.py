"""Every requirement in spec/ has a test, and every spec mark names a requirement."""

from __future__ import annotations

from pathlib import Path

from traceability import check_traceability


def test_spec_and_tests_name_each_other(trace_roots: tuple[Path, list[Path]]) -> None:
    spec_dir, source_dirs = trace_roots
    problems = check_traceability(spec_dir, source_dirs)
    assert problems == [], "\n".join(problems)
