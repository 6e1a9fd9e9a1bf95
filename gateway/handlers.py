"""The two protocol endpoints. Checks run in a fixed order:

body size → JSON → appid/mchid → key (APPID_UNKNOWN) → Signature (SIGN_ERROR) → every field
(PARAM_ERROR) → timestamp (TS_EXPIRED) → rate (RATE_LIMITED) → nonce + idempotency + ledger + broker
in one ledger statement (NONCE_REPLAYED, SEQNO_CONFLICT), then the broker ack (SYSTEM_BUSY: the accept is taken
back) → SUCCESS.
Responses are signed with the pair's first key whenever the pair is known.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from gateway.metrics import GATEWAY_LATENCY, GATEWAY_REQUESTS
from gateway.state import CONFIG, DEPS, LIMITER, SIGNING_KEY
from picloss.platform.kafka import BrokerUnavailable
from picloss.platform.ledger import LedgerUnavailable
from picloss.platform.ledger.sealing import SealError
from picloss.platform.ledger.store import AcceptStatus, NewFile
from picloss.platform.netguard import PLAIN_HTTP_REFUSED, plain_http_allowed
from picloss.platform.observability.logs import bind_request, clear_request
from picloss.protocol import json as pjson
from picloss.protocol.codes import HTTP_STATUS, ProtocolError, ResultCode
from picloss.protocol.endpoints import query_answer, response_body
from picloss.protocol.signing import sign, verify
from picloss.protocol.validation import (
    check_body_size,
    check_timestamp,
    parse_body,
    validate_identity,
    validate_loss_request,
    validate_query_request,
)

log = structlog.get_logger()

CONTENT_TYPE = "text/json"


def new_accept_seqno() -> str:
    """32 chars: "PL" + UTC time to the second + 16 random hex digits (sortable, unguessable)."""
    return "PL" + time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(8)


def new_fileid() -> str:
    return uuid.uuid4().hex  # 32 chars, the protocol's String(32)


def respond(code: ResultCode, msg: str = "", key: str | None = None, **extra: Any) -> web.Response:
    return send(response_body(code, msg, **extra), key)


def send(body: dict[str, Any], key: str | None) -> web.Response:
    """An answer built by `picloss.protocol.endpoints`, serialised once and signed with the pair's key."""
    raw = pjson.dumps(body)
    headers = {"Signature": sign(raw, key)} if key else {}
    return web.Response(body=raw, status=HTTP_STATUS[ResultCode(body["result_code"])], headers=headers,
                        content_type=CONTENT_TYPE, charset="utf-8")


async def _read_authenticated(request: web.Request) -> tuple[dict[str, Any], str, str, str]:
    """Body → (object, appid, mchid, signing key); raises ProtocolError."""
    config, deps = request.app[CONFIG], request.app[DEPS]
    if request.content_length is not None:
        check_body_size(request.content_length, config.limits)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:  # a chunked body over the limit, stopped by aiohttp
        raise ProtocolError(ResultCode.BODY_TOO_LARGE, f"body: larger than {config.max_body_bytes} bytes") from exc
    check_body_size(len(raw), config.limits)
    obj = parse_body(raw)
    appid, mchid = validate_identity(obj)
    keys = deps.keys.keys_for(appid, mchid)
    if not keys:
        raise ProtocolError(ResultCode.APPID_UNKNOWN, "no key for this appid and mchid")
    request[SIGNING_KEY] = keys[0]
    if not verify(raw, request.headers.get("Signature"), keys):
        raise ProtocolError(ResultCode.SIGN_ERROR, "Signature missing or wrong")
    return obj, appid, mchid, keys[0]


Inner = Callable[[web.Request], Awaitable[web.Response]]


def endpoint(name: str) -> Callable[[Inner], Inner]:
    """Timing, the result-code counter and the refusals of one protocol endpoint, in one place: the inner
    handler raises ProtocolError for every refusal and returns its SUCCESS response."""

    def wrap(inner: Inner) -> Inner:
        latency = GATEWAY_LATENCY.labels(name)
        counters: dict[ResultCode, Any] = {}

        async def handler(request: web.Request) -> web.Response:
            start = time.perf_counter()
            code = ResultCode.SUCCESS
            try:
                return await inner(request)
            except ProtocolError as err:
                code = err.code
                return respond(err.code, err.msg, request.get(SIGNING_KEY))
            except Exception:
                code = ResultCode.SYSTEM_ERROR
                log.exception(f"{name} failed")
                return respond(code, "internal error", request.get(SIGNING_KEY))
            finally:
                counter = counters.get(code)
                if counter is None:
                    counter = counters[code] = GATEWAY_REQUESTS.labels(name, code.value)
                counter.inc()
                latency.observe(time.perf_counter() - start)
                clear_request()

        return handler

    return wrap


