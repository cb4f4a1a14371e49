"""The requirement registry: IDs, levels and titles parsed from the shipped spec."""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

__all__ = ["Requirement", "load_requirements", "spec_dir"]

HEADING = re.compile(
    r"^#{2,4}\s+(?P<id>[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-\d{3})\s+"
    r"\((?P<level>MUST|SHOULD|MAY)(?:,\s*(?P<capability>[a-z_]+))?\)\s+(?P<title>.+?)\s*$"
)
ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-\d{3}$")


@dataclasses.dataclass(frozen=True)
class Requirement:
    """One numbered requirement of the spec."""

    id: str
    level: str  # MUST | SHOULD | MAY
    title: str
    document: str
    capability: str | None = None


def spec_dir() -> Path:
    """The spec folder: inside the installed wheel, or at the root of a source checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "spec", here.parent.parent / "spec"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("checkpointkit's spec/ folder is missing from this installation")


@functools.cache
def load_requirements(directory: str | None = None) -> dict[str, Requirement]:
    """Every requirement heading in ``spec/*.md``; a duplicate ID is an error."""
    root = Path(directory) if directory else spec_dir()
    found: dict[str, Requirement] = {}
    for path in sorted(root.glob("*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = HEADING.match(line)
            if not match:
                continue
            rid = match["id"]
            if rid in found:
                raise ValueError(f"requirement {rid} is defined twice ({path.name})")
            found[rid] = Requirement(
                rid, match["level"], match["title"], path.name, match["capability"]
            )
    return found
