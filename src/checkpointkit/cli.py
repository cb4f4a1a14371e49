"""Command line: ``checkpointkit validate`` runs the conformance suite against a saver."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["BUILTIN_BACKENDS", "main"]

# name -> (test class body, capabilities, extra) for the reference backends.
_ALL_CAPS = (
    "persistent=True, list_threads=True, copy_thread=True, prune=True, delete_for_runs=True, "
    "exclusive_runs=True"
)
BUILTIN_BACKENDS: dict[str, str] = {
    "memory": """
    capabilities = Capabilities(
        list_threads=True, copy_thread=True, prune=True, delete_for_runs=True, exclusive_runs=True
    )

    @pytest.fixture
    def saver(self):
        from checkpointkit.backends.memory import MemorySaver
        return MemorySaver()
""",
    "sqlite": f"""
    capabilities = Capabilities({_ALL_CAPS})

    @pytest.fixture
    def saver(self, tmp_path):
        from checkpointkit.backends.sqlite import SqliteSaver
        with SqliteSaver.from_conn_string(str(tmp_path / "ck.sqlite")) as saver:
            yield saver

    @pytest.fixture
    def async_saver(self, tmp_path):
        from checkpointkit.backends.sqlite import AsyncSqliteSaver
        return AsyncSqliteSaver.from_conn_string(str(tmp_path / "ck.sqlite"))

    @pytest.fixture
    def saver_factory(self, tmp_path):
        return SaverFactory(
            "checkpointkit.backends.sqlite:SqliteSaver.from_conn_string",
            (str(tmp_path / "ck.sqlite"),),
        )
""",
    "duckdb": f"""
    capabilities = Capabilities({_ALL_CAPS})

    @pytest.fixture
    def saver(self, tmp_path):
        from checkpointkit.backends.duckdb import DuckDBSaver
        with DuckDBSaver.from_conn_string(str(tmp_path / "ck.duckdb")) as saver:
            yield saver

    @pytest.fixture
    def async_saver(self, tmp_path):
        from checkpointkit.backends.duckdb import AsyncDuckDBSaver
        return AsyncDuckDBSaver.from_conn_string(str(tmp_path / "ck.duckdb"))

    @pytest.fixture
    def saver_factory(self, tmp_path):
        return SaverFactory(
            "checkpointkit.backends.duckdb:DuckDBSaver.from_conn_string",
            (str(tmp_path / "ck.duckdb"),),
        )
