"""checkpointkit: conformance kit and reference backends for checkpoint persistence."""

from __future__ import annotations

__version__ = "0.1.0"
SPEC_VERSION = "1.0"

__all__ = ["SPEC_VERSION", "__version__"]
