from __future__ import annotations

import json

import pytest
from protocol_examples import MD5_A, loss_request

from picloss.protocol.json import canonical_dumps, dumps
from picloss.protocol.signing import sign, verify
from picloss.protocol.validation import Limits, parse_body, validate_loss_request


def _hash(**overrides: object) -> str:
    return validate_loss_request(loss_request(**overrides), Limits()).content_hash()


def test_content_hash_ignores_identity_nonce_timestamp_and_unknown_fields() -> None:
    base = _hash()
    assert len(base) == 64 and int(base, 16) >= 0
    assert _hash(nonce="another", timestamp=1_800_000_000, extra={"x": 1}) == base
    assert _hash(mchid="someone-else") == base  # the (appid, req_seqno) key is compared by the caller


def test_content_hash_changes_with_files_model_or_callback_url() -> None:
    base = _hash()
    files = loss_request()["files"]
    assert _hash(model="BATCH") != base
    assert _hash(callback_url="https://insurer.example.com/other") != base
    assert _hash(files=list(reversed(files))) != base
    assert _hash(files=files[:2]) != base
    changed = json.loads(json.dumps(files))
    changed[1]["fileid"] = "F-9"
    assert _hash(files=changed) != base


def test_content_hash_sees_normalised_values() -> None:
    files = loss_request()["files"]
    lower = json.loads(json.dumps(files))
    lower[0]["filemd5"] = MD5_A.lower()
    assert _hash(files=lower) == _hash()  # filemd5 case does not matter
    absent = json.loads(json.dumps(files))
    del absent[2]["filemd5"], absent[2]["fileid"]
    assert _hash(files=absent) == _hash()  # null, "" and missing optional fields are the same


def test_to_event_files_and_event() -> None:
    request = validate_loss_request(loss_request(), Limits())
    files = request.to_event_files()
    assert [(f.fileurl, f.filemd5, f.fileid) for f in files] == [
        ("https://cos.example.com/claims/c1/front.jpg", MD5_A, ""),
        ("https://cos.example.com/claims/c1/damage-1.jpg", "", "F-2"),
        ("http://10.0.0.5:9000/bucket/damage-2.jpg?sig=abc%20def", "", ""),
    ]
    event = request.to_event("A1", 1_732_000_000_123)
    assert (event.accept_seqno, event.appid, event.mchid, event.req_seqno, event.model) == (
        "A1", "wx-car-insur-01", "1900000109", "REQ-20241119-000001", "SINGLE")
    assert event.callback_url == request.callback_url and event.accepted_at_ms == 1_732_000_000_123
    assert list(event.files) == files
    assigned = request.to_event("A1", 1, fileids=["x1", "F-2", "x3"])
    assert [f.fileid for f in assigned.files] == ["x1", "F-2", "x3"]


def test_dumps_is_compact_utf8_and_what_is_signed_is_what_is_sent() -> None:
    body = {"result_code": "SUCCESS", "result_msg": "受理成功", "accept_seqno": "A1"}
    raw = dumps(body)
    assert raw == '{"result_code":"SUCCESS","result_msg":"受理成功","accept_seqno":"A1"}'.encode()
    assert parse_body(raw) == body
    assert verify(raw, sign(raw, "k"), ["k"])


def test_dumps_refuses_nan_and_canonical_form_sorts_keys() -> None:
    with pytest.raises(ValueError):
        dumps({"x": float("nan")})
    assert canonical_dumps({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
