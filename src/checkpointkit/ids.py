"""Checkpoint ids (time-ordered UUIDv6 strings) and channel versions."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid

NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"

# 100 ns intervals between the Gregorian epoch (1582-10-15) and the Unix epoch.
_GREGORIAN_OFFSET = 0x01B21DD213814000
_lock = threading.Lock()
_last_timestamp = 0
_rng = random.SystemRandom()


def _after_fork() -> None:
    # A forked child must not share the parent's random node with the same timestamps.
    global _rng
    _rng = random.SystemRandom()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def new_checkpoint_id() -> str:
    """Return a new UUIDv6 string, strictly greater than every id this process made before.

    The lock makes the guarantee hold across Python threads; if the wall clock stands still
    or steps backwards the timestamp is bumped past the last one, so order never breaks.
    """
    global _last_timestamp
    with _lock:
        ts = time.time_ns() // 100 + _GREGORIAN_OFFSET
        if ts <= _last_timestamp:
            ts = _last_timestamp + 1
        _last_timestamp = ts
    return _format_uuid6(ts, _rng.getrandbits(14), _rng.getrandbits(48))


def _format_uuid6(timestamp: int, clock_seq: int, node: int) -> str:
    time_high_mid = (timestamp >> 12) & 0xFFFF_FFFF_FFFF
    time_low = timestamp & 0x0FFF
    value = (time_high_mid << 80) | (0x6 << 76) | (time_low << 64)
    value |= (0b10 << 62) | ((clock_seq & 0x3FFF) << 48) | (node & 0xFFFF_FFFF_FFFF)
    return str(uuid.UUID(int=value))


def checkpoint_id_time(checkpoint_id: str) -> float:
    """Unix time (seconds) encoded in a UUIDv6 checkpoint id."""
    value = uuid.UUID(checkpoint_id).int
    timestamp = ((value >> 80) << 12) | ((value >> 64) & 0x0FFF)
    return (timestamp - _GREGORIAN_OFFSET) / 1e7


def version_number(version: str | int | float | None) -> int:
    """The integer part of a channel version: the count that orders versions of one channel."""
    if version is None:
        return 0
    if isinstance(version, bool):
        raise TypeError("a channel version cannot be a bool")
    if isinstance(version, int):
        return version
    if isinstance(version, float):
        return int(version)
    if isinstance(version, str):
        head = version.split(".", 1)[0]
        if not head.isdigit():
            raise ValueError(f"channel version {version!r} has no integer part")
        return int(head)
    raise TypeError(f"unsupported channel version type {type(version).__name__}")


def next_version(current: str | int | float | None, channel: object = None) -> str:
    """The version after ``current``: zero-padded count plus a random suffix.

    The padded count keeps string order equal to numeric order; the random suffix makes two
    forks that both step a channel from the same version mint different versions, so values
    stored per (channel, version) never collide across branches.
    """
    return f"{version_number(current) + 1:032d}.{_rng.getrandbits(64):016x}"
