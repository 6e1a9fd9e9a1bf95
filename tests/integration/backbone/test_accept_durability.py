"""Gateway accept on a real broker and a real PostgreSQL: SUCCESS means ledger row + event;
broker or database down means SYSTEM_BUSY and nothing half-accepted."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka import Consumer

from devkit.infra import create_topics, start_postgres
from devkit.procs import free_port, stop_pid
from gateway.app import REQUEST_PATH, build_app
from gateway.config import GatewayConfig
from gateway.state import Deps
from picloss.platform.kafka import AsyncProducer
from picloss.platform.ledger import Ledger
from picloss.platform.ledger.sealing import DataKeys, new_key_entry
from picloss.protocol.keys import KeyStore
from picloss.protocol.signing import sign
from picloss.rpc.events.v1 import events_pb2

pytestmark = pytest.mark.integration
KEY = "integration-key"
KEYS = KeyStore.from_json(json.dumps({"clients": [{"appid": "app", "mchid": "mch", "keys": [KEY]}]}))


def config(topic: str) -> GatewayConfig:
    return GatewayConfig.from_env({"GATEWAY_TLS": "false", "DATABASE_URL": "unused", "KAFKA_BOOTSTRAP_SERVERS": "x",
                                   "PICLOSS_KEYS_FILE": "unused", "PICLOSS_DATA_KEYS_FILE": "unused",
                                   "KAFKA_REQUESTS_TOPIC": topic,
                                   "KAFKA_DELIVERY_TIMEOUT_MS": "1500"})


def signed(req_seqno: str) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps({"appid": "app", "mchid": "mch", "nonce": uuid.uuid4().hex, "timestamp": int(time.time()),
                      "files": [{"fileurl": "https://photos.example/a.jpg"}, {"fileurl": "https://photos.example/b.jpg"}],
                      "model": "BATCH", "req_seqno": req_seqno, "callback_url": "https://insurer.example/cb"}).encode()
    return raw, {"Signature": sign(raw, KEY), "Content-Type": "text/json"}


@pytest.fixture
async def db_url(infra: Any) -> str:
    return await asyncio.to_thread(infra.new_database_url)


async def gateway_client(ledger: Ledger, producer: AsyncProducer, topic: str) -> TestClient:
    data_keys = DataKeys.from_json(json.dumps({"keys": [new_key_entry("k1")]}))
    app = build_app(config(topic), Deps(ledger=ledger, producer=producer, keys=KEYS, data_keys=data_keys))
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


def consume_all(bootstrap: str, topic: str, expect: int, timeout_s: float = 20) -> list[events_pb2.RequestAccepted]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex, "auto.offset.reset": "earliest",
                         "session.timeout.ms": 2000, "enable.auto.commit": False})
    consumer.subscribe([topic])
    events = []
    deadline = time.monotonic() + timeout_s
    while len(events) < expect and time.monotonic() < deadline:
        msg = consumer.poll(0.3)
        if msg is not None and not msg.error():
            events.append(events_pb2.RequestAccepted.FromString(msg.value()))
    consumer.close()
    return events


async def test_accept_commits_row_and_publishes_event(infra: Any, db_url: str) -> None:
    topic = "accept-" + uuid.uuid4().hex[:8]
    await asyncio.to_thread(create_topics, infra.broker.bootstrap, {topic: 2})
    ledger = await Ledger.connect(db_url)
    producer = AsyncProducer(infra.broker.bootstrap)
    client = await gateway_client(ledger, producer, topic)
    try:
        raw, headers = signed("seq-1")
        resp = await client.post(REQUEST_PATH, data=raw, headers=headers)
        reply = await resp.json(content_type=None)
        assert (resp.status, reply["result_code"]) == (200, "SUCCESS")
        accept_seqno = reply["accept_seqno"]
        row = await ledger.get(accept_seqno)
        assert row is not None and row.state == "ACCEPTED" and row.model == "BATCH"
        assert [f["fileurl"] for f in await ledger.files(accept_seqno)] == [
            "https://photos.example/a.jpg", "https://photos.example/b.jpg"]
        events = await asyncio.to_thread(consume_all, infra.broker.bootstrap, topic, 1)
        assert [e.accept_seqno for e in events] == [accept_seqno]
        assert len(events[0].files) == 2 and all(len(f.fileid) == 32 for f in events[0].files)
        # a duplicate (new nonce, same content) gets the same accept_seqno and no second event
        raw2, headers2 = signed("seq-1")
        dup = await (await client.post(REQUEST_PATH, data=raw2, headers=headers2)).json(content_type=None)
        assert dup["accept_seqno"] == accept_seqno
        again = await asyncio.to_thread(consume_all, infra.broker.bootstrap, topic, 2, 4)
        # at-least-once: the local broker may hand the same event out twice; what matters is that
        # the duplicate request published nothing new
        assert {e.accept_seqno for e in again} == {accept_seqno}
    finally:
        await client.close()
        producer.close()
        await ledger.close()


async def test_broker_down_means_system_busy_and_no_row(infra: Any, db_url: str) -> None:
    ledger = await Ledger.connect(db_url)
    producer = AsyncProducer(f"127.0.0.1:{free_port()}", delivery_timeout_ms=1500)  # nothing listens there
    client = await gateway_client(ledger, producer, "requests")
    try:
        raw, headers = signed("seq-down")
        resp = await client.post(REQUEST_PATH, data=raw, headers=headers)
        reply = await resp.json(content_type=None)
        assert (resp.status, reply["result_code"]) == (503, "SYSTEM_BUSY")
        conn = await asyncpg.connect(db_url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM requests") == 0
            assert await conn.fetchval("SELECT count(*) FROM request_files") == 0
            assert await conn.fetchval("SELECT count(*) FROM nonces") == 0  # the caller may retry as is
        finally:
            await conn.close()
    finally:
        await client.close()
        producer.close()
        await ledger.close()


async def test_database_down_means_system_busy(infra: Any, tmp_path: Path) -> None:
    pg = await asyncio.to_thread(start_postgres, tmp_path / "pg", free_port(), tmp_path / "pg.log")
    ledger = await Ledger.connect(pg.url)
    producer = AsyncProducer(infra.broker.bootstrap)
    client = await gateway_client(ledger, producer, "requests-dbdown")
    try:
        await asyncio.to_thread(stop_pid, pg.proc.pid, 10, 2)
        raw, headers = signed("seq-dbdown")
        resp = await client.post(REQUEST_PATH, data=raw, headers=headers)
        reply = await resp.json(content_type=None)
        assert (resp.status, reply["result_code"]) == (503, "SYSTEM_BUSY")
    finally:
        await client.close()
        producer.close()
        await ledger.close()


async def test_stored_result_keeps_key_order(db_url: str) -> None:
    from picloss.platform.ledger.store import FileOutcome, NewFile

    keys = DataKeys.from_json(json.dumps({"keys": [new_key_entry("k1")]}))

    ledger = await Ledger.connect(db_url)
    try:
        async def publish() -> None:
            return None

        await ledger.accept(accept_seqno="PLorder", appid="app", mchid="mch", nonce="n-order", nonce_ttl_s=60,
                            req_seqno="order", content_hash="h", model="SINGLE", callback_url="https://x.example/cb",
                            files=[NewFile(0, "f0", "https://x.example/0.jpg", None)], publish=publish)
        body = {"appid": "app", "mchid": "mch", "nonce": "n", "timestamp": 1, "accept_seqno": "PLorder",
                "req_seqno": "order", "result_code": "SUCCESS", "result_msg": "ok",
                "files": [{"fileid": "f0", "fileurl": "https://x.example/0.jpg", "result_code": 3001}]}
        assert await ledger.complete("PLorder", "SUCCESS", keys.seal_json(body, "PLorder"),
                                     [FileOutcome(0, None, "DAMAGE", 3001, None)])
        row = await ledger.get("PLorder")
        opened = row.open_result(keys) if row is not None else None
        assert opened == body and list(opened) == list(body)
    finally:
        await ledger.close()
