"""Crash at random points: Hypothesis picks a graph and kill points, child processes die there."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from checkpointkit.conformance.capabilities import Capability
from checkpointkit.conformance.factories import SaverFactory
from checkpointkit.conformance.reliability import crash_child
from checkpointkit.conformance.reliability.crash_child import (
    ACK_PUT,
    ACK_WRITES,
    GRAPHS,
    KillSwitch,
    Ledger,
    build,
    drive,
    strip_trace,
)
from checkpointkit.conformance.reliability.figures import record_figure, slow_profile

__all__ = [
    "CrashTests",
    "Scenario",
    "check_acknowledged",
    "check_chains",
    "check_scenario",
    "check_side_effects",
    "child_env",
    "run_scenario",
]

KINDS = ("node", "writes", "put")
DURABILITIES = ("sync", "async")
CHILD_TIMEOUT = 120.0
CHILD = Path(crash_child.__file__).resolve()


def kill_points() -> int:
    """Scenarios per backend, each with at least one kill that lands: 20, or 200 when slow."""
    return 200 if slow_profile() else 20


def child_env() -> dict[str, str]:
    """This process's import path for the child, so savers defined next to tests resolve."""
    env = dict(os.environ)
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


@dataclasses.dataclass(frozen=True)
class Kill:
    kind: str  # node | writes | put
    n: int  # the n-th event of that kind in the process
    delay_us: int = 0  # put: how long after the call starts the process dies

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Scenario:
    graph: str
    durability: str
    kills: tuple[Kill, ...]

    def __str__(self) -> str:
        kills = ", ".join(
            f"{k.kind}#{k.n}" + (f"+{k.delay_us}us" if k.kind == "put" else "") for k in self.kills
        )
        return f"{self.graph}/{self.durability} killed at [{kills}]"


@dataclasses.dataclass
class Outcome:
    scenario: Scenario
    thread_id: str
    killed: int = 0  # processes that died by SIGKILL
    processes: int = 0
    values: dict[str, Any] = dataclasses.field(default_factory=dict)


Baselines = dict[tuple[str, str], tuple[dict[str, Any], dict[str, int]]]


def baselines(factory: SaverFactory) -> Baselines:
    """Final values and saver-call counts of an uninterrupted run of each graph."""
    out: Baselines = {}
    with factory.open() as saver:
        for graph in GRAPHS:
            for durability in DURABILITIES:
                switch = KillSwitch(saver, None)
                thread = f"crash-base-{uuid.uuid4()}"
                values = drive(build(graph, switch, switch, Ledger(None)), thread, durability)
                out[(graph, durability)] = (strip_trace(values), dict(switch.counts))
    return out


def scenarios(base: Baselines, count: int) -> st.SearchStrategy[list[Scenario]]:
    @st.composite
    def one(draw: st.DrawFn) -> Scenario:
        graph = draw(st.sampled_from(GRAPHS))
        durability = draw(st.sampled_from(DURABILITIES))
        counts = base[(graph, durability)][1]
        kinds = [k for k in KINDS if counts[k] > 0]
        kind = draw(st.sampled_from(kinds))
        first = Kill(kind, draw(st.integers(1, counts[kind])), draw(st.integers(0, 3000)))
        more = draw(
            st.lists(
                st.builds(
                    Kill,
                    st.sampled_from(KINDS),
                    st.integers(1, 3),
                    st.integers(0, 3000),
                ),
                max_size=2,
            )
        )
        return Scenario(graph, durability, (first, *more))

    return st.lists(one(), min_size=count, max_size=count)


