"""Issue 23 at the gateway: plain-HTTP callbacks refused at accept outside the allow-list; the query opens the
sealed result where it sends it and answers "result expired" once the retention deleted it."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import QUERY_PATH, REQUEST_PATH, build_app
from gateway.config import GatewayConfig
from gateway.state import Deps
from picloss.platform.ledger.sealing import DataKeys, new_key_entry
from picloss.platform.ledger.store import AcceptResult, AcceptStatus, RequestRow
from picloss.protocol.endpoints import RESULT_EXPIRED
from picloss.protocol.keys import KeyStore
from picloss.protocol.schemas import validator
from picloss.protocol.signing import sign

KEY = "k" * 32
OLD, NEW = new_key_entry("old"), new_key_entry("new")
ENV = {"GATEWAY_TLS": "false", "DATABASE_URL": "postgresql://unused", "KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
       "PICLOSS_KEYS_FILE": "unused", "PICLOSS_DATA_KEYS_FILE": "unused", "CALLBACK_ALLOW_CIDRS": "10.1.0.0/16"}
_FILE = {"fileurl": "https://p.example/a.jpg", "fileid": "f0", "filemd5": "0" * 32}
RESULT = {"appid": "app", "mchid": "mch", "nonce": "n", "timestamp": 1, "accept_seqno": "PLdone",
          "req_seqno": "r-done", "result_code": "SUCCESS", "result_msg": "1 file processed",
          "idcards": [{"file": _FILE, "result_code": 0, "id": "11010519491231002X", "name": "张三丰"}],
          "files": [{**_FILE, "image_class": "IDCARD_FRONT", "result_code": 0}]}


class FakeLedger:
    def __init__(self) -> None:
        self.rows: dict[str, RequestRow] = {}
        self.accepted: list[str] = []

    def add(self, seqno: str, state: str, *, result: dict[str, Any] | None = None, sealer: DataKeys | None = None,
            expired: bool = False) -> None:
        now = datetime.now(UTC)
        sealed = sealer.seal_json(result, seqno) if sealer is not None and result is not None else None
        self.rows[seqno] = RequestRow(seqno, "app", "mch", f"r-{seqno}", "SINGLE", "https://i/cb", state,
                                      "SUCCESS", sealed, now, now, now if expired else None)

    async def accept(self, *, accept_seqno: str, **_: Any) -> AcceptResult:
        self.accepted.append(accept_seqno)
        return AcceptResult(AcceptStatus.ACCEPTED, accept_seqno)

    async def find(self, appid: str, *, req_seqno: str | None = None,
                   accept_seqno: str | None = None) -> RequestRow | None:
        return self.rows.get(accept_seqno or "")

    async def attempts(self, accept_seqno: str) -> list[dict[str, Any]]:
        return [{"attempt": 1, "started_at": datetime.now(UTC), "outcome": "success", "http_status": 200,
                 "error": None, "duration_ms": 3}]

    async def ping(self) -> bool:
        return True


class FakeProducer:
    async def send(self, topic: str, key: str, value: bytes) -> None:
        return None


@pytest.fixture
async def gw() -> AsyncIterator[tuple[TestClient, FakeLedger]]:
    ledger = FakeLedger()
    keys = KeyStore.from_json(json.dumps({"clients": [{"appid": "app", "mchid": "mch", "keys": [KEY]}]}))
    # this replica holds the new key first and the old one second (a rotation in progress)
    data_keys = DataKeys.from_json(json.dumps({"keys": [NEW, OLD]}))
    deps = Deps(ledger=ledger, producer=FakeProducer(), keys=keys, data_keys=data_keys)  # type: ignore[arg-type]
    async with TestClient(TestServer(build_app(GatewayConfig.from_env(ENV), deps))) as client:
        yield client, ledger


async def post(client: TestClient, path: str, **fields: Any) -> tuple[int, dict[str, Any]]:
    obj = {"appid": "app", "mchid": "mch", "nonce": f"n{time.perf_counter_ns()}", "timestamp": int(time.time()),
           **fields}
    raw = json.dumps(obj).encode()
    resp = await client.post(path, data=raw, headers={"Content-Type": "text/json", "Signature": sign(raw, KEY)})
    return resp.status, json.loads(await resp.read())


def loss(callback_url: str) -> dict[str, Any]:
    return {"files": [{"fileurl": "https://photos.example/a.jpg"}], "model": "SINGLE",
            "req_seqno": f"r{time.perf_counter_ns()}", "callback_url": callback_url}


@pytest.mark.parametrize("url", ["http://insurer.example/cb", "http://8.8.8.8/cb", "http://10.2.0.5:8080/cb",
                                 "HTTP://insurer.example/cb", "http://localhost/cb"])
async def test_a_plain_http_callback_outside_the_allow_list_is_refused_at_accept(gw: Any, url: str) -> None:
    client, ledger = gw
    status, reply = await post(client, REQUEST_PATH, **loss(url))
    assert (status, reply["result_code"]) == (400, "PARAM_ERROR")
    assert reply["result_msg"].startswith("callback_url: must be https")
    assert ledger.accepted == []  # nothing was written


@pytest.mark.parametrize("url", ["https://insurer.example/cb", "https://8.8.8.8/cb", "http://10.1.4.2:8080/cb",
                                 "HTTPS://insurer.example/cb"])
async def test_https_and_allow_listed_plain_http_callbacks_are_accepted(gw: Any, url: str) -> None:
    client, ledger = gw
    status, reply = await post(client, REQUEST_PATH, **loss(url))
    assert (status, reply["result_code"]) == (200, "SUCCESS")
    assert ledger.accepted == [reply["accept_seqno"]]


@pytest.mark.parametrize("sealed_with", [OLD, NEW])
async def test_the_query_opens_a_result_sealed_under_any_configured_key(gw: Any, sealed_with: dict[str, str]) -> None:
    client, ledger = gw
    ledger.add("PLdone", "DELIVERED", result=RESULT, sealer=DataKeys.from_json(json.dumps({"keys": [sealed_with]})))
    status, reply = await post(client, QUERY_PATH, accept_seqno="PLdone")
    assert (status, reply["result_code"]) == (200, "SUCCESS")
    assert reply["result"] == RESULT and list(reply["result"]) == list(RESULT)  # the body, in its key order
    assert "result_expired_at" not in reply
    validator("query-response").validate(reply)


async def test_a_result_past_retention_is_answered_as_expired(gw: Any) -> None:
    client, ledger = gw
    ledger.add("PLgone", "DELIVERED", expired=True)
    status, reply = await post(client, QUERY_PATH, accept_seqno="PLgone")
    assert (status, reply["result_code"], reply["result_msg"]) == (200, "SUCCESS", RESULT_EXPIRED)
    assert reply["state"] == "DELIVERED" and len(reply["attempts"]) == 1 and "result" not in reply
    assert datetime.fromisoformat(reply["result_expired_at"]).tzinfo is not None
    validator("query-response").validate(reply)


async def test_a_result_under_a_key_this_replica_lacks_is_system_busy_not_an_error(gw: Any) -> None:
    client, ledger = gw
    ledger.add("PLelse", "DONE", result=RESULT, sealer=DataKeys.from_json(json.dumps({"keys": [new_key_entry("x")]})))
    status, reply = await post(client, QUERY_PATH, accept_seqno="PLelse")
    assert (status, reply["result_code"]) == (503, "SYSTEM_BUSY")
    assert "张三丰" not in json.dumps(reply, ensure_ascii=False)


def test_the_query_schema_keeps_result_and_expiry_apart() -> None:
    schema = validator("query-response")
    base = {"result_code": "SUCCESS", "accept_seqno": "PL1", "req_seqno": "r1", "attempts": []}
    expired = {"result_msg": RESULT_EXPIRED, "result_expired_at": "2026-12-07T12:00:00+00:00"}
    assert schema.is_valid(base | {"state": "DELIVERED"} | expired)
    assert not schema.is_valid(base | {"state": "DELIVERED"} | expired | {"result": RESULT})  # both
    assert not schema.is_valid(base | {"state": "DONE"} | expired)           # not delivered yet: never purged
    assert not schema.is_valid(base | {"state": "DELIVERED"})                 # neither
    assert not schema.is_valid(base | {"state": "DELIVERED", "result_expired_at": "2026-12-07T12:00:00Z"})
