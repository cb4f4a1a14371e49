"""Saver factories for child processes: a saver built with the encrypted serializer."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["encrypted_saver"]


def encrypted_saver(target: str, key: str, *args: Any, **kwargs: Any) -> Any:
    """``target(*args, serde=EncryptedSerializer(key), **kwargs)``; ``target`` is
    ``"module:callable"`` (attributes may be dotted), as in ``SaverFactory``. Lets a
    ``SaverFactory`` with JSON arguments rebuild an encrypting saver in another process."""
    from checkpointkit.serde.encrypted import EncryptedSerializer

    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj(*args, serde=EncryptedSerializer(key), **kwargs)
