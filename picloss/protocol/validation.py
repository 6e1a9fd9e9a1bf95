"""Validation of request bodies (PROTOCOL §3, §4, §7) into `messages` dataclasses.

Rules (see docs/protocol-decisions.md):
- String(N) limits count Unicode characters (code points), not bytes.
- Required strings must be non-empty; an optional field that is null or "" counts as absent.
- Strings must not contain control characters (U+0000..U+001F, U+007F) or lone surrogates.
- `timestamp` must be a JSON integer (true/false, 1.0 and "1" are refused), 0..2**63-1.
- Unknown fields are ignored (forward compatibility).
- Fields are checked in the order of the protocol tables; the first failure is reported as
  PARAM_ERROR with a `result_msg` that names the field ("files[2].fileurl: ...") and never
  echoes the value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from picloss.protocol.codes import ProtocolError, ResultCode
from picloss.protocol.messages import FileDesc, LossRequest, QueryRequest

MODELS = ("SINGLE", "BATCH")
URL_SCHEMES = ("http", "https")
INT64_MAX = 2**63 - 1
APPID_MAX, MCHID_MAX, NONCE_MAX = 64, 32, 32
SEQNO_MAX, URL_MAX, MODEL_MAX, FILEID_MAX = 64, 256, 16, 32
BODY_NOT_OBJECT = "body is not a JSON object"

_FORBIDDEN_CHARACTERS = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_MD5_HEX = re.compile(r"[0-9a-fA-F]{32}")


@dataclass(frozen=True)
class Limits:
    max_files: int = 100
    max_body_bytes: int = 1_048_576


def _param_error(field: str, problem: str) -> ProtocolError:
    return ProtocolError(ResultCode.PARAM_ERROR, f"{field}: {problem}")


def check_body_size(size: int, limits: Limits) -> None:
    """BODY_TOO_LARGE when a body (or its Content-Length) exceeds `limits.max_body_bytes`."""
    if size > limits.max_body_bytes:
        raise ProtocolError(ResultCode.BODY_TOO_LARGE, f"body: larger than {limits.max_body_bytes} bytes")


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _param_error("body", f"duplicate key {json.dumps(key[:64])}")
        obj[key] = value
    return obj


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; PARAM_ERROR for bad UTF-8, bad JSON, duplicate keys or a non-object.

    A leading UTF-8 byte-order mark is tolerated. NaN/Infinity are refused.
    """
    try:
        text = raw.decode("utf-8")
        if text.startswith("\ufeff"):
            text = text[1:]
        obj = json.loads(text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(ResultCode.PARAM_ERROR, BODY_NOT_OBJECT) from exc
    if not isinstance(obj, dict):
        raise ProtocolError(ResultCode.PARAM_ERROR, BODY_NOT_OBJECT)
    return obj


def _string(obj: dict[str, Any], key: str, max_len: int, *, required: bool = True,
            field: str | None = None) -> str | None:
    """A String(max_len) field; None only when optional and absent (missing, null or "")."""
    field = field or key
    value = obj.get(key)
    if value is None or value == "":
        if not required:
            return None
        raise _param_error(field, "is required" if value is None else "must not be empty")
    if not isinstance(value, str):
        raise _param_error(field, "must be a string")
    if len(value) > max_len:
        raise _param_error(field, f"longer than {max_len} characters")
    if _FORBIDDEN_CHARACTERS.search(value):
        raise _param_error(field, "contains control characters or invalid Unicode")
    return value


def _required_string(obj: dict[str, Any], key: str, max_len: int, field: str | None = None) -> str:
    value = _string(obj, key, max_len, field=field)
    assert value is not None
    return value


def _timestamp(obj: dict[str, Any]) -> int:
    value = obj.get("timestamp")
    if value is None:
        raise _param_error("timestamp", "is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _param_error("timestamp", "must be an integer (Unix seconds)")
    if not 0 <= value <= INT64_MAX:
        raise _param_error("timestamp", "out of range")
    return value


def _url(obj: dict[str, Any], key: str, field: str) -> str:
    value = _required_string(obj, key, URL_MAX, field=field)
    if any(ch.isspace() for ch in value) or "\\" in value:
        raise _param_error(field, "must be an absolute http(s) URL with a host")
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError as exc:
        raise _param_error(field, "must be an absolute http(s) URL with a host") from exc
    if parts.scheme.lower() not in URL_SCHEMES or not parts.hostname:
        raise _param_error(field, "must be an absolute http(s) URL with a host")
    return value


def validate_identity(obj: dict[str, Any]) -> tuple[str, str]:
    """(appid, mchid), checked before the key lookup and the signature check."""
    return _required_string(obj, "appid", APPID_MAX), _required_string(obj, "mchid", MCHID_MAX)


def _common(obj: dict[str, Any]) -> tuple[str, str, str, int]:
    appid, mchid = validate_identity(obj)
    return appid, mchid, _required_string(obj, "nonce", NONCE_MAX), _timestamp(obj)


def _file(item: Any, index: int) -> FileDesc:
    where = f"files[{index}]"
    if not isinstance(item, dict):
        raise _param_error(where, "must be an object")
    fileurl = _url(item, "fileurl", f"{where}.fileurl")
    filemd5 = _string(item, "filemd5", 32, required=False, field=f"{where}.filemd5")
    if filemd5 is not None and not _MD5_HEX.fullmatch(filemd5):
        raise _param_error(f"{where}.filemd5", "must be 32 hexadecimal characters")
    fileid = _string(item, "fileid", FILEID_MAX, required=False, field=f"{where}.fileid")
    return FileDesc(fileurl=fileurl, filemd5=filemd5.lower() if filemd5 else None, fileid=fileid)


def _files(obj: dict[str, Any], limits: Limits) -> tuple[FileDesc, ...]:
    value = obj.get("files")
    if value is None:
        raise _param_error("files", "is required")
    if not isinstance(value, list):
        raise _param_error("files", "must be an array")
    if not value:
        raise _param_error("files", "must not be empty")
    if len(value) > limits.max_files:
        raise _param_error("files", f"more than {limits.max_files} items")
    files = tuple(_file(item, index) for index, item in enumerate(value))
    first_index_of_fileid: dict[str, int] = {}
    for index, desc in enumerate(files):
        if desc.fileid is None:
            continue
        if desc.fileid in first_index_of_fileid:
            first = first_index_of_fileid[desc.fileid]
            raise _param_error(f"files[{index}].fileid", f"same as files[{first}].fileid")
        first_index_of_fileid[desc.fileid] = index
    return files


def _model(obj: dict[str, Any]) -> str:
    value = _required_string(obj, "model", MODEL_MAX)
    if value not in MODELS:
        raise _param_error("model", "must be SINGLE or BATCH")
    return value


def validate_loss_request(obj: dict[str, Any], limits: Limits) -> LossRequest:
    """A `picloss_request.cgi` body → LossRequest, or ProtocolError(PARAM_ERROR)."""
    appid, mchid, nonce, timestamp = _common(obj)
    files = _files(obj, limits)
    model = _model(obj)
    req_seqno = _required_string(obj, "req_seqno", SEQNO_MAX)
    callback_url = _url(obj, "callback_url", "callback_url")
    return LossRequest(appid=appid, mchid=mchid, nonce=nonce, timestamp=timestamp, files=files,
                       model=model, req_seqno=req_seqno, callback_url=callback_url)


def validate_query_request(obj: dict[str, Any]) -> QueryRequest:
    """A `picloss_query.cgi` body → QueryRequest; exactly one of req_seqno / accept_seqno."""
    appid, mchid, nonce, timestamp = _common(obj)
    req_seqno = _string(obj, "req_seqno", SEQNO_MAX, required=False)
    accept_seqno = _string(obj, "accept_seqno", SEQNO_MAX, required=False)
    if req_seqno is None and accept_seqno is None:
        raise _param_error("req_seqno", "one of req_seqno or accept_seqno is required")
    if req_seqno is not None and accept_seqno is not None:
        raise _param_error("accept_seqno", "give req_seqno or accept_seqno, not both")
    return QueryRequest(appid=appid, mchid=mchid, nonce=nonce, timestamp=timestamp,
                        req_seqno=req_seqno, accept_seqno=accept_seqno)


def check_timestamp(ts: int, now: float, window_s: float) -> None:
    """TS_EXPIRED when `ts` is more than `window_s` seconds from `now` (either direction)."""
    if abs(ts - now) > window_s:
        raise ProtocolError(ResultCode.TS_EXPIRED, f"timestamp: outside ±{window_s:g} s of server time")
