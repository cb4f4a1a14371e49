"""The saver-contract tests, one capability area per module, composed into the base class."""

from __future__ import annotations

from checkpointkit.conformance.reliability import RELIABILITY_SUITES
from checkpointkit.conformance.scenarios import SCENARIO_SUITES
from checkpointkit.conformance.suite.test_delete import DeleteTests
from checkpointkit.conformance.suite.test_get_tuple import GetTupleTests
from checkpointkit.conformance.suite.test_keys import KeyTests
from checkpointkit.conformance.suite.test_lifecycle import LifecycleTests
from checkpointkit.conformance.suite.test_lineage import LineageTests
from checkpointkit.conformance.suite.test_list import ListTests
from checkpointkit.conformance.suite.test_persistence import PersistenceTests
from checkpointkit.conformance.suite.test_put import PutTests
from checkpointkit.conformance.suite.test_stateful import StatefulTests
from checkpointkit.conformance.suite.test_values import ValueTests
from checkpointkit.conformance.suite.test_writes import WriteTests

ALL_SUITES: tuple[type, ...] = (
    PutTests,
    ValueTests,
    WriteTests,
    GetTupleTests,
    ListTests,
    DeleteTests,
    LineageTests,
    KeyTests,
    LifecycleTests,
    PersistenceTests,
    StatefulTests,
    *SCENARIO_SUITES,
    *RELIABILITY_SUITES,
)

__all__ = ["ALL_SUITES"]
