"""Links between spec requirements and tests, read from the source with ``ast`` (no imports)."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from checkpointkit.conformance.requirements import ID_PATTERN, load_requirements

__all__ = ["Marks", "check_traceability", "find_spec_marks"]


@dataclass
class Marks:
    """Spec IDs named by ``spec`` marks, each with where it was named."""

    ids: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, rid: str, where: str) -> None:
        if where not in self.ids[rid]:
            self.ids[rid].append(where)


def _is_spec_mark(node: ast.expr, aliases: set[str]) -> bool:
    """``pytest.mark.spec``, ``mark.spec`` or a name bound to one of them."""
    if isinstance(node, ast.Name):
        return node.id in aliases
    if not (isinstance(node, ast.Attribute) and node.attr == "spec"):
        return False
    owner = node.value
    return (isinstance(owner, ast.Name) and owner.id == "mark") or (
        isinstance(owner, ast.Attribute) and owner.attr == "mark"
    )


def _module_marks(path: Path, marks: Marks) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _is_spec_mark(node.value, set()):
            aliases.update(t.id for t in node.targets if isinstance(t, ast.Name))
    computed = False
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _is_spec_mark(node.func, aliases)):
            continue
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                marks.add(arg.value, f"{path}:{node.lineno}")
            else:
                computed = True
    if computed:
        # A mark built from data (``spec(*IDS[case])``): every ID-shaped string literal of the
        # module counts as named by a mark.
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant):
                continue
            if isinstance(node.value, str) and ID_PATTERN.match(node.value):
                marks.add(node.value, f"{path}:{node.lineno}")


def find_spec_marks(source_dirs: Iterable[Path]) -> Marks:
    """Every spec ID that a ``spec`` mark names in the ``*.py`` files under ``source_dirs``."""
    marks = Marks()
    for root in source_dirs:
        for path in sorted(Path(root).rglob("*.py")):
            _module_marks(path, marks)
    return marks


def check_traceability(spec_dir: Path, source_dirs: Iterable[Path]) -> list[str]:
    """Problems: requirements no test marks, and marks naming IDs the spec does not define."""
    requirements = load_requirements(str(spec_dir))
    marks = find_spec_marks(source_dirs)
    problems = [
        f"{rid} ({req.document}) has no test marked @pytest.mark.spec({rid!r})"
        for rid, req in sorted(requirements.items())
        if rid not in marks.ids
    ]
    problems += [
        f"{rid} is not a requirement in {spec_dir}, but is named at {', '.join(where)}"
        for rid, where in sorted(marks.ids.items())
        if rid not in requirements
    ]
    return problems
