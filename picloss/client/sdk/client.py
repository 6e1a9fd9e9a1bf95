"""A synchronous, dependency-free client of the gateway: signed submit and query (PROTOCOL §4, §7)."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from picloss.client.sdk._protocol import pjson, signing
from picloss.client.sdk.credentials import Credentials
from picloss.protocol.endpoints import QUERY_PATH, REQUEST_PATH
from picloss.protocol.results import QueryResult, parse_query

MODES = ("SINGLE", "BATCH")


class PiclossError(Exception):
    """Base of every error the SDK raises; `str(error)` is one line meant for a person."""


class TransportError(PiclossError):
    """The gateway could not be reached or did not answer JSON."""


class SignatureError(PiclossError):
    """A SUCCESS answer whose `Signature` is missing or wrong (a man in the middle, or the wrong key)."""


class ApiError(PiclossError):
    """The gateway answered a `result_code` other than SUCCESS (PROTOCOL §3)."""

    def __init__(self, result_code: str, result_msg: str, http_status: int) -> None:
        super().__init__(f"{result_code} (HTTP {http_status}): {result_msg}" if result_msg
                         else f"{result_code} (HTTP {http_status})")
        self.result_code, self.result_msg, self.http_status = result_code, result_msg, http_status

    @property
    def retryable(self) -> bool:
        """SYSTEM_BUSY, RATE_LIMITED and SYSTEM_ERROR may succeed later with the same req_seqno."""
        return self.result_code in ("SYSTEM_BUSY", "RATE_LIMITED", "SYSTEM_ERROR")


@dataclass(frozen=True)
class Accepted:
    accept_seqno: str
    req_seqno: str
    raw: dict[str, Any]


def file_desc(fileurl: str, filemd5: str | None = None, fileid: str | None = None) -> dict[str, str]:
    """A request `file_desc` (PROTOCOL §4)."""
    desc = {"fileurl": fileurl}
    if filemd5:
        desc["filemd5"] = filemd5
    if fileid:
        desc["fileid"] = fileid
    return desc


class Client:
    """Signs every request with the (appid, mchid) key and verifies the signature of every SUCCESS answer.

    >>> client = Client(load_credentials())
    >>> accepted = client.submit(["https://cos.example.com/c1/front.jpg"], mode="BATCH",
    ...                          callback_url="https://insurer.example.com/picloss/callback")
    >>> client.query(accept_seqno=accepted.accept_seqno).state
    'PROCESSING'
    """

    def __init__(self, credentials: Credentials, timeout_s: float = 30.0) -> None:
        if not credentials.gateway_url:
            raise PiclossError("no gateway URL (--gateway-url or PICLOSS_GATEWAY_URL)")
        self.credentials = credentials
        self.base_url = credentials.gateway_url.rstrip("/")
        self.timeout_s = timeout_s
        self._ssl: ssl.SSLContext | None = None
        if self.base_url.startswith("https"):
            self._ssl = ssl.create_default_context(cafile=credentials.ca_cert or None)

    def envelope(self, **fields: Any) -> dict[str, Any]:
        """The common fields (appid, mchid, a fresh nonce, the current timestamp) followed by `fields`."""
        c = self.credentials
        return {"appid": c.appid, "mchid": c.mchid, "nonce": signing.new_nonce(), "timestamp": int(time.time()),
                **fields}

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a signed body; the answer's JSON on SUCCESS, else `ApiError` / `TransportError`."""
        raw = pjson.dumps(body)
        request = urllib.request.Request(self.base_url + path, data=raw, method="POST", headers={
            "Content-Type": "text/json", signing.SIGNATURE_HEADER: signing.sign(raw, self.credentials.key)})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s, context=self._ssl) as resp:
                status, reply, signature = resp.status, resp.read(), resp.headers.get(signing.SIGNATURE_HEADER)
        except urllib.error.HTTPError as exc:
            status, reply, signature = exc.code, exc.read(), exc.headers.get(signing.SIGNATURE_HEADER)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransportError(f"cannot reach {self.base_url}: {reason}") from exc
        try:
            answer = json.loads(reply)
        except ValueError as exc:
            raise TransportError(f"{self.base_url}{path}: HTTP {status}, not a JSON answer") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("result_code"), str):
            raise TransportError(f"{self.base_url}{path}: HTTP {status}, no result_code in the answer")
        if answer["result_code"] != "SUCCESS":
            raise ApiError(answer["result_code"], str(answer.get("result_msg") or ""), status)
        if not signing.verify(reply, signature, [self.credentials.key]):
            raise SignatureError(f"{self.base_url}{path}: the SUCCESS answer's Signature does not verify")
        return answer

    def submit(self, files: Iterable[str | dict[str, str]], *, mode: str = "SINGLE", callback_url: str,
               req_seqno: str | None = None) -> Accepted:
        """Submit a loss-assessment request; `files` are URLs or `file_desc` dicts. A retry with the same
        `req_seqno` and content returns the same `accept_seqno` (PROTOCOL §4, idempotency)."""
        if mode not in MODES:
            raise PiclossError(f"mode must be SINGLE or BATCH, not {mode!r}")
        descs = [file_desc(f) if isinstance(f, str) else dict(f) for f in files]
        if not descs:
            raise PiclossError("no files to submit")
        seqno = req_seqno or uuid.uuid4().hex
        answer = self.post(REQUEST_PATH, self.envelope(files=descs, model=mode, req_seqno=seqno,
                                                        callback_url=callback_url))
        return Accepted(str(answer.get("accept_seqno", "")), seqno, answer)

    def query(self, *, accept_seqno: str | None = None, req_seqno: str | None = None) -> QueryResult:
        """The request's state, delivery attempts and, once done, its result (PROTOCOL §7)."""
        if (accept_seqno is None) == (req_seqno is None):
            raise PiclossError("query needs exactly one of accept_seqno and req_seqno")
        selector = {"accept_seqno": accept_seqno} if accept_seqno else {"req_seqno": req_seqno}
        return parse_query(self.post(QUERY_PATH, self.envelope(**selector)))


def sign(body: bytes, key: str) -> str:
    """Upper-case hex HMAC-SHA256 of the exact body bytes (PROTOCOL §2); the gateway's own function."""
    return str(signing.sign(body, key))


def verify(body: bytes, signature: str | None, keys: str | Sequence[str]) -> bool:
    """True when `signature` signs `body` under the key (or any of the keys, during a rotation)."""
    return bool(signing.verify(body, signature, [keys] if isinstance(keys, str) else list(keys)))
