"""Every code of the protocol: response codes, callback codes, per-file codes, degrees, classes, states.

PROTOCOL.md §3 (response codes and their HTTP status), §5 (callback and per-file codes, damage degrees),
§7 (image classes, request states). Values are the strings/ints sent on the wire.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ResultCode(StrEnum):
    """`result_code` of a synchronous response (request and query endpoints)."""

    SUCCESS = "SUCCESS"
    PARAM_ERROR = "PARAM_ERROR"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    SIGN_ERROR = "SIGN_ERROR"
    APPID_UNKNOWN = "APPID_UNKNOWN"
    TS_EXPIRED = "TS_EXPIRED"
    NONCE_REPLAYED = "NONCE_REPLAYED"
    SEQNO_CONFLICT = "SEQNO_CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    SYSTEM_BUSY = "SYSTEM_BUSY"
    SYSTEM_ERROR = "SYSTEM_ERROR"


HTTP_STATUS: dict[ResultCode, int] = {
    ResultCode.SUCCESS: 200,
    ResultCode.PARAM_ERROR: 400,
    ResultCode.BODY_TOO_LARGE: 413,
    ResultCode.SIGN_ERROR: 401,
    ResultCode.APPID_UNKNOWN: 401,
    ResultCode.TS_EXPIRED: 401,
    ResultCode.NONCE_REPLAYED: 401,
    ResultCode.SEQNO_CONFLICT: 409,
    ResultCode.RATE_LIMITED: 429,
    ResultCode.SYSTEM_BUSY: 503,
    ResultCode.SYSTEM_ERROR: 500,
}


class CallbackCode(StrEnum):
    """Overall `result_code` of a result callback (the flow only; per-file codes are `FileCode`)."""

    SUCCESS = "SUCCESS"
    ALL_FILES_FAILED = "ALL_FILES_FAILED"
    PROCESS_FAILED = "PROCESS_FAILED"


class FileCode(IntEnum):
    """Per-file / per-object `result_code` (Int) inside a callback."""

    OK = 0
    DOWNLOAD_FAILED = 1001
    MD5_MISMATCH = 1002
    NOT_AN_IMAGE = 1003
    TOO_LARGE = 1004
    NO_FIELD = 2001
    NO_DAMAGE = 3001
    # Extension: a model service failed or is not available; never a made-up result.
    PROCESSING_FAILED = 5001


class ImageClass(StrEnum):
    """`image_class` of the §7 `files` extension."""

    IDCARD_FRONT = "IDCARD_FRONT"
    IDCARD_BACK = "IDCARD_BACK"
    DRIVER_LICENSE = "DRIVER_LICENSE"  # 驾驶证
    DRIVING_LICENSE = "DRIVING_LICENSE"  # 行驶证
    VIN = "VIN"
    DAMAGE = "DAMAGE"
    OTHER = "OTHER"


# The classes whose photos the OCR reads, in this order (renderers, reports and evaluations follow it).
DOCUMENT_CLASSES: tuple[ImageClass, ...] = (
    ImageClass.IDCARD_FRONT, ImageClass.IDCARD_BACK, ImageClass.DRIVER_LICENSE, ImageClass.DRIVING_LICENSE,
    ImageClass.VIN,
)


class DamageDegree(IntEnum):
    """`damage_degree_id` of a damage (§5 single_damage, batch_loss)."""

    REPAIR = 0  # 修
    REPLACE = 1  # 换


class RequestState(StrEnum):
    """Life cycle of an accepted request, as the query endpoint reports it."""

    ACCEPTED = "ACCEPTED"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    DELIVERED = "DELIVERED"
    DELIVERY_FAILED = "DELIVERY_FAILED"


class ProtocolError(Exception):
    """A request the protocol refuses; `code` and `msg` go into the response as they are.

    `msg` names the offending field (e.g. "files[2].fileurl: longer than 256 characters")
    and never carries internals (no exception text, paths or stack traces).
    """

    def __init__(self, code: ResultCode, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]
