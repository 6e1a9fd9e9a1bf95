"""The stored result sealed at rest: AES-256-GCM under data keys loaded once from `PICLOSS_DATA_KEYS_FILE`.

File format (a Kubernetes Secret in the chart, `dataKeys.existingSecret`)::

    {"keys": [{"id": "2026-12", "key": "<base64 of 32 random bytes>"}, {"id": "2026-06", "key": "..."}]}

The first key seals; every key opens, so a key is rotated without downtime: put the new key first, keep the old
ones until `python -m picloss.platform.ledger.reseal` has moved every row to the new key. A sealed value is the 12-byte
random nonce followed by the ciphertext and its 16-byte tag; the key id is stored beside it (`result_key`), and
the row's `accept_seqno` is the associated data, so a sealed result copied onto another row does not open.
Errors name the file and the entry, never a key.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from picloss.platform.config import ConfigError, env_str, json_settings, settings_file

DATA_KEYS_FILE_ENV = "PICLOSS_DATA_KEYS_FILE"
KEY_BYTES = 32          # AES-256
NONCE_BYTES = 12        # the GCM nonce size NIST SP 800-38D recommends; random per seal
_MAX_ID = 32
_AAD_PREFIX = b"picloss.result.v1\x00"


class DataKeyError(ConfigError):
    """The data keys file is missing, unreadable or malformed."""


class SealError(RuntimeError):
    """A sealed value cannot be opened: its key is not configured here, or it was altered."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    blob: bytes  # nonce ‖ ciphertext ‖ tag


class DataKeys:
    """Immutable id → AES-256 key; the first key seals, every key opens."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise DataKeyError("data keys: at least one key is required")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}
        self.current_id = keys[0][0]
        self.ids = tuple(key_id for key_id, _ in keys)

    @classmethod
    def from_json(cls, text: str, source: str = "data keys JSON") -> DataKeys:
        return cls(_parse(json_settings(text, source, DataKeyError), source))

    @classmethod
    def from_file(cls, path: str | Path) -> DataKeys:
        return cls.from_json(*settings_file(path, "data keys file", DataKeyError))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DataKeys:
        return cls.from_file(env_str(DATA_KEYS_FILE_ENV, env=env))

    def seal(self, plaintext: bytes, context: str) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + self._ciphers[self.current_id].encrypt(nonce, plaintext, _aad(context))
        return Sealed(self.current_id, blob)

    def open(self, sealed: Sealed, context: str) -> bytes:
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise SealError(f"data key {sealed.key_id!r} is not configured here")
        try:
            return cipher.decrypt(sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:], _aad(context))
        except InvalidTag as exc:
            raise SealError(f"sealed value under key {sealed.key_id!r} does not open (altered or another row's)") \
                from exc

    def seal_json(self, value: dict[str, Any], context: str) -> Sealed:
        # the callback body's key order is kept (the stored body is the one sent)
        return self.seal(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(), context)

    def open_json(self, sealed: Sealed, context: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.open(sealed, context))
        return value


def new_key_entry(key_id: str) -> dict[str, str]:
    """One entry of the keys file with a fresh random key (`python -m picloss.platform.ledger.reseal --new-key ID`)."""
    _check_id(key_id, "new key")
    return {"id": key_id, "key": base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}


def _aad(context: str) -> bytes:
    return _AAD_PREFIX + context.encode()


def _check_id(key_id: object, where: str) -> str:
    if not isinstance(key_id, str) or not key_id or len(key_id) > _MAX_ID \
            or not all(c.isascii() and (c.isalnum() or c in "-._") for c in key_id):
        raise DataKeyError(f"{where}.id: 1 to {_MAX_ID} characters of A-Z a-z 0-9 - . _")
    return key_id


def _parse(document: Any, source: str) -> list[tuple[str, bytes]]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list) or not document["keys"]:
        raise DataKeyError(f'{source}: expected an object {{"keys": [{{"id", "key"}}, ...]}} with at least one key')
    keys: list[tuple[str, bytes]] = []
    for index, entry in enumerate(document["keys"]):
        where = f"{source}: keys[{index}]"
        if not isinstance(entry, dict):
            raise DataKeyError(f"{where}: expected an object")
        key_id = _check_id(entry.get("id"), where)
        if any(key_id == seen for seen, _ in keys):
            raise DataKeyError(f"{where}.id: same as an earlier key")
        raw = entry.get("key")
        try:
            key = base64.b64decode(raw, validate=True) if isinstance(raw, str) else b""
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise DataKeyError(f"{where}.key: must be the base64 of {KEY_BYTES} random bytes")
        keys.append((key_id, key))
    return keys
