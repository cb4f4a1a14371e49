"""Shared base class for savers: the convenience methods every saver has."""

from __future__ import annotations

from typing import Any

from checkpointkit.checkpoint import Checkpoint, Config
from checkpointkit.ids import next_version
from checkpointkit.serde import JsonSerializer, SerializerProtocol

__all__ = ["PRUNE_STRATEGIES", "SaverBase"]

PRUNE_STRATEGIES = ("keep_latest", "delete")


class SaverBase:
    """Attributes and helpers shared by the reference savers (not required of third parties)."""

    serde: SerializerProtocol

    def __init__(self, *, serde: SerializerProtocol | None = None) -> None:
        self.serde = serde if serde is not None else JsonSerializer()

    def get_next_version(self, current: str | int | float | None, channel: Any = None) -> str:
        """Versions unique across forks: a padded counter plus a random suffix."""
        return next_version(current)

    def get(self, config: Config) -> Checkpoint | None:
        found = self.get_tuple(config)  # type: ignore[attr-defined]
        return None if found is None else found.checkpoint

    async def aget(self, config: Config) -> Checkpoint | None:
        found = await self.aget_tuple(config)  # type: ignore[attr-defined]
        return None if found is None else found.checkpoint

    @staticmethod
    def check_strategy(strategy: str) -> None:
        if strategy not in PRUNE_STRATEGIES:
            raise ValueError(
                f"prune: unknown strategy {strategy!r}; expected one of {PRUNE_STRATEGIES}"
            )