""",
    "postgres": f"""
    capabilities = Capabilities({_ALL_CAPS})
    URL = os.environ.get("CHECKPOINTKIT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    @pytest.fixture
    def saver(self):
        from checkpointkit.backends.postgres import PostgresSaver
        with PostgresSaver.from_conn_string(self.URL) as saver:
            yield saver

    @pytest.fixture
    def async_saver(self):
        from checkpointkit.backends.postgres import AsyncPostgresSaver
        return AsyncPostgresSaver.from_conn_string(self.URL)

    @pytest.fixture
    def saver_factory(self):
        return SaverFactory("checkpointkit.backends.postgres:PostgresSaver.from_conn_string", (self.URL,))
""",
}

_FACTORY_BODY = """
    capabilities = Capabilities({caps})

    @pytest.fixture
    def saver(self):
        with SaverFactory({target!r}).open() as saver:
            yield saver
"""

_MODULE = """
import os
import pytest
from checkpointkit.conformance import Capabilities, SaverConformance, SaverFactory


class Test{cls}(SaverConformance):
    saver_name = {name!r}
{body}
"""


def _test_module(target: str, capabilities: list[str]) -> str:
    if target in BUILTIN_BACKENDS:
        name = {"memory": "MemorySaver", "sqlite": "SqliteSaver", "duckdb": "DuckDBSaver",
                "postgres": "PostgresSaver"}[target]  # fmt: skip
        body = BUILTIN_BACKENDS[target]
    elif ":" in target:
        name = target.rsplit(":", 1)[1]
        caps = ", ".join(f"{c}=True" for c in capabilities)
        body = _FACTORY_BODY.format(caps=caps, target=target)
    else:
        known = ", ".join(sorted(BUILTIN_BACKENDS))
        raise SystemExit(
            f"checkpointkit: unknown saver {target!r}; give one of {known} or module:factory"
        )
    cls = "".join(ch for ch in name if ch.isalnum()) or "Saver"
    return _MODULE.format(cls=cls, name=name, body=textwrap.indent(textwrap.dedent(body), "    "))


def _print_report(data: dict[str, Any], verbose: bool) -> None:
    try:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table
    except ImportError:
        for line in _plain_lines(data, verbose):
            print(line)
        return
    console = Console()
    colors = {
        "passed": "green",
        "failed": "red",
        "known_failure": "yellow",
        "skipped": "dim",
        "not_run": "dim",
    }
    for saver in data["savers"]:
        table = Table(title=f"{saver['saver']}: level {saver['level']}", show_lines=False)
        for col in ("outcome", "requirement", "level", "title"):
            table.add_column(col)
        for row in saver["requirements"]:
            if not verbose and row["outcome"] == "passed":
                continue
            note = escape(f" ({'; '.join(row['reasons'])[:90]})") if row["reasons"] else ""
            table.add_row(
                f"[{colors[row['outcome']]}]{row['outcome']}[/]",
                row["id"],
                row["level"],
                row["title"] + note,
            )
        console.print(table)
        s = saver["summary"]
        console.print(
            f"{len(saver['requirements'])} requirements: [green]{s['passed']} passed[/], "
            f"[red]{s['failed']} failed[/], {s['known_failure']} known failures, {s['skipped']} skipped"
        )


def _plain_lines(data: dict[str, Any], verbose: bool) -> list[str]:
    lines = []
    for saver in data["savers"]:
        lines.append(f"{saver['saver']}: level {saver['level']}")
        for row in saver["requirements"]:
            if verbose or row["outcome"] != "passed":
                lines.append(
                    f"  {row['outcome']:<14} {row['id']:<10} {row['level']:<6} {row['title']}"
                )
        s = saver["summary"]
        lines.append(
            f"  {s['passed']} passed, {s['failed']} failed, {s['known_failure']} known failures, {s['skipped']} skipped"
        )
    return lines


def validate(args: argparse.Namespace) -> int:
    import pytest

    source = _test_module(args.saver, args.capability or [])
    with tempfile.TemporaryDirectory(prefix="checkpointkit-") as tmp:
        test_file = Path(tmp) / "test_checkpointkit_validate.py"
        test_file.write_text(source, encoding="utf-8")
        report_path = Path(args.report) if args.report else Path(tmp) / "report.json"
        pytest_args = [
            str(test_file),
            "-p", "no:cacheprovider",
            "--rootdir", tmp,
            "-o", "addopts=",
            f"--checkpointkit-report={report_path}",
            "--checkpointkit-summary=none",
            "-q" if not args.verbose else "-v",
        ]  # fmt: skip
        if args.k:
            pytest_args += ["-k", args.k]
        if args.quick:
            os.environ.setdefault("CHECKPOINTKIT_STATEFUL_EXAMPLES", "3")
        code = pytest.main(pytest_args)
        if not report_path.exists():
            print(
                f"checkpointkit: the run produced no report (pytest exit code {code})",
                file=sys.stderr,
            )
            return int(code) or 1
        data = json.loads(report_path.read_text(encoding="utf-8"))
    print()
    _print_report(data, verbose=args.all)
    if args.report:
        print(f"report written to {args.report}")
    return 0 if int(code) == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="checkpointkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="run the conformance suite against a saver")
    v.add_argument(
        "saver",
        nargs="?",
        default="memory",
        help="memory | sqlite | duckdb | postgres, or module:factory returning a saver "
        "(or a context manager yielding one)",
    )
    v.add_argument(
        "--capability",
        action="append",
        metavar="NAME",
        help="declare an optional capability of a module:factory saver (repeatable)",
    )
    v.add_argument("--report", metavar="PATH", help="also write the JSON report to PATH")
    v.add_argument("-k", metavar="EXPR", help="only run tests matching this pytest -k expression")
    v.add_argument("--quick", action="store_true", help="fewer model-based examples")
    v.add_argument("--all", action="store_true", help="list passed requirements too")
    v.add_argument("-v", "--verbose", action="store_true", help="one line per test")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return validate(args)
    return 2  # pragma: no cover - argparse enforces the command


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