def run_scenario(factory: SaverFactory, scenario: Scenario, workdir: str) -> Outcome:
    """Run the scenario's processes (one per kill, then one to finish) on a fresh thread."""
    outcome = Outcome(scenario, f"crash-{uuid.uuid4()}")
    ledger = os.path.join(workdir, outcome.thread_id + ".ledger")
    plan: list[Kill | None] = [*scenario.kills, None]
    for i, kill in enumerate(plan):
        job = {
            "factory": factory.to_json(),
            "graph": scenario.graph,
            "durability": scenario.durability,
            "thread": outcome.thread_id,
            "ledger": ledger,
            "kill": kill.to_json() if kill else None,
        }
        done = subprocess.run(
            [sys.executable, str(CHILD), json.dumps(job)],
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            env=child_env(),
        )
        outcome.processes += 1
        if done.returncode == -signal.SIGKILL and kill is not None:
            outcome.killed += 1
            continue
        if done.returncode != 0:
            raise AssertionError(
                f"{scenario}: process {i + 1} failed (exit {done.returncode}):\n{done.stderr}"
            )
        if i == 0:
            raise AssertionError(f"{scenario}: the first kill point was never reached")
        outcome.values = json.loads(done.stdout.strip().splitlines()[-1])["values"]
        if kill is not None:
            break  # finished before this kill point: nothing left to crash
    return outcome


def check_scenario(factory: SaverFactory, outcome: Outcome, base: Baselines, ledger: str) -> None:
    """The four crash properties, read back through a new saver instance."""
    scenario = outcome.scenario
    expected = base[(scenario.graph, scenario.durability)][0]
    where = f"{scenario} (thread {outcome.thread_id!r})"
    with factory.open() as saver:
        graph = build(scenario.graph, saver, None, Ledger(None))
        config = {"configurable": {"thread_id": outcome.thread_id}}
        final = graph.get_state(config)
        assert not final.next, f"{where}: the run did not finish: next={final.next}"
        got = strip_trace(dict(final.values))
        assert got == expected, f"{where}: final state differs from an uninterrupted run"
        records = Ledger.read(ledger)
        check_side_effects(final.values.get("trace", []), records, where)
        history = list(saver.list(config))
        check_chains(history, where)
        check_acknowledged(final.values.get("trace", []), records, history, where)
        for tup in history:
            again = saver.get_tuple(tup.config)
            assert again is not None and again.checkpoint == tup.checkpoint, (
                f"{where}: checkpoint {tup.config['configurable']['checkpoint_id']} does not "
                "read back as listed"
            )
            if tup.config["configurable"]["checkpoint_ns"] == "":
                graph.get_state(tup.config)


def check_acknowledged(
    trace: Sequence[str], ledger: list[tuple[str, str]], history: Sequence[Any], where: str
) -> None:
    """Nothing a saver acknowledged is lost: every checkpoint whose ``put`` returned is
    still stored, and writes whose ``put_writes`` returned for a stored checkpoint are
    still attached to it, and are the writes the final state was built from."""
    stored = {
        (t.config["configurable"]["checkpoint_ns"], t.config["configurable"]["checkpoint_id"]): t
        for t in history
    }
    committed = {entry.partition("@")[2].partition("=")[0] for entry in trace}
    for label, raw in ledger:
        if label == ACK_PUT:
            ns, cid = json.loads(raw)
            assert (ns, cid) in stored, (
                f"{where}: checkpoint {cid} (namespace {ns!r}) was acknowledged by put and "
                "is gone after the crash"
            )
        elif label == ACK_WRITES:
            ns, cid, task_id, exec_id = json.loads(raw)
            tup = stored.get((ns, cid))
            if tup is None:
                continue  # written ahead of a checkpoint that was never stored
            tasks = {w[0] for w in tup.pending_writes or []}
            assert task_id in tasks, (
                f"{where}: writes of task {task_id} on checkpoint {cid} were acknowledged "
                "by put_writes and are gone after the crash"
            )
            if ns == "":
                assert exec_id in committed, (
                    f"{where}: execution {exec_id} had its writes stored on checkpoint {cid}, "
                    "but the final state was built from another execution"
                )


