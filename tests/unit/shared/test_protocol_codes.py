from __future__ import annotations

import pytest

from picloss.protocol.codes import (
    HTTP_STATUS,
    CallbackCode,
    FileCode,
    ImageClass,
    ProtocolError,
    RequestState,
    ResultCode,
)

EXPECTED_HTTP = {
    "SUCCESS": 200, "PARAM_ERROR": 400, "BODY_TOO_LARGE": 413, "SIGN_ERROR": 401, "APPID_UNKNOWN": 401,
    "TS_EXPIRED": 401, "NONCE_REPLAYED": 401, "SEQNO_CONFLICT": 409, "RATE_LIMITED": 429,
    "SYSTEM_BUSY": 503, "SYSTEM_ERROR": 500,
}


def test_every_result_code_has_the_protocol_http_status() -> None:
    assert {code.value: HTTP_STATUS[code] for code in ResultCode} == EXPECTED_HTTP


@pytest.mark.parametrize("code", [*ResultCode, *CallbackCode])
def test_codes_fit_string16_and_equal_their_names(code: ResultCode | CallbackCode) -> None:
    assert code.value == code.name
    assert 1 <= len(code.value) <= 16
    assert code.value.isascii()


def test_file_codes_are_the_protocol_ints() -> None:
    assert {c.name: int(c) for c in FileCode} == {
        "OK": 0, "DOWNLOAD_FAILED": 1001, "MD5_MISMATCH": 1002, "NOT_AN_IMAGE": 1003, "TOO_LARGE": 1004,
        "NO_FIELD": 2001, "NO_DAMAGE": 3001, "PROCESSING_FAILED": 5001}


def test_image_classes_and_states() -> None:
    assert [c.value for c in ImageClass] == [
        "IDCARD_FRONT", "IDCARD_BACK", "DRIVER_LICENSE", "DRIVING_LICENSE", "VIN", "DAMAGE", "OTHER"]
    assert [s.value for s in RequestState] == [
        "ACCEPTED", "PROCESSING", "DONE", "DELIVERED", "DELIVERY_FAILED"]
    assert [c.value for c in CallbackCode] == ["SUCCESS", "ALL_FILES_FAILED", "PROCESS_FAILED"]


def test_protocol_error_carries_code_message_and_status() -> None:
    error = ProtocolError(ResultCode.SEQNO_CONFLICT, "req_seqno: already used with different content")
    assert error.code is ResultCode.SEQNO_CONFLICT
    assert error.msg == "req_seqno: already used with different content"
    assert error.http_status == 409
    assert "SEQNO_CONFLICT" in str(error)
