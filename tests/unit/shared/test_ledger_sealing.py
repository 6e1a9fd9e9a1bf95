"""picloss.platform.ledger.sealing: AES-256-GCM of the stored result, the data keys file and its errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from picloss.platform.ledger.reseal import main as reseal_main
from picloss.platform.ledger.sealing import (
    KEY_BYTES,
    NONCE_BYTES,
    DataKeyError,
    DataKeys,
    Sealed,
    SealError,
    new_key_entry,
)

BODY = {"accept_seqno": "PL1", "idcards": [{"id": "11010519491231002X", "name": "张三"}], "z": 1, "a": 2}


def keys(*entries: dict[str, str]) -> DataKeys:
    return DataKeys.from_json(json.dumps({"keys": list(entries)}))


def test_seal_opens_with_any_configured_key_and_keeps_key_order() -> None:
    old, new = new_key_entry("old"), new_key_entry("new")
    sealed = keys(old).seal_json(BODY, "PL1")
    assert sealed.key_id == "old" and b"11010519491231002X" not in sealed.blob and "张三".encode() not in sealed.blob
    opened = keys(new, old).open_json(sealed, "PL1")
    assert opened == BODY and list(opened) == list(BODY)
    assert keys(new, old).seal_json(BODY, "PL1").key_id == "new"   # the first key seals


def test_every_seal_has_its_own_nonce() -> None:
    k = keys(new_key_entry("k"))
    a, b = k.seal(b"same", "PL1"), k.seal(b"same", "PL1")
    assert a.blob[:NONCE_BYTES] != b.blob[:NONCE_BYTES] and a.blob != b.blob
    assert len(a.blob) == NONCE_BYTES + len(b"same") + 16


def test_altered_moved_or_foreign_values_do_not_open() -> None:
    entry = new_key_entry("k")
    k = keys(entry)
    sealed = k.seal_json(BODY, "PL1")
    flipped = Sealed("k", sealed.blob[:-1] + bytes([sealed.blob[-1] ^ 1]))
    with pytest.raises(SealError, match="does not open"):
        k.open(flipped, "PL1")
    with pytest.raises(SealError, match="does not open"):     # another row's result
        k.open(sealed, "PL2")
    with pytest.raises(SealError, match="not configured"):
        keys(new_key_entry("other")).open(sealed, "PL1")
    with pytest.raises(SealError, match="does not open"):     # same id, another key
        keys(new_key_entry("k")).open(sealed, "PL1")


@pytest.mark.parametrize(("document", "message"), [
    ("not json", "not valid JSON"),
    ({"keys": []}, "at least one key"),
    ({"clients": []}, "at least one key"),
    ({"keys": ["x"]}, r"keys\[0\]: expected an object"),
    ({"keys": [{"id": "", "key": "x"}]}, r"keys\[0\].id"),
    ({"keys": [{"id": "a b", "key": "x"}]}, r"keys\[0\].id"),
    ({"keys": [{"id": "a", "key": base64.b64encode(b"short").decode()}]}, r"keys\[0\].key: must be the base64"),
    ({"keys": [{"id": "a", "key": "!!not base64!!"}]}, r"keys\[0\].key"),
    ({"keys": [{"id": "a", "key": 5}]}, r"keys\[0\].key"),
    ({"keys": [{"id": "a", "key": base64.b64encode(b"k" * KEY_BYTES).decode()},
               {"id": "a", "key": base64.b64encode(b"j" * KEY_BYTES).decode()}]}, r"keys\[1\].id: same as"),
])
def test_a_bad_keys_file_names_the_entry_and_never_the_key(document: object, message: str) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(DataKeyError, match=message) as err:
        DataKeys.from_json(text)
    assert "short" not in str(err.value) and "!!not" not in str(err.value)


def test_from_file_and_env(tmp_path: Path) -> None:
    path = tmp_path / "data-keys.json"
    with pytest.raises(DataKeyError, match="cannot be read"):
        DataKeys.from_file(path)
    path.write_text(json.dumps({"keys": [new_key_entry("2026-12")]}))
    assert DataKeys.from_env({"PICLOSS_DATA_KEYS_FILE": str(path)}).current_id == "2026-12"
    with pytest.raises(DataKeyError.__mro__[1], match="PICLOSS_DATA_KEYS_FILE"):
        DataKeys.from_env({})


def test_the_reseal_command_prints_a_new_key_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert reseal_main(["--new-key", "2027-01"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["id"] == "2027-01" and len(base64.b64decode(entry["key"])) == KEY_BYTES
    assert keys(entry).current_id == "2027-01"
    assert reseal_main(["--new-key", "bad id"]) == 1
