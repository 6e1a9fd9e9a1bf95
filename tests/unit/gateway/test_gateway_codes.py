"""Every result code of PROTOCOL §3 from the real gateway app, with an in-memory ledger and producer."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import QUERY_PATH, REQUEST_PATH, build_app
from gateway.config import GatewayConfig
from gateway.state import Deps
from picloss.platform.kafka import BrokerUnavailable
from picloss.platform.ledger import LedgerUnavailable
from picloss.platform.ledger.sealing import DataKeys, new_key_entry
from picloss.platform.ledger.store import AcceptResult, AcceptStatus
from picloss.protocol.codes import HTTP_STATUS, ResultCode
from picloss.protocol.keys import KeyStore
from picloss.protocol.signing import sign, verify

KEY, OLD_KEY = "k" * 32, "old-key"
DATA_KEYS = DataKeys.from_json(json.dumps({"keys": [new_key_entry("k1")]}))
ENV = {"GATEWAY_TLS": "false", "DATABASE_URL": "postgresql://unused", "KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
       "PICLOSS_KEYS_FILE": "unused", "PICLOSS_DATA_KEYS_FILE": "unused", "MAX_BODY_BYTES": "4096",
       "RATE_LIMIT_PER_S": "0.001", "RATE_LIMIT_BURST": "1000"}


class FakeLedger:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[str, str]] = {}
        self.nonces: set[tuple[str, str]] = set()
        self.fail: Exception | None = None

    async def accept(self, *, accept_seqno: str, appid: str, nonce: str, req_seqno: str, content_hash: str,
                     publish: Callable[[], Awaitable[None]], **_: Any) -> AcceptResult:
        if self.fail:
            raise self.fail
        if (appid, nonce) in self.nonces:
            return AcceptResult(AcceptStatus.NONCE_REPLAYED)
        existing = self.rows.get((appid, req_seqno))
        if existing:
            self.nonces.add((appid, nonce))
            same = existing[1] == content_hash
            return AcceptResult(AcceptStatus.DUPLICATE if same else AcceptStatus.CONFLICT, existing[0])
        await publish()
        self.nonces.add((appid, nonce))
        self.rows[(appid, req_seqno)] = (accept_seqno, content_hash)
        return AcceptResult(AcceptStatus.ACCEPTED, accept_seqno)

    async def find(self, appid: str, **_: Any) -> None:
        return None

    async def ping(self) -> bool:
        return True


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes]] = []
        self.down = False

    async def send(self, topic: str, key: str, value: bytes) -> None:
        if self.down:
            raise BrokerUnavailable("broker down")
        self.sent.append((topic, key, value))


@pytest.fixture
async def gw() -> AsyncIterator[tuple[TestClient, FakeLedger, FakeProducer]]:
    ledger, producer = FakeLedger(), FakeProducer()
    keys = KeyStore.from_json(json.dumps({"clients": [{"appid": "app", "mchid": "mch", "keys": [KEY, OLD_KEY]}]}))
    deps = Deps(ledger=ledger, producer=producer, keys=keys, data_keys=DATA_KEYS)  # type: ignore[arg-type]
    app = build_app(GatewayConfig.from_env(ENV), deps)
    async with TestClient(TestServer(app)) as client:
        yield client, ledger, producer


def body(**over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"appid": "app", "mchid": "mch", "nonce": f"n{time.perf_counter_ns()}",
                         "timestamp": int(time.time()), "files": [{"fileurl": "https://photos.example/a.jpg"}],
                         "model": "SINGLE", "req_seqno": f"r{time.perf_counter_ns()}",
                         "callback_url": "https://insurer.example/cb"}
    b.update(over)
    return b


async def post(client: TestClient, obj: Any, *, key: str | None = KEY, path: str = REQUEST_PATH,
               raw: bytes | None = None) -> tuple[int, dict[str, Any], bool]:
    data = raw if raw is not None else json.dumps(obj, ensure_ascii=False).encode()
    headers = {"Content-Type": "text/json"}
    if key is not None:
        headers["Signature"] = sign(data, key)
    resp = await client.post(path, data=data, headers=headers)
    reply = await resp.read()
    return resp.status, json.loads(reply), verify(reply, resp.headers.get("Signature"), [KEY])


async def test_success_is_signed_and_publishes_one_event(gw: Any) -> None:
    client, _ledger, producer = gw
    status, reply, signed = await post(client, body())
    assert (status, reply["result_code"], signed) == (200, "SUCCESS", True)
    assert reply["accept_seqno"].startswith("PL") and len(reply["accept_seqno"]) <= 64
    assert len(producer.sent) == 1 and producer.sent[0][1] == reply["accept_seqno"]


async def test_rotated_key_accepted(gw: Any) -> None:
    client, _, _ = gw
    status, reply, _ = await post(client, body(), key=OLD_KEY)
    assert (status, reply["result_code"]) == (200, "SUCCESS")


@pytest.mark.parametrize(("case", "expected"), [
    ("missing_field", ResultCode.PARAM_ERROR),
    ("too_long", ResultCode.PARAM_ERROR),
    ("not_json", ResultCode.PARAM_ERROR),
    ("too_large", ResultCode.BODY_TOO_LARGE),
    ("no_signature", ResultCode.SIGN_ERROR),
    ("wrong_signature", ResultCode.SIGN_ERROR),
    ("unknown_pair", ResultCode.APPID_UNKNOWN),
    ("old_timestamp", ResultCode.TS_EXPIRED),
    ("future_timestamp", ResultCode.TS_EXPIRED),
])
async def test_refusals(gw: Any, case: str, expected: ResultCode) -> None:
    client, ledger, producer = gw
    kwargs: dict[str, Any] = {}
    obj: Any = body()
    if case == "missing_field":
        del obj["callback_url"]
    elif case == "too_long":
        obj["req_seqno"] = "x" * 65
    elif case == "not_json":
        kwargs["raw"] = b"{not json"
    elif case == "too_large":
        obj["files"] = [{"fileurl": f"https://photos.example/{i}.jpg"} for i in range(100)]
    elif case == "no_signature":
        kwargs["key"] = None
    elif case == "wrong_signature":
        kwargs["key"] = "not-the-key"
    elif case == "unknown_pair":
        obj["mchid"] = "someone-else"
    elif case == "old_timestamp":
        obj["timestamp"] = int(time.time()) - 301
    elif case == "future_timestamp":
        obj["timestamp"] = int(time.time()) + 301
    status, reply, _ = await post(client, obj, **kwargs)
    assert reply["result_code"] == expected.value
    assert status == HTTP_STATUS[expected]
    assert not producer.sent and not ledger.rows
    if expected is ResultCode.PARAM_ERROR and case != "not_json":
        assert ("callback_url" if case == "missing_field" else "req_seqno") in reply["result_msg"]


async def test_replayed_nonce(gw: Any) -> None:
    client, _, _ = gw
    first = body()
    await post(client, first)
    status, reply, _ = await post(client, {**first, "req_seqno": "another"})
    assert (status, reply["result_code"]) == (401, "NONCE_REPLAYED")


async def test_duplicate_and_conflicting_req_seqno(gw: Any) -> None:
    client, _, producer = gw
    first = body(req_seqno="same")
    _, a, _ = await post(client, first)
    _, b, _ = await post(client, {**first, "nonce": "other-nonce"})
    assert b["result_code"] == "SUCCESS" and b["accept_seqno"] == a["accept_seqno"]
    status, c, _ = await post(client, {**first, "nonce": "third", "model": "BATCH"})
    assert (status, c["result_code"]) == (409, "SEQNO_CONFLICT")
    assert len(producer.sent) == 1


async def test_system_busy_when_broker_or_ledger_down(gw: Any) -> None:
    client, ledger, producer = gw
    producer.down = True
    status, reply, _ = await post(client, body())
    assert (status, reply["result_code"]) == (503, "SYSTEM_BUSY")
    assert not ledger.rows
    producer.down, ledger.fail = False, LedgerUnavailable("db down")
    status, reply, _ = await post(client, body())
    assert (status, reply["result_code"]) == (503, "SYSTEM_BUSY")


async def test_system_error_never_leaks(gw: Any) -> None:
    client, ledger, _ = gw
    ledger.fail = RuntimeError("password=secret at host db-7")
    status, reply, _ = await post(client, body())
    assert (status, reply["result_code"]) == (500, "SYSTEM_ERROR")
    assert "secret" not in reply["result_msg"] and "db-7" not in reply["result_msg"]


async def test_rate_limited() -> None:
    ledger, producer = FakeLedger(), FakeProducer()
    keys = KeyStore.from_json(json.dumps({"clients": [{"appid": "app", "mchid": "mch", "keys": [KEY]}]}))
    config = GatewayConfig.from_env({**ENV, "RATE_LIMIT_PER_S": "0.001", "RATE_LIMIT_BURST": "2"})
    app = build_app(config, Deps(ledger=ledger, producer=producer, keys=keys, data_keys=DATA_KEYS))  # type: ignore[arg-type]
    async with TestClient(TestServer(app)) as client:
        codes = [(await post(client, body()))[1]["result_code"] for _ in range(3)]
    assert codes == ["SUCCESS", "SUCCESS", "RATE_LIMITED"]
    assert HTTP_STATUS[ResultCode.RATE_LIMITED] == 429


async def test_query_unknown_request(gw: Any) -> None:
    client, _, _ = gw
    q = {"appid": "app", "mchid": "mch", "nonce": "q1", "timestamp": int(time.time()), "req_seqno": "nope"}
    status, reply, signed = await post(client, q, path=QUERY_PATH)
    assert (status, reply["result_code"], signed) == (400, "PARAM_ERROR", True)
    assert "req_seqno" in reply["result_msg"]
