"""Numbers the reliability tests report (kill points, writers, inputs, rows) for RELIABILITY.md."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

__all__ = ["FIGURES_ENV", "record_figure", "slow_profile"]

FIGURES_ENV = "CHECKPOINTKIT_RELIABILITY_LOG"
_lock = threading.Lock()


def slow_profile() -> bool:
    """``CHECKPOINTKIT_SLOW=1``: ten times the kill points, inputs and writers."""
    return os.environ.get("CHECKPOINTKIT_SLOW", "") not in ("", "0")


def record_figure(saver: str, part: str, numbers: dict[str, Any]) -> None:
    """Append one JSON line to ``$CHECKPOINTKIT_RELIABILITY_LOG`` (nothing when unset)."""
    path = os.environ.get(FIGURES_ENV)
    if not path:
        return
    line = json.dumps({"saver": saver, "part": part, "time": time.time(), **numbers})
    with _lock, open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