@endpoint("request")
async def request_handler(request: web.Request) -> web.Response:
    config, deps = request.app[CONFIG], request.app[DEPS]
    obj, appid, mchid, key = await _read_authenticated(request)
    req = validate_loss_request(obj, config.limits)
    if not plain_http_allowed(req.callback_url, config.callback_allow):
        raise ProtocolError(ResultCode.PARAM_ERROR, f"callback_url: {PLAIN_HTTP_REFUSED}")
    bind_request(req_seqno=req.req_seqno)
    check_timestamp(req.timestamp, int(time.time()), config.ts_window_s)
    if not request.app[LIMITER].allow(appid):
        raise ProtocolError(ResultCode.RATE_LIMITED, "over the configured request rate")

    accept_seqno = new_accept_seqno()
    files = [NewFile(idx, f.fileid or new_fileid(), f.fileurl, f.filemd5) for idx, f in enumerate(req.files)]
    event = req.to_event(accept_seqno, int(time.time() * 1000), [f.fileid for f in files])

    async def publish() -> None:
        await deps.producer.send(config.requests_topic, accept_seqno, event.SerializeToString())

    try:
        result = await deps.ledger.accept(
            accept_seqno=accept_seqno, appid=appid, mchid=mchid, nonce=req.nonce,
            nonce_ttl_s=2 * config.ts_window_s, req_seqno=req.req_seqno, content_hash=req.content_hash(),
            model=req.model, callback_url=req.callback_url, files=files, publish=publish)
    except (BrokerUnavailable, LedgerUnavailable) as exc:
        log.warning("cannot accept durably", error=str(exc))
        raise ProtocolError(ResultCode.SYSTEM_BUSY, "cannot durably accept now; retry later") from exc
    if result.status is AcceptStatus.NONCE_REPLAYED:
        raise ProtocolError(ResultCode.NONCE_REPLAYED, "nonce already used")
    if result.status is AcceptStatus.CONFLICT:
        raise ProtocolError(ResultCode.SEQNO_CONFLICT, "req_seqno already used with different content")
    bind_request(accept_seqno=result.accept_seqno)
    log.info("accepted", duplicate=result.status is AcceptStatus.DUPLICATE, files=len(files), model=req.model)
    return respond(ResultCode.SUCCESS, "", key, accept_seqno=result.accept_seqno)


@endpoint("query")
async def query_handler(request: web.Request) -> web.Response:
    config, deps = request.app[CONFIG], request.app[DEPS]
    obj, appid, _mchid, key = await _read_authenticated(request)
    query = validate_query_request(obj)
    check_timestamp(query.timestamp, int(time.time()), config.ts_window_s)
    if not request.app[LIMITER].allow(appid):
        raise ProtocolError(ResultCode.RATE_LIMITED, "over the configured request rate")
    try:
        row = await deps.ledger.find(appid, req_seqno=query.req_seqno, accept_seqno=query.accept_seqno)
        attempts = await deps.ledger.attempts(row.accept_seqno) if row else []
    except LedgerUnavailable as exc:
        log.warning("query failed", error=str(exc))
        raise ProtocolError(ResultCode.SYSTEM_BUSY, "ledger unavailable; retry later") from exc
    if row is None:
        selector = "accept_seqno" if query.accept_seqno else "req_seqno"
        raise ProtocolError(ResultCode.PARAM_ERROR, f"{selector}: no such request for this appid")
    try:  # the stored result is opened here, where it is sent
        result = row.open_result(deps.data_keys) if row.has_result else None
    except SealError as exc:  # a data key this replica does not hold yet (mid-rotation)
        log.error("stored result does not open here", error=str(exc))
        raise ProtocolError(ResultCode.SYSTEM_BUSY, "stored result cannot be read now; retry later") from exc
    return send(query_answer(accept_seqno=row.accept_seqno, req_seqno=row.req_seqno, state=row.state,
                             attempts=attempts, result=result,
                             result_expired_at=None if row.has_result else row.result_expired_at), key)
