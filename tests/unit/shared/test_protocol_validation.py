"""Every field of both request kinds: missing, mistyped, empty and too long → PARAM_ERROR naming it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from protocol_cases import LOSS_CASES, MISSING, QUERY_CASES, Path, field_name, mutate, url_of_length
from protocol_examples import MD5_A, loss_request, query_request

from picloss.protocol.codes import ProtocolError, ResultCode
from picloss.protocol.messages import FileDesc
from picloss.protocol.validation import (
    Limits,
    check_body_size,
    check_timestamp,
    parse_body,
    validate_identity,
    validate_loss_request,
    validate_query_request,
)

LIMITS = Limits()


def _ids(cases: list[tuple[str, Path, Any]]) -> list[str]:
    return [f"{field_name(path)}-{case}" for case, path, _ in cases]


def assert_param_error(call: Callable[[], object], field: str, bad_value: Any = None) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        call()
    error = caught.value
    assert error.code is ResultCode.PARAM_ERROR
    assert error.msg.startswith(f"{field}: "), error.msg
    assert len(error.msg) <= 256
    if isinstance(bad_value, str) and len(bad_value) > 8:
        assert bad_value not in error.msg  # the value is never echoed
    return error


@pytest.mark.parametrize(("case", "path", "value"), LOSS_CASES, ids=_ids(LOSS_CASES))
def test_loss_request_field_errors_name_the_field(case: str, path: Path, value: Any) -> None:
    body = mutate(loss_request(), path, value)
    assert_param_error(lambda: validate_loss_request(body, LIMITS), field_name(path), value)


@pytest.mark.parametrize(("case", "path", "value"), QUERY_CASES, ids=_ids(QUERY_CASES))
def test_query_request_field_errors_name_the_field(case: str, path: Path, value: Any) -> None:
    body = mutate(query_request(), path, value)
    assert_param_error(lambda: validate_query_request(body), field_name(path), value)


def test_valid_loss_request_is_parsed_and_normalised() -> None:
    request = validate_loss_request(loss_request(), LIMITS)
    assert request.appid == "wx-car-insur-01" and request.mchid == "1900000109"
    assert request.timestamp == 1_732_000_000 and request.model == "SINGLE"
    assert request.files == (
        FileDesc("https://cos.example.com/claims/c1/front.jpg", MD5_A, None),  # md5 lower-cased
        FileDesc("https://cos.example.com/claims/c1/damage-1.jpg", None, "F-2"),
        # null and "" count as absent
        FileDesc("http://10.0.0.5:9000/bucket/damage-2.jpg?sig=abc%20def", None, None),
    )


@pytest.mark.parametrize(("path", "value"), [
    (("appid",), "汉" * 64), (("mchid",), "m" * 32), (("nonce",), "n" * 32), (("nonce",), "n"),
    (("req_seqno",), "序" * 64), (("model",), "BATCH"), (("timestamp",), 0), (("timestamp",), 2**63 - 1),
    (("callback_url",), url_of_length(256)), (("files", 0, "fileurl"), url_of_length(256)),
    (("callback_url",), "HTTPS://Insurer.Example.com:8443/cb?x=1#frag"),
    (("callback_url",), "http://[::1]:8080/cb"), (("files", 0, "fileid"), "汉" * 32),
    (("files", 0, "filemd5"), MISSING), (("files", 0, "fileid"), None), (("files",), [{"fileurl": "http://h/a"}]),
    (("files",), [{"fileurl": f"https://a.example/{i}"} for i in range(100)]),
    (("extra_field",), {"future": True}), (("files", 0, "future"), 1),
], ids=lambda v: repr(v)[:40])
def test_boundary_and_forward_compatible_values_are_accepted(path: Path, value: Any) -> None:
    validate_loss_request(mutate(loss_request(), path, value), LIMITS)


def test_files_limit_is_configurable() -> None:
    body = loss_request(files=[{"fileurl": f"https://a.example/{i}"} for i in range(3)])
    validate_loss_request(body, Limits(max_files=3))
    error = assert_param_error(lambda: validate_loss_request(body, Limits(max_files=2)), "files")
    assert error.msg == "files: more than 2 items"


def test_duplicate_fileid_is_refused() -> None:
    body = loss_request()
    body["files"][2]["fileid"] = "F-2"
    error = assert_param_error(lambda: validate_loss_request(body, LIMITS), "files[2].fileid")
    assert "files[1].fileid" in error.msg


def test_first_failing_field_in_protocol_order_is_reported() -> None:
    body = loss_request(mchid=7, callback_url="nope", model="X")
    assert_param_error(lambda: validate_loss_request(body, LIMITS), "mchid")
    body = loss_request(callback_url="nope", model="X")
    assert_param_error(lambda: validate_loss_request(body, LIMITS), "model")
    body = loss_request()
    body["files"][0]["fileurl"] = "bad"
    body["files"][2]["fileurl"] = "bad"
    body["files"][0]["filemd5"] = "bad"
    assert_param_error(lambda: validate_loss_request(body, LIMITS), "files[0].fileurl")


def test_messages_are_exact_for_a_few_cases() -> None:
    body = mutate(loss_request(), ("files", 2, "fileurl"), url_of_length(257))
    error = assert_param_error(lambda: validate_loss_request(body, LIMITS), "files[2].fileurl")
    assert error.msg == "files[2].fileurl: longer than 256 characters"
    error = assert_param_error(lambda: validate_loss_request(loss_request(appid=None), LIMITS), "appid")
    assert error.msg == "appid: is required"


def test_valid_query_requests_pick_exactly_one_selector() -> None:
    by_req = validate_query_request(query_request())
    assert (by_req.req_seqno, by_req.accept_seqno) == ("REQ-20241119-000001", None)
    by_accept = validate_query_request(query_request(req_seqno="", accept_seqno="A1", extra=[1]))
    assert (by_accept.req_seqno, by_accept.accept_seqno) == (None, "A1")


def test_query_requires_exactly_one_selector() -> None:
    neither = query_request()
    del neither["req_seqno"]
    assert_param_error(lambda: validate_query_request(neither), "req_seqno")
    empty = query_request(req_seqno=None, accept_seqno="")
    assert_param_error(lambda: validate_query_request(empty), "req_seqno")
    assert_param_error(lambda: validate_query_request(query_request(accept_seqno="A1")), "accept_seqno")


def test_validate_identity_checks_only_appid_and_mchid() -> None:
    assert validate_identity({"appid": "a", "mchid": "m", "nonce": 5}) == ("a", "m")
    assert_param_error(lambda: validate_identity({"appid": "a"}), "mchid")
    assert_param_error(lambda: validate_identity({"appid": "a" * 65, "mchid": "m"}), "appid")


@pytest.mark.parametrize("raw", [
    b"\xff\xfe{}", b"", b"   ", b"{", b"[]", b'"text"', b"42", b"null", b'{"a": NaN}', b'{"a": Infinity}',
    b"[" * 100_000 + b"]" * 100_000, b'{"a":1}{"b":2}', '{"appid":"é"}'.encode("latin-1"),
], ids=lambda raw: repr(raw[:16]))
def test_parse_body_refuses_what_is_not_a_json_object(raw: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_body(raw)
    assert (caught.value.code, caught.value.msg) == (ResultCode.PARAM_ERROR, "body is not a JSON object")


def test_parse_body_refuses_duplicate_keys_at_any_depth() -> None:
    for raw in (b'{"appid":"a","appid":"b"}', b'{"files":[{"fileurl":"x","fileurl":"y"}]}'):
        with pytest.raises(ProtocolError) as caught:
            parse_body(raw)
        assert caught.value.code is ResultCode.PARAM_ERROR
        assert caught.value.msg.startswith('body: duplicate key "')


def test_parse_body_accepts_utf8_objects_with_or_without_bom() -> None:
    body = {"appid": "项目", "n": [1, 2.5, None, True]}
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert parse_body(raw) == body
    assert parse_body(b"\xef\xbb\xbf" + raw) == body


def test_check_body_size() -> None:
    check_body_size(1_048_576, LIMITS)
    with pytest.raises(ProtocolError) as caught:
        check_body_size(1_048_577, LIMITS)
    assert caught.value.code is ResultCode.BODY_TOO_LARGE and caught.value.http_status == 413


@pytest.mark.parametrize(("ts", "ok"), [(1000, True), (700, True), (1300, True), (699, False), (1301, False)])
def test_check_timestamp_window_both_directions(ts: int, ok: bool) -> None:
    if ok:
        check_timestamp(ts, now=1000.0, window_s=300)
    else:
        with pytest.raises(ProtocolError) as caught:
            check_timestamp(ts, now=1000.0, window_s=300)
        assert caught.value.code is ResultCode.TS_EXPIRED
        assert caught.value.msg.startswith("timestamp: ")
