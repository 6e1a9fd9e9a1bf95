"""Signing keys per (appid, mchid), loaded once from `PICLOSS_KEYS_FILE` (PROTOCOL §2).

File format::

    {"clients": [{"appid": "app1", "mchid": "m1", "keys": ["current-key", "previous-key"]}]}

The first key of a client signs responses and callbacks; every key is accepted when
verifying a request, so a key can be rotated without downtime. Unknown fields are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from picloss.platform.config import ConfigError, env_str, json_settings, settings_file

KEYS_FILE_ENV = "PICLOSS_KEYS_FILE"
_MAX_LENGTH = {"appid": 64, "mchid": 32}


class KeyStoreError(ConfigError):
    """The keys file is missing, unreadable or malformed."""


class KeyStore:
    """Immutable map (appid, mchid) → keys; the first key is the signing key."""

    def __init__(self, clients: Mapping[tuple[str, str], tuple[str, ...]]) -> None:
        self._clients = dict(clients)

    @classmethod
    def from_json(cls, text: str, source: str = "keys JSON") -> KeyStore:
        return cls(_parse_clients(json_settings(text, source, KeyStoreError), source))

    @classmethod
    def from_file(cls, path: str | Path) -> KeyStore:
        return cls.from_json(*settings_file(path, "keys file", KeyStoreError))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KeyStore:
        """Load the file named by `PICLOSS_KEYS_FILE` (required)."""
        return cls.from_file(env_str(KEYS_FILE_ENV, env=env))

    def keys_for(self, appid: str, mchid: str) -> list[str] | None:
        """Every key accepted for the pair, signing key first; None when the pair is unknown."""
        keys = self._clients.get((appid, mchid))
        return list(keys) if keys is not None else None

    def signing_key(self, appid: str, mchid: str) -> str | None:
        """The key that signs responses and callbacks for the pair; None when the pair is unknown."""
        keys = self._clients.get((appid, mchid))
        return keys[0] if keys else None

    def __len__(self) -> int:
        return len(self._clients)

    def __contains__(self, pair: object) -> bool:
        return pair in self._clients


def _parse_clients(document: Any, source: str) -> dict[tuple[str, str], tuple[str, ...]]:
    if not isinstance(document, dict) or not isinstance(document.get("clients"), list):
        raise KeyStoreError(f'{source}: expected an object {{"clients": [...]}}')
    clients: dict[tuple[str, str], tuple[str, ...]] = {}
    for index, entry in enumerate(document["clients"]):
        where = f"{source}: clients[{index}]"
        if not isinstance(entry, dict):
            raise KeyStoreError(f"{where}: expected an object")
        appid = _identity(entry, "appid", where)
        mchid = _identity(entry, "mchid", where)
        keys = entry.get("keys")
        if not isinstance(keys, list) or not keys:
            raise KeyStoreError(f"{where}.keys: expected a non-empty array of strings")
        for key_index, key in enumerate(keys):
            if not isinstance(key, str) or not key:
                raise KeyStoreError(f"{where}.keys[{key_index}]: expected a non-empty string")
        if (appid, mchid) in clients:
            raise KeyStoreError(f"{where}: duplicate client appid={appid!r} mchid={mchid!r}")
        clients[(appid, mchid)] = tuple(keys)
    if not clients:
        raise KeyStoreError(f"{source}: clients is empty; at least one client is required")
    return clients


def _identity(entry: dict[str, Any], name: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value:
        raise KeyStoreError(f"{where}.{name}: expected a non-empty string")
    if len(value) > _MAX_LENGTH[name]:
        raise KeyStoreError(f"{where}.{name}: longer than {_MAX_LENGTH[name]} characters")
    return value
