"""Concurrency: writers in several processes and threads, racing runs, exclusive-run leases."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import pytest

from checkpointkit.checkpoint import checkpoint_config
from checkpointkit.conformance.capabilities import Capability
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import SaverFactory
from checkpointkit.conformance.reliability.crash import CHILD, child_env
from checkpointkit.conformance.reliability.crash_child import (
    INPUT,
    Ledger,
    NoLease,
    build,
    strip_trace,
    write_chain,
)
from checkpointkit.conformance.reliability.figures import record_figure, slow_profile
from checkpointkit.errors import ThreadBusyError
from checkpointkit.reference_engine import END, START, StateGraph

__all__ = ["ConcurrencyTests", "check_readable"]

FAST = 2.0  # seconds within which a busy thread must be refused


def _spawn(job: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), json.dumps(job)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 180) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"child failed (exit {proc.returncode}):\n{err}"
    return out


def check_chain_of_writer(saver: Any, thread_id: str, steps: int) -> None:
    """What ``write_chain`` stored, exactly: values, metadata, parents, writes."""
    listed = list(saver.list(checkpoint_config(thread_id)))
    assert len(listed) == steps, f"thread {thread_id!r} holds {len(listed)} of {steps} checkpoints"
    for i, tup in enumerate(reversed(listed)):
        assert tup.checkpoint["channel_values"] == {"n": i, "log": [thread_id, i]}
        assert tup.metadata["owner"] == thread_id and tup.metadata["step"] == i
        assert tup.pending_writes == [(f"task-{i}", "w", [thread_id, i])]
        if i == 0:
            assert tup.parent_config is None
        else:
            assert tup.parent_config == listed[steps - i].config


def check_readable(saver: Any, thread_id: str) -> int:
    """Every checkpoint of the thread reads back; ids unique; parents present and older."""
    listed = list(saver.list({"configurable": {"thread_id": thread_id}}))
    seen: dict[tuple[str, str], Any] = {}
    for tup in listed:
        conf = tup.config["configurable"]
        key = (conf["checkpoint_ns"], conf["checkpoint_id"])
        assert key not in seen, f"checkpoint {key} is listed twice"
        seen[key] = tup
    for (ns, cid), tup in seen.items():
        again = saver.get_tuple(tup.config)
        assert again is not None and again.checkpoint == tup.checkpoint
        if tup.parent_config is not None:
            parent = tup.parent_config["configurable"]["checkpoint_id"]
            assert (ns, parent) in seen, f"{cid} names a missing parent {parent}"
            assert parent < cid, f"{cid} is not newer than its parent {parent}"
    return len(listed)


def _gate_graph(saver: Any, started: threading.Event, release: threading.Event) -> Any:
    """``slow -> done``: ``slow`` signals ``started`` and waits for ``release``."""
    from checkpointkit.conformance.reliability.crash_child import State

    def slow(state: Any) -> dict[str, Any]:
        started.set()
        assert release.wait(60), "the test never released the first run"
        return {"trace": ["slow"], "total": 1}

    def done(state: Any) -> dict[str, Any]:
        return {"trace": ["done"], "total": 1}

    g = StateGraph(State)
    g.add_node("slow", slow)
    g.add_node("done", done)
    g.add_edge(START, "slow")
    g.add_edge("slow", "done")
    g.add_edge("done", END)
    return g.compile(checkpointer=saver)


def _race_in_threads(saver: Any, graph_name: str) -> str:
    """Two Python threads start the same graph on one new thread at the same moment."""
    thread_id = f"race-{uuid.uuid4()}"
    config = {"configurable": {"thread_id": thread_id}}
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            graph = build(graph_name, NoLease(saver), None, Ledger(None))
            barrier.wait(30)
            graph.invoke(dict(INPUT), config, durability="sync")
        except BaseException as exc:  # reported below
            errors.append(exc)

    racers = [threading.Thread(target=run) for _ in range(2)]
    for r in racers:
        r.start()
    for r in racers:
        r.join(120)
    assert not errors, errors
    return thread_id


class ConcurrencyTests:
    """REL-CONC: writers that never interfere, races that never corrupt, exclusive runs."""

    @pytest.mark.spec("REL-CONC-001")
    @pytest.mark.requires(Capability.MULTI_PROCESS)
    def test_processes_and_threads_never_interfere(
        self, saver_factory: SaverFactory, ck_saver_name: str
    ) -> None:
        processes, threads, steps = (6, 4, 12) if slow_profile() else (3, 3, 8)
        jobs: list[dict[str, Any]] = [
            {
                "mode": "writers",
                "factory": saver_factory.to_json(),
                "threads": [f"conc-{p}-{t}-{uuid.uuid4()}" for t in range(threads)],
                "steps": steps,
            }
            for p in range(processes)
        ]
        procs = [_spawn(job) for job in jobs]
        for proc in procs:
            result = json.loads(_finish(proc).strip().splitlines()[-1])
            assert result["errors"] == [], result["errors"]
        with saver_factory.open() as saver:
            for job in jobs:
                for thread_id in job["threads"]:
                    check_chain_of_writer(saver, thread_id, steps)
        record_figure(
            ck_saver_name,
            "writers",
            {"processes": processes, "threads": processes * threads, "checkpoints": steps},
        )

    @pytest.mark.spec("REL-CONC-001")
    @pytest.mark.requires(Capability.THREAD_SAFE, Capability.SYNC)
    def test_threads_of_one_instance_never_interfere(self, saver: Any) -> None:
        threads, steps = 6, 8
        ids = [f"conc-t{t}-{uuid.uuid4()}" for t in range(threads)]
        errors: list[BaseException] = []

        def work(thread_id: str) -> None:
            try:
                write_chain(saver, thread_id, steps)
            except BaseException as exc:  # reported below
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(t,)) for t in ids]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        assert not errors, errors
        for thread_id in ids:
            check_chain_of_writer(saver, thread_id, steps)

    @pytest.mark.spec("REL-CONC-002")
    @pytest.mark.requires(Capability.THREAD_SAFE, Capability.SYNC)
    def test_two_runs_on_one_thread_never_corrupt(self, saver: Any) -> None:
        rounds = 6 if slow_profile() else 3
        for graph_name in ("fanout", "linear")[: 2 if rounds > 3 else 1] * rounds:
            thread_id = _race_in_threads(saver, graph_name)
            assert check_readable(saver, thread_id) > 0

    @pytest.mark.spec("REL-CONC-002")
    @pytest.mark.requires(Capability.MULTI_PROCESS)
    def test_two_processes_on_one_thread_never_corrupt(
        self, saver_factory: SaverFactory, ck_saver_name: str
    ) -> None:
        rounds = 6 if slow_profile() else 2
        for _ in range(rounds):
            thread_id = f"race-{uuid.uuid4()}"
            job = {
                "mode": "race",
                "factory": saver_factory.to_json(),
                "graph": "fanout",
                "thread": thread_id,
            }
            procs = [_spawn(job) for _ in range(2)]
            for proc in procs:
                assert proc.stdout is not None
                assert proc.stdout.readline().strip() == "ready"
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            for proc in procs:
                _finish(proc)
            with saver_factory.open() as saver:
                count = check_readable(saver, thread_id)
            assert count > 0
        record_figure(ck_saver_name, "race", {"rounds": rounds, "racers": 2})

    @pytest.mark.spec("REL-CONC-003")
    @pytest.mark.requires(Capability.EXCLUSIVE_RUNS)
    def test_second_acquire_fails_fast(self, driver: SaverDriver) -> None:
        saver = driver.saver
        thread_id, other = f"lease-{uuid.uuid4()}", f"lease-{uuid.uuid4()}"

        def acquire(tid: str) -> Any:
            if driver.flavor == "sync":
                return saver.acquire_run(tid, owner="first run")
            assert driver.loop is not None
            return driver.loop.run(saver.aacquire_run(tid, owner="first run"))

        def release(lease: Any) -> None:
            if driver.flavor == "sync":
                lease.release()
            else:
                assert driver.loop is not None
                driver.loop.run(lease.arelease())

        lease = acquire(thread_id)
        try:
            started = time.monotonic()
            with pytest.raises(ThreadBusyError) as caught:
                acquire(thread_id)
            assert time.monotonic() - started < FAST, "a busy thread must be refused at once"
            assert caught.value.thread_id == thread_id
            assert thread_id in str(caught.value)
            release(acquire(other))  # other threads are not affected
        finally:
            release(lease)
        release(lease)  # idempotent
        release(acquire(thread_id))

    @pytest.mark.spec("REL-CONC-003")
    @pytest.mark.requires(Capability.EXCLUSIVE_RUNS, Capability.SYNC)
    def test_engine_second_run_fails_fast(self, saver: Any) -> None:
        started, release = threading.Event(), threading.Event()
        graph = _gate_graph(saver, started, release)
        config = {"configurable": {"thread_id": f"busy-{uuid.uuid4()}"}}
        results: list[Any] = []
        errors: list[BaseException] = []

        def first() -> None:
            try:
                results.append(graph.invoke(dict(INPUT), config))
            except BaseException as exc:  # reported below
                errors.append(exc)

        runner = threading.Thread(target=first)
        runner.start()
        try:
            assert started.wait(60), "the first run never started"
            before = len(list(saver.list(config)))
            t0 = time.monotonic()
            with pytest.raises(ThreadBusyError):
                graph.invoke(dict(INPUT), config)
            assert time.monotonic() - t0 < FAST
            assert len(list(saver.list(config))) == before, "the refused run stored something"
        finally:
            release.set()
            runner.join(60)
        assert not errors, errors
        assert strip_trace(results[0]) == {"trace": ["slow", "done"], "total": 2}
        again = graph.invoke(None, config)  # the lease is free again
        assert strip_trace(again) == {"trace": ["slow", "done"], "total": 2}

    @pytest.mark.spec("REL-CONC-004")
    @pytest.mark.requires(Capability.EXCLUSIVE_RUNS, Capability.MULTI_PROCESS)
    def test_lease_dies_with_its_process(self, saver_factory: SaverFactory) -> None:
        thread_id = f"hold-{uuid.uuid4()}"
        job = {"mode": "hold", "factory": saver_factory.to_json(), "thread": thread_id}
        proc = _spawn(job)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line == "held", proc.stderr.read() if proc.stderr else line
            with saver_factory.open() as saver:
                with pytest.raises(ThreadBusyError) as caught:
                    saver.acquire_run(thread_id)
                assert "holder pid" in str(caught.value), "the error must describe the holder"
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                deadline = time.monotonic() + 10
                while True:
                    try:
                        saver.acquire_run(thread_id).release()
                        break
                    except ThreadBusyError:
                        assert time.monotonic() < deadline, "a dead process still holds it"
                        time.sleep(0.1)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
