"""The protocol's endpoints and their answers: the request (§4) and the query (§7) paths, the common response (§3),
the query's SUCCESS answer (§7), and the rule by which the insurer's callback endpoint accepted a callback (§5).

Standard library only: the gateway serves these paths, the clients (`picloss.client.sdk`, the dev kit) post to them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from picloss.protocol.codes import ResultCode

REQUEST_PATH = "/car-insur/pic-loss/picloss_request.cgi"
QUERY_PATH = "/car-insur/pic-loss/picloss_query.cgi"

RESULT_EXPIRED = "result expired"  # result_msg of a query whose result the retention deleted


def response_body(code: ResultCode, msg: str = "", **extra: Any) -> dict[str, Any]:
    """A synchronous answer (§3): `result_code`, `result_msg` (the code itself when no message), then the
    endpoint's own fields; a field whose value is None is left out."""
    body: dict[str, Any] = {"result_code": code.value, "result_msg": msg or code.value}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def query_answer(*, accept_seqno: str, req_seqno: str, state: str, attempts: Sequence[Mapping[str, Any]],
                 result: dict[str, Any] | None = None, result_expired_at: datetime | None = None) -> dict[str, Any]:
    """The query's SUCCESS answer (contracts/query-response.schema.json): state, every delivery attempt (the
    ledger's rows: attempt, started_at, outcome, http_status, error, duration_ms) and the stored result once done.
    Past the retention the result is gone: `result_msg` says "result expired" and `result_expired_at` when
    (docs/protocol-decisions.md)."""
    fields: dict[str, Any] = {
        "accept_seqno": accept_seqno,
        "req_seqno": req_seqno,
        "state": state,
        "attempts": [{
            "attempt": a["attempt"],
            "at": a["started_at"].isoformat(),
            "outcome": a["outcome"],
            "http_status": a["http_status"],
            "error": a["error"],
            "duration_ms": a["duration_ms"],
        } for a in attempts],
    }
    msg = ""
    if result is not None:
        fields["result"] = result
    elif result_expired_at is not None:
        msg = RESULT_EXPIRED
        fields["result_expired_at"] = result_expired_at.isoformat()
    return response_body(ResultCode.SUCCESS, msg, **fields)


def callback_accepted(status: int, body: bytes) -> bool:
    """§5: HTTP 2xx and, if the body is JSON with a result_code, that value is SUCCESS."""
    if not 200 <= status < 300:
        return False
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return True
    if isinstance(parsed, dict) and "result_code" in parsed:
        return parsed["result_code"] == "SUCCESS"
    return True
