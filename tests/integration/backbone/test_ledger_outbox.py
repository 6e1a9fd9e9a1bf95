"""The ledger as the outbox (issue 13): one-statement accept shared by several gateway replicas, take-back
when the broker does not ack, and the re-drive of requests that make no progress."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from devkit.infra import create_topics
from picloss.platform.kafka import AsyncProducer, BrokerUnavailable
from picloss.platform.ledger import Ledger
from picloss.platform.ledger.sealing import Sealed
from picloss.platform.ledger.store import AcceptStatus, NewFile
from picloss.rpc.events.v1 import events_pb2
from services.orchestrator.redrive import heartbeat, redrive_once
from tests.integration.backbone.test_accept_durability import consume_all

pytestmark = pytest.mark.integration

FILES = [NewFile(0, "f" * 32, "https://photos.example/a.jpg", None),
         NewFile(1, "g" * 32, "https://photos.example/b.jpg", "0" * 32)]


@pytest.fixture
async def db_url(infra: Any) -> str:
    return await asyncio.to_thread(infra.new_database_url)


async def nothing() -> None:
    return None


async def accept(ledger: Ledger, *, req_seqno: str, nonce: str | None = None, content_hash: str = "h",
                 publish: Any = nothing, accept_seqno: str | None = None) -> Any:
    return await ledger.accept(
        accept_seqno=accept_seqno or "PL" + uuid.uuid4().hex[:30], appid="app", mchid="mch",
        nonce=nonce or uuid.uuid4().hex, nonce_ttl_s=600, req_seqno=req_seqno, content_hash=content_hash,
        model="BATCH", callback_url="https://insurer.example/cb", files=FILES, publish=publish)


async def counts(db_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(db_url)
    try:
        return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}"))
                for t in ("requests", "request_files", "state_transitions", "nonces")}
    finally:
        await conn.close()


async def test_one_statement_accept_writes_every_row_and_answers_replays(db_url: str) -> None:
    ledger = await Ledger.connect(db_url)
    try:
        first = await accept(ledger, req_seqno="r1", nonce="n1")
        assert first.status is AcceptStatus.ACCEPTED
        assert [f["fileid"] for f in await ledger.files(str(first.accept_seqno))] == ["f" * 32, "g" * 32]
        assert await counts(db_url) == {"requests": 1, "request_files": 2, "state_transitions": 1, "nonces": 1}
        assert (await accept(ledger, req_seqno="r2", nonce="n1")).status is AcceptStatus.NONCE_REPLAYED
        dup = await accept(ledger, req_seqno="r1")
        assert (dup.status, dup.accept_seqno) == (AcceptStatus.DUPLICATE, first.accept_seqno)
        conflict = await accept(ledger, req_seqno="r1", content_hash="other")
        assert (conflict.status, conflict.accept_seqno) == (AcceptStatus.CONFLICT, first.accept_seqno)
        assert (await counts(db_url))["requests"] == 1
    finally:
        await ledger.close()


async def test_two_gateway_replicas_racing_on_one_req_seqno_and_one_nonce(db_url: str) -> None:
    """Two pools (two gateway processes) at once: one request row; every other answer is DUPLICATE; one nonce
    sent to both is spent once."""
    a, b = await Ledger.connect(db_url), await Ledger.connect(db_url)
    try:
        results = await asyncio.gather(*(accept(ledger, req_seqno="race") for ledger in (a, b) for _ in range(10)))
        accepted = [r for r in results if r.status is AcceptStatus.ACCEPTED]
        assert len(accepted) == 1
        assert all(r.status is AcceptStatus.DUPLICATE and r.accept_seqno == accepted[0].accept_seqno
                   for r in results if r is not accepted[0])
        same_nonce = await asyncio.gather(accept(a, req_seqno="n-a", nonce="shared"),
                                          accept(b, req_seqno="n-b", nonce="shared"))
        assert sorted(r.status.value for r in same_nonce) == ["accepted", "nonce_replayed"]
        assert (await counts(db_url))["requests"] == 2
    finally:
        await a.close()
        await b.close()


async def test_unacked_publish_takes_the_accept_back_but_never_a_started_request(db_url: str) -> None:
    ledger = await Ledger.connect(db_url)

    async def broker_down() -> None:
        raise BrokerUnavailable("no ack")

    try:
        with pytest.raises(BrokerUnavailable):
            await accept(ledger, req_seqno="down", nonce="n-down", publish=broker_down)
        assert await counts(db_url) == {"requests": 0, "request_files": 0, "state_transitions": 0, "nonces": 0}
        again = await accept(ledger, req_seqno="down", nonce="n-down")  # the caller retries as is
        assert again.status is AcceptStatus.ACCEPTED

        # the event went out although its ack failed, and an orchestrator started: the row must stay
        async def started_then_fail() -> None:
            assert await ledger.transition(seqno, "PROCESSING", ("ACCEPTED",))
            raise BrokerUnavailable("ack lost")

        seqno = "PL" + uuid.uuid4().hex[:30]
        with pytest.raises(BrokerUnavailable):
            await accept(ledger, req_seqno="started", publish=started_then_fail, accept_seqno=seqno)
        row = await ledger.get(seqno)
        assert row is not None and row.state == "PROCESSING" and len(await ledger.files(seqno)) == 2
    finally:
        await ledger.close()


async def test_stalled_requests_are_claimed_once_across_replicas(db_url: str) -> None:
    a, b = await Ledger.connect(db_url), await Ledger.connect(db_url)
    conn = await asyncpg.connect(db_url)
    try:
        seqnos = [str((await accept(a, req_seqno=f"s{i}")).accept_seqno) for i in range(6)]
        assert await a.transition(seqnos[0], "PROCESSING", ("ACCEPTED",))
        assert await a.complete(seqnos[1], "SUCCESS", Sealed("k1", b"\0" * 28), [])
        assert await a.stalled(60, 100) == []  # all fresh
        await conn.execute("UPDATE requests SET updated_at = now() - interval '5 minutes'")
        await a.touch(seqnos[2])  # a live orchestrator's heartbeat
        got_a, got_b = await asyncio.gather(a.stalled(60, 100), b.stalled(60, 100))
        claimed = [s.accept_seqno for s in got_a + got_b]
        assert sorted(claimed) == sorted([seqnos[0], *seqnos[3:]])  # not DONE, not the touched one; once each
        by_seqno = {s.accept_seqno: s for s in got_a + got_b}
        assert by_seqno[seqnos[0]].state == "PROCESSING" and by_seqno[seqnos[3]].state == "ACCEPTED"
        assert [f.fileid for f in by_seqno[seqnos[3]].files] == ["f" * 32, "g" * 32]
        assert all(s.redrives == 1 for s in by_seqno.values())
        assert await a.stalled(60, 100) == []  # the claim moved updated_at: the next window, not now
    finally:
        await conn.close()
        await a.close()
        await b.close()


async def test_redrive_publishes_the_original_event_from_the_ledger(infra: Any, db_url: str) -> None:
    topic = "redrive-" + uuid.uuid4().hex[:8]
    await asyncio.to_thread(create_topics, infra.broker.bootstrap, {topic: 1})
    ledger = await Ledger.connect(db_url)
    producer = AsyncProducer(infra.broker.bootstrap)
    conn = await asyncpg.connect(db_url)
    try:
        seqno = str((await accept(ledger, req_seqno="lost-event")).accept_seqno)
        await conn.execute("UPDATE requests SET updated_at = now() - interval '5 minutes'")
        assert await redrive_once(ledger, producer, topic, 60, 10) == 1
        assert await redrive_once(ledger, producer, topic, 60, 10) == 0
        (event,) = await asyncio.to_thread(consume_all, infra.broker.bootstrap, topic, 1)
        assert isinstance(event, events_pb2.RequestAccepted)
        assert (event.accept_seqno, event.appid, event.mchid, event.req_seqno, event.model, event.callback_url) == (
            seqno, "app", "mch", "lost-event", "BATCH", "https://insurer.example/cb")
        assert [(f.fileid, f.fileurl, f.filemd5) for f in event.files] == [
            ("f" * 32, "https://photos.example/a.jpg", ""), ("g" * 32, "https://photos.example/b.jpg", "0" * 32)]
        row = await ledger.get(seqno)
        assert row is not None and abs(event.accepted_at_ms / 1000 - row.accepted_at.timestamp()) < 0.002
    finally:
        await conn.close()
        producer.close()
        await ledger.close()


async def test_heartbeat_keeps_a_long_request_from_the_redrive(db_url: str) -> None:
    ledger = await Ledger.connect(db_url)
    conn = await asyncpg.connect(db_url)
    try:
        seqno = str((await accept(ledger, req_seqno="long")).accept_seqno)
        await conn.execute("UPDATE requests SET updated_at = now() - interval '5 minutes'")
        async with heartbeat(ledger, seqno, 0.05):
            await asyncio.sleep(0.3)
            assert await ledger.stalled(60, 10) == []
    finally:
        await conn.close()
        await ledger.close()