def check_side_effects(trace: Sequence[str], ledger: list[tuple[str, str]], where: str) -> None:
    """Every task whose writes were stored ran exactly once: no execution after it."""
    ledger = [(label, e) for label, e in ledger if not label.startswith("@")]
    committed: dict[str, set[str]] = {}
    for entry in trace:
        label, _, rest = entry.partition("@")
        committed.setdefault(label, set()).add(rest.partition("=")[0])
    for label, ids in committed.items():
        assert len(ids) == 1, f"{where}: task {label} has writes from {len(ids)} executions"
    for label in {lbl for lbl, _ in ledger}:
        assert label in committed, f"{where}: task {label} ran but its writes never landed"
        runs = [exec_id for lbl, exec_id in ledger if lbl == label]
        (kept,) = committed[label]
        assert kept in runs, f"{where}: task {label}'s stored execution left no side effect"
        after = runs[runs.index(kept) + 1 :]
        assert not after, (
            f"{where}: task {label} ran again {len(after)} time(s) after its writes were stored"
        )


def check_chains(history: Sequence[Any], where: str) -> None:
    """One chain per namespace: unique ids, parents present, ids increase, no forks."""
    by_ns: dict[str, dict[str, str | None]] = {}
    for tup in history:
        conf = tup.config["configurable"]
        parent = tup.parent_config["configurable"]["checkpoint_id"] if tup.parent_config else None
        space = by_ns.setdefault(conf["checkpoint_ns"], {})
        assert conf["checkpoint_id"] not in space, (
            f"{where}: checkpoint id {conf['checkpoint_id']} is listed twice"
        )
        space[conf["checkpoint_id"]] = parent
    assert "" in by_ns, f"{where}: no root-namespace checkpoints"
    for ns, parents in by_ns.items():
        roots = [c for c, p in parents.items() if p is None]
        assert len(roots) == 1, f"{where}: namespace {ns!r} has {len(roots)} roots"
        children: dict[str, str] = {}
        for cid, parent in parents.items():
            if parent is None:
                continue
            assert parent in parents, f"{where}: {cid} in {ns!r} names missing parent {parent}"
            assert cid > parent, f"{where}: {cid} in {ns!r} is not newer than its parent"
            assert parent not in children, (
                f"{where}: {parent} in {ns!r} has two children ({children[parent]}, {cid})"
            )
            children[parent] = cid


def _workers(multi_process: bool) -> int:
    if not multi_process:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


class CrashTests:
    """REL-CRASH: processes SIGKILLed inside nodes, after writes and during puts, resumed."""

    @pytest.mark.spec(
        "REL-CRASH-001", "REL-CRASH-002", "REL-CRASH-003", "REL-CRASH-004", "REL-CRASH-005"
    )
    @pytest.mark.requires(Capability.PERSISTENT)
    def test_crash_at_random_points(self, saver_factory: SaverFactory, ck_saver_name: str) -> None:
        base = baselines(saver_factory)
        count = kill_points()
        multi = type(self).capabilities.has(Capability.MULTI_PROCESS)  # type: ignore[attr-defined]
        totals = {"scenarios": 0, "kills": 0, "processes": 0}

        # Batches of scenarios run in parallel; Hypothesis's first batch is its simplest
        # one, so one batch more than the count needs.
        batch = 4

        @settings(
            max_examples=-(-count // batch) + 1,
            deadline=None,
            database=None,
            phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck),
        )
        @given(plan=scenarios(base, batch))
        def run(plan: list[Scenario]) -> None:
            with tempfile.TemporaryDirectory(prefix="ck-crash-") as workdir:

                def one(scenario: Scenario) -> Outcome:
                    outcome = run_scenario(saver_factory, scenario, workdir)
                    ledger = os.path.join(workdir, outcome.thread_id + ".ledger")
                    if multi:
                        check_scenario(saver_factory, outcome, base, ledger)
                    return outcome

                with ThreadPoolExecutor(_workers(multi)) as pool:
                    outcomes = list(pool.map(one, plan))
                if not multi:
                    for outcome in outcomes:
                        ledger = os.path.join(workdir, outcome.thread_id + ".ledger")
                        check_scenario(saver_factory, outcome, base, ledger)
            totals["scenarios"] += len(outcomes)
            totals["kills"] += sum(o.killed for o in outcomes)
            totals["processes"] += sum(o.processes for o in outcomes)

        run()
        assert totals["scenarios"] >= count
        record_figure(ck_saver_name, "crash", totals)
