"""Encryption at rest: AES-256-GCM around another serializer, bound to each storage place."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Sequence
from typing import Any

import orjson

from checkpointkit.serde.base import DeserializationError, SerializerProtocol
from checkpointkit.serde.json import JsonSerializer

__all__ = ["ENV_KEY", "EncryptedSerializer", "load_key"]

ENV_KEY = "CHECKPOINTKIT_AES_KEY"
SUFFIX = "+aesgcm"
_NONCE = 12
_KEY_ID = 4
_AAD_PREFIX = b"checkpointkit/aesgcm/1\x00"


def load_key(value: bytes | str) -> bytes:
    """A 32-byte key from raw bytes, 64 hex digits or base64 (standard or URL-safe)."""
    if isinstance(value, bytes):
        key = value
    else:
        text = value.strip()
        key = b""
        if len(text) == 64:
            try:
                key = bytes.fromhex(text)
            except ValueError:
                key = b""
        if not key:
            try:
                key = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
            except (binascii.Error, ValueError):
                key = b""
    if len(key) != 32:
        raise ValueError(
            "an AES-256 key must be 32 bytes (give raw bytes, 64 hex digits or base64); "
            f"got {len(key)} bytes"
        )
    return key


class EncryptedSerializer:
    """Encrypts what ``inner`` produces with AES-256-GCM.

    Stored form: tag ``"<inner tag>+aesgcm"``, bytes ``key_id(4) | nonce(12) | ciphertext``.
    The associated data binds each ciphertext to its inner tag and, when the saver passes
    one, to its storage place (thread, namespace, checkpoint or version, channel), so a row
    copied elsewhere or a rewritten tag fails to decrypt. ``old_keys`` still decrypt (key
    rotation); new values always use ``key``. Plaintext rows are refused unless
    ``allow_plaintext=True`` (for migrating an unencrypted store).
    """

    def __init__(
        self,
        key: bytes | str | None = None,
        *,
        inner: SerializerProtocol | None = None,
        old_keys: Sequence[bytes | str] = (),
        allow_plaintext: bool = False,
    ) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if key is None:
            env = os.environ.get(ENV_KEY)
            if not env:
                raise ValueError(f"no encryption key: pass key= or set {ENV_KEY}")
            key = env
        self.inner = inner if inner is not None else JsonSerializer()
        self.allow_plaintext = allow_plaintext
        main = load_key(key)
        self._key_id = _key_id(main)
        self._aead = AESGCM(main)
        self._keys = {self._key_id: self._aead}
        for old in old_keys:
            raw = load_key(old)
            self._keys.setdefault(_key_id(raw), AESGCM(raw))

    # -- unbound (no storage place known) ---------------------------------------------------
    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        return self.dumps_typed_bound(obj, ())

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return self.loads_typed_bound(data, ())

    # -- bound to a storage place -------------------------------------------------------------
    def dumps_typed_bound(self, obj: Any, context: tuple[Any, ...]) -> tuple[str, bytes]:
        tag, plain = self.inner.dumps_typed(obj)
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, plain, _aad(tag, context))
        return tag + SUFFIX, self._key_id + nonce + sealed

    def loads_typed_bound(self, data: tuple[str, bytes], context: tuple[Any, ...]) -> Any:
        from cryptography.exceptions import InvalidTag

        tag, payload = data
        if not tag.endswith(SUFFIX):
            if self.allow_plaintext:
                return self.inner.loads_typed(data)
            raise DeserializationError(
                f"refusing an unencrypted value (tag {tag!r}); pass allow_plaintext=True to "
                "read a store written before encryption was enabled"
            )
        inner_tag = tag[: -len(SUFFIX)]
        payload = bytes(payload)
        if len(payload) < _KEY_ID + _NONCE + 16:
            raise DeserializationError("encrypted value is truncated")
        key_id, nonce, sealed = (
            payload[:_KEY_ID],
            payload[_KEY_ID : _KEY_ID + _NONCE],
            payload[_KEY_ID + _NONCE :],
        )
        aead = self._keys.get(key_id)
        if aead is None:
            raise DeserializationError("encrypted with a key this serializer does not hold")
        try:
            plain = aead.decrypt(nonce, sealed, _aad(inner_tag, context))
        except InvalidTag:
            raise DeserializationError(
                "encrypted value failed authentication: it was altered, or it belongs to "
                "another storage place"
            ) from None
        return self.inner.loads_typed((inner_tag, plain))


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"checkpointkit key id\x00" + key).digest()[:_KEY_ID]


def _aad(inner_tag: str, context: tuple[Any, ...]) -> bytes:
    return _AAD_PREFIX + orjson.dumps([inner_tag, *context])
