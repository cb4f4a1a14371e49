"""Loaded with ``-p`` into child runs of the kit self-tests: quick Hypothesis, optional filter."""

from __future__ import annotations

import os

import pytest
from hypothesis import Phase, settings

from checkpointkit.conformance.requirements import load_requirements

# A failing random sequence only has to be found, not shrunk: shrinking is most of the cost.
settings.register_profile(
    "checkpointkit-selftest", phases=[Phase.explicit, Phase.reuse, Phase.generate]
)
settings.load_profile("checkpointkit-selftest")

CONTRACT_ONLY = "CHECKPOINTKIT_SELFTEST_CONTRACT_ONLY"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``CHECKPOINTKIT_SELFTEST_CONTRACT_ONLY=1``, deselect every test that checks no
    saver-contract requirement (the scenario and reliability layers)."""
    if os.environ.get(CONTRACT_ONLY) != "1":
        return
    contract = {r.id for r in load_requirements().values() if r.document == "saver-contract.md"}
    keep, drop = [], []
    for item in items:
        ids = {i for m in item.iter_markers("spec") for i in m.args}
        (keep if ids and ids <= contract else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
