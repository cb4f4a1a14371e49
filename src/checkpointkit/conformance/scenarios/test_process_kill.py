"""Resume after a process kill: SIGKILL inside a node, a new process resumes from the saver."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from checkpointkit.conformance.capabilities import Capability
from checkpointkit.conformance.driver import SaverDriver
from checkpointkit.conformance.factories import SaverFactory, new_thread_id
from checkpointkit.conformance.scenarios.graphs import Ledger, fanout_sends, linear
from checkpointkit.conformance.scenarios.harness import Runner, child_env, shape, thread_config

spec = pytest.mark.spec
requires = pytest.mark.requires

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

_CHILD = "from checkpointkit.conformance.scenarios.graphs import child_main; child_main()"
FANOUT_LOG = ["in", "a", "b1", "b2", "c", *(f"w{i:02d}" for i in range(12))]


def _child(factory: SaverFactory, **job: Any) -> subprocess.CompletedProcess[str]:
    job["factory"] = factory.to_json()
    return subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(),
    )


def _resume(factory: SaverFactory, **job: Any) -> Any:
    done = _child(factory, input=None, kill_in=None, durability="sync", **job)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


class ProcessKillTests:
    @spec("SCN-KIL-001")
    @requires(Capability.PERSISTENT)
    def test_killed_run_resumes_in_new_process(
        self, saver_factory: SaverFactory, tmp_path: Path
    ) -> None:
        thread, ledger = new_thread_id("kill"), Ledger(str(tmp_path / "ledger"))
        job = {"graph": "linear", "thread": thread, "ledger": ledger.path}
        killed = _child(saver_factory, input={"log": ["in"]}, kill_in="c", durability="sync", **job)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert ledger.events() == ["a", "b"]
        cfg = thread_config(thread)
        with saver_factory.open() as saver:
            run = Runner(SaverDriver(saver, "sync"), linear, saver, Ledger())
            state = run.get_state(cfg)
            assert (state.next, state.values) == (("c",), {"log": ["in", "a", "b"], "last": "b"})
            assert shape(run.history(cfg)) == [
                ("loop", 2, ("c",)),
                ("loop", 1, ("b",)),
                ("loop", 0, ("a",)),
                ("input", -1, ("__start__",)),
            ]

        out = _resume(saver_factory, **job)
        assert out == {"log": ["in", "a", "b", "c"], "last": "c"}
        assert ledger.events() == ["a", "b", "c"]
        with saver_factory.open() as saver:
            run = Runner(SaverDriver(saver, "sync"), linear, saver, Ledger())
            clean = thread_config()
            assert run.invoke({"log": ["in"]}, clean) == out
            assert run.get_state(cfg).values == out
            assert shape(run.history(cfg)) == shape(run.history(clean))

    @spec("SCN-KIL-002")
    @requires(Capability.PERSISTENT)
    def test_killed_fanout_keeps_finished_sibling(
        self, saver_factory: SaverFactory, tmp_path: Path
    ) -> None:
        thread, ledger = new_thread_id("kill"), Ledger(str(tmp_path / "ledger"))
        job = {"graph": "fanout_sends", "thread": thread, "ledger": ledger.path}
        # b2 dies only after the child's engine has stored b1's writes.
        killed = _child(
            saver_factory,
            input={"log": ["in"]},
            kill_in="b2",
            gate=["b1"],
            durability="sync",
            **job,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert ledger.counts() == {"a": 1, "b1": 1}
        cfg = thread_config(thread)
        with saver_factory.open() as saver:
            run = Runner(SaverDriver(saver, "sync"), fanout_sends, saver, Ledger())
            live = run.get_state(cfg)
            assert live.next == ("b2",)
            assert live.values == {"log": ["in", "a", "b1"]}

        out = _resume(saver_factory, **job)
        assert out == {"log": FANOUT_LOG}
        assert ledger.counts() == {name: 1 for name in FANOUT_LOG[1:]}
        with saver_factory.open() as saver:
            run = Runner(SaverDriver(saver, "sync"), fanout_sends, saver, Ledger())
            clean = thread_config()
            assert run.invoke({"log": ["in"]}, clean) == out
            assert run.get_state(cfg).values == out
            assert shape(run.history(cfg)) == shape(run.history(clean))
