from __future__ import annotations

import json
from pathlib import Path

import pytest

from picloss.platform.config import ConfigError
from picloss.protocol.keys import KEYS_FILE_ENV, KeyStore, KeyStoreError

DOCUMENT = {"clients": [
    {"appid": "app1", "mchid": "m1", "keys": ["current", "previous"]},
    {"appid": "app1", "mchid": "m2", "keys": ["other"], "comment": "unknown fields are ignored"},
]}


def test_from_file_and_lookups(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(DOCUMENT), encoding="utf-8")
    store = KeyStore.from_file(path)
    assert len(store) == 2
    assert store.keys_for("app1", "m1") == ["current", "previous"]
    assert store.signing_key("app1", "m1") == "current"
    assert store.signing_key("app1", "m2") == "other"
    assert store.keys_for("app1", "m3") is None and store.signing_key("app1", "m3") is None
    assert store.keys_for("m1", "app1") is None


def test_from_env_reads_the_named_file(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text(json.dumps(DOCUMENT), encoding="utf-8")
    assert KeyStore.from_env({KEYS_FILE_ENV: str(path)}).keys_for("app1", "m2") == ["other"]
    with pytest.raises(ConfigError, match=KEYS_FILE_ENV):
        KeyStore.from_env({})


def test_keys_for_returns_a_copy() -> None:
    store = KeyStore.from_json(json.dumps(DOCUMENT))
    keys = store.keys_for("app1", "m1")
    assert keys is not None
    keys.append("injected")
    assert store.keys_for("app1", "m1") == ["current", "previous"]


@pytest.mark.parametrize(("text", "message"), [
    ("{", "not valid JSON"),
    ("[]", "expected an object"),
    ('{"clients": {}}', "expected an object"),
    ('{"clients": []}', "at least one client"),
    ('{"clients": ["x"]}', r"clients\[0\]: expected an object"),
    ('{"clients": [{"mchid": "m", "keys": ["k"]}]}', r"clients\[0\]\.appid"),
    ('{"clients": [{"appid": "a", "mchid": "", "keys": ["k"]}]}', r"clients\[0\]\.mchid"),
    ('{"clients": [{"appid": "a", "mchid": "' + "m" * 33 + '", "keys": ["k"]}]}', "longer than 32"),
    ('{"clients": [{"appid": "a", "mchid": "m", "keys": []}]}', r"clients\[0\]\.keys"),
    ('{"clients": [{"appid": "a", "mchid": "m", "keys": "k"}]}', r"clients\[0\]\.keys"),
    ('{"clients": [{"appid": "a", "mchid": "m", "keys": ["k", 5]}]}', r"clients\[0\]\.keys\[1\]"),
    ('{"clients": [{"appid": "a", "mchid": "m", "keys": ["k"]},'
     ' {"appid": "a", "mchid": "m", "keys": ["j"]}]}', r"clients\[1\]: duplicate client"),
])
def test_malformed_documents_fail_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(KeyStoreError, match=message):
        KeyStore.from_json(text)


def test_unreadable_file_names_the_file_without_leaking_keys(tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"
    with pytest.raises(KeyStoreError, match=r"absent\.json"):
        KeyStore.from_file(missing)
    bad = tmp_path / "bad.json"
    bad.write_text('{"clients": [{"appid": "a", "mchid": "m", "keys": ["super-secret", 1]}]}')
    with pytest.raises(KeyStoreError) as caught:
        KeyStore.from_file(bad)
    assert "bad.json" in str(caught.value) and "super-secret" not in str(caught.value)
