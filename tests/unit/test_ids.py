"""Checkpoint ids and channel versions."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from checkpointkit import ids

spec = pytest.mark.spec


@spec("IDS-001")
def test_ids_are_lowercase_uuid6() -> None:
    before = time.time()
    cid = ids.new_checkpoint_id()
    after = time.time()
    parsed = uuid.UUID(cid)
    assert str(parsed) == cid and cid == cid.lower()
    assert parsed.version == 6 and parsed.variant == uuid.RFC_4122
    assert before - 0.001 <= ids.checkpoint_id_time(cid) <= after + 0.001


@spec("IDS-002")
def test_ids_increase_across_threads() -> None:
    made: list[list[str]] = [[] for _ in range(8)]

    def work(out: list[str]) -> None:
        for _ in range(2000):
            out.append(ids.new_checkpoint_id())

    threads = [threading.Thread(target=work, args=(m,)) for m in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for m in made for i in m]
    assert len(set(every)) == len(every)
    for m in made:
        assert m == sorted(m)


@spec("IDS-002")
def test_ids_increase_when_clock_goes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    first = ids.new_checkpoint_id()
    monkeypatch.setattr(ids.time, "time_ns", lambda: 0)
    later = [ids.new_checkpoint_id() for _ in range(5)]
    assert [first, *later] == sorted([first, *later])
    assert len(set(later)) == 5


@spec("IDS-003")
def test_versions() -> None:
    v1 = ids.next_version(None)
    v2 = ids.next_version(v1)
    assert v1.split(".")[0] == "0" * 31 + "1" and len(v1.split(".")[1]) == 16
    assert v1 < v2 and ids.version_number(v2) == 2
    assert ids.next_version(9).startswith("0" * 30 + "10.")
    assert ids.next_version(2.0).startswith("0" * 31 + "3.")
    forks = {ids.next_version(v1) for _ in range(100)}
    assert len(forks) == 100
    chain = [v1]
    for _ in range(200):
        chain.append(ids.next_version(chain[-1]))
    assert chain == sorted(chain)
    with pytest.raises(ValueError):
        ids.version_number("abc.1")
    with pytest.raises(TypeError):
        ids.version_number(True)
