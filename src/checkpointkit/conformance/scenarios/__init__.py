"""The scenario layer: the reference engine runs real graphs over the saver under test."""

from __future__ import annotations

from checkpointkit.conformance.scenarios.test_durability import DurabilityTests
from checkpointkit.conformance.scenarios.test_history import HistoryTests
from checkpointkit.conformance.scenarios.test_interrupts import InterruptTests
from checkpointkit.conformance.scenarios.test_isolation import IsolationTests
from checkpointkit.conformance.scenarios.test_memory_turns import MemoryTurnTests
from checkpointkit.conformance.scenarios.test_process_kill import ProcessKillTests
from checkpointkit.conformance.scenarios.test_reducers import ReducerTests
from checkpointkit.conformance.scenarios.test_resume import ResumeTests
from checkpointkit.conformance.scenarios.test_subgraphs import SubgraphTests
from checkpointkit.conformance.scenarios.test_time_travel import TimeTravelTests

SCENARIO_SUITES: tuple[type, ...] = (
    IsolationTests,
    MemoryTurnTests,
    HistoryTests,
    ResumeTests,
    ProcessKillTests,
    TimeTravelTests,
    ReducerTests,
    SubgraphTests,
    InterruptTests,
    DurabilityTests,
)

__all__ = ["SCENARIO_SUITES"]
