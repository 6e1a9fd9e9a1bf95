"""Schemathesis against contracts/openapi.yaml, every generated body signed with the project's own `sign`:
no 5xx, every response valid against the contract schemas, and no request without a valid signature ever
accepted. FUZZ_CASES (default 300) cases in all, split over the two operations; `make fuzz` runs 10,000."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core import NotSet

from devkit.stack import DEMO_APPID, DEMO_MCHID, REPO_ROOT, Stack
from picloss.protocol.schemas import validator
from picloss.protocol.signing import sign

pytestmark = pytest.mark.e2e

SCHEMA = schemathesis.openapi.from_path(str(REPO_ROOT / "contracts" / "openapi.yaml"))
CASES_PER_OPERATION = max(1, int(os.environ.get("FUZZ_CASES", "300")) // 2)
RESPONSE_SCHEMA = {"picloss_request.cgi": "response", "picloss_query.cgi": "query-response"}
TALLY: dict[str, int] = {"cases": 0, "accepted": 0, "unsigned_refused": 0}


def body_bytes(body: Any) -> bytes:
    if isinstance(body, NotSet):
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def steer(body: Any, n: int) -> Any:
    """Nine bodies in ten get a known (appid, mchid) and a fresh timestamp, so the fuzzer reaches the
    checks past authentication; the tenth keeps whatever was generated."""
    if isinstance(body, dict) and n % 10:
        body = {**body, "appid": DEMO_APPID, "mchid": DEMO_MCHID, "timestamp": int(time.time())}
    return body


def check_response(resp: requests.Response, path: str) -> dict[str, Any]:
    assert resp.status_code < 500, f"{resp.status_code}: {resp.text[:300]}"
    body = resp.json()
    schema = RESPONSE_SCHEMA[path.rsplit("/", 1)[1]] if resp.status_code == 200 else "response"
    errors = [e.message for e in validator(schema).iter_errors(body)]
    assert not errors, f"{schema} schema violated: {errors[:3]} in {body}"
    return body


@pytest.fixture(scope="module")
def fuzz_target(fuzz_gateway: Stack) -> tuple[str, str]:
    return fuzz_gateway.gateway_url, fuzz_gateway.key


@SCHEMA.parametrize()
@settings(
    max_examples=CASES_PER_OPERATION, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_signed_fuzz_never_5xx_and_conforms(case: schemathesis.Case, fuzz_target: tuple[str, str]) -> None:
    base_url, key = fuzz_target
    TALLY["cases"] += 1
    raw = body_bytes(steer(case.body, TALLY["cases"]))
    url = base_url + case.path
    content_type = case.media_type or "text/json"
    signed = requests.post(
        url, data=raw, timeout=10, headers={"Content-Type": content_type, "Signature": sign(raw, key)}
    )
    reply = check_response(signed, case.path)
    case.validate_response(signed, checks=[schemathesis.checks.not_a_server_error])
    if reply.get("result_code") == "SUCCESS":
        TALLY["accepted"] += 1
    for bad_signature in (None, sign(raw, key + "x"), sign(raw, key).lower()[::-1]):
        headers = {"Content-Type": content_type}
        if bad_signature is not None:
            headers["Signature"] = bad_signature
        unsigned = requests.post(url, data=raw, headers=headers, timeout=10)
        reply = check_response(unsigned, case.path)
        assert unsigned.status_code != 200 and reply["result_code"] != "SUCCESS", (
            "accepted without a signature"
        )
        TALLY["unsigned_refused"] += 1


def test_fuzz_tally_is_reported() -> None:
    """Runs after the fuzzer (file order); `make fuzz` records this line in docs/reliability.md."""
    print(
        f"\nFUZZ TALLY cases={TALLY['cases']} accepted={TALLY['accepted']} "
        f"unsigned_refused={TALLY['unsigned_refused']}"
    )
    assert TALLY["cases"] > 0 and TALLY["unsigned_refused"] == 3 * TALLY["cases"]
