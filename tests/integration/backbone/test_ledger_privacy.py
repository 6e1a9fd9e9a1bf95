"""Issue 23 on a real PostgreSQL: the stored result is only ciphertext at rest, a key rotation keeps every row
readable and the re-seal moves them to the new key (rows from before sealing included), and the retention purge
deletes results past it in batches (two ledgers at once) while rows, states and attempts stay."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from picloss.platform.ledger import Ledger
from picloss.platform.ledger.reseal import reseal_all
from picloss.platform.ledger.sealing import DataKeys, SealError, new_key_entry
from picloss.platform.ledger.store import FileOutcome, NewFile

pytestmark = pytest.mark.integration

OLD, NEW = new_key_entry("old"), new_key_entry("new")
ID_NUMBER, NAME = "11010519491231002X", "欧阳娜娜"


def keys(*entries: dict[str, str]) -> DataKeys:
    return DataKeys.from_json(json.dumps({"keys": list(entries)}))


def body(seqno: str) -> dict[str, Any]:
    return {"appid": "app", "mchid": "mch", "accept_seqno": seqno, "result_code": "SUCCESS",
            "idcards": [{"id": ID_NUMBER, "name": NAME}]}


@pytest.fixture
async def db_url(infra: Any) -> str:
    return await asyncio.to_thread(infra.new_database_url)


async def nothing() -> None:
    return None


async def done(ledger: Ledger, sealer: DataKeys, *, delivered: bool = True) -> str:
    seqno = "PL" + uuid.uuid4().hex[:30]
    await ledger.accept(accept_seqno=seqno, appid="app", mchid="mch", nonce=uuid.uuid4().hex, nonce_ttl_s=60,
                        req_seqno=seqno, content_hash="h", model="SINGLE", callback_url="https://i.example/cb",
                        files=[NewFile(0, "f0", "https://p.example/0.jpg", None)], publish=nothing)
    assert await ledger.complete(seqno, "SUCCESS", sealer.seal_json(body(seqno), seqno),
                                 [FileOutcome(0, "0" * 32, "IDCARD_FRONT", 0, None)])
    if delivered:
        await ledger.ensure_delivery(seqno)
        await ledger.record_attempt(accept_seqno=seqno, attempt=1, started_at=datetime.now(UTC), duration_ms=5,
                                    http_status=200, success=True, error=None, retry_in_s=None)
    return seqno


async def test_only_ciphertext_at_rest_and_a_rotation_loses_nothing(db_url: str) -> None:
    ledger = await Ledger.connect(db_url)
    conn = await asyncpg.connect(db_url)
    try:
        before = [await done(ledger, keys(OLD)) for _ in range(3)]
        # a row written before sealing existed (migration 004 keeps its clear column until the re-seal)
        await conn.execute("UPDATE requests SET result = $2::json, result_key = NULL, result_sealed = NULL "
                           "WHERE accept_seqno = $1", before[0], json.dumps(body(before[0]), ensure_ascii=False))
        after = [await done(ledger, keys(NEW, OLD)) for _ in range(2)]  # the rotation: new key first
        rows = await conn.fetch("SELECT accept_seqno, result::text AS clear, result_key, result_sealed FROM requests")
        for r in rows:
            if r["accept_seqno"] != before[0]:
                assert r["clear"] is None and r["result_key"] in ("old", "new")
                assert ID_NUMBER.encode() not in r["result_sealed"] and NAME.encode() not in r["result_sealed"]
        assert {r["accept_seqno"]: r["result_key"] for r in rows if r["accept_seqno"] in after} == \
            {s: "new" for s in after}
        both = keys(NEW, OLD)
        for seqno in before + after:                        # every row opens while both keys are configured
            row = await ledger.get(seqno)
            assert row is not None and row.open_result(both) == body(seqno)
        with pytest.raises(SealError):                      # the new key alone cannot open the old rows yet
            row = await ledger.get(before[1])
            assert row is not None
            row.open_result(keys(NEW))

        assert await reseal_all(ledger, both, batch=2) == 3  # two old-key rows and the clear one, in batches
        assert await reseal_all(ledger, both, batch=2) == 0  # nothing left
        assert await ledger.to_reseal("new") == 0 and await ledger.to_reseal("old") == 5
        assert await conn.fetchval("SELECT count(*) FROM requests WHERE result IS NOT NULL") == 0
        assert {r["result_key"] for r in await conn.fetch("SELECT result_key FROM requests")} == {"new"}
        for seqno in before + after:                        # the old key can now go
            row = await ledger.get(seqno)
            assert row is not None and row.open_result(keys(NEW)) == body(seqno)
    finally:
        await conn.close()
        await ledger.close()


async def test_a_row_whose_key_is_gone_stops_the_reseal_and_changes_nothing(db_url: str) -> None:
    ledger = await Ledger.connect(db_url)
    try:
        seqno = await done(ledger, keys(OLD))
        with pytest.raises(SealError):
            await ledger.reseal(keys(NEW), batch=10)
        row = await ledger.get(seqno)
        assert row is not None and row.sealed is not None and row.sealed.key_id == "old"
    finally:
        await ledger.close()


async def test_the_purge_deletes_results_past_retention_in_batches_with_two_replicas(db_url: str) -> None:
    a, b = await Ledger.connect(db_url), await Ledger.connect(db_url)
    conn = await asyncpg.connect(db_url)
    sealer = keys(NEW)
    try:
        delivered = [await done(a, sealer) for _ in range(7)]
        pending = await done(a, sealer, delivered=False)      # DONE, not yet delivered: never purged
        assert await a.purge_results(3600, batch=100) == 0    # nothing is past one hour yet
        await conn.execute("UPDATE requests SET finished_at = now() - interval '2 hours' "
                           "WHERE accept_seqno = ANY($1::text[])", delivered[:5])
        counts = await asyncio.gather(*(ledger.purge_results(3600, batch=2) for ledger in (a, b, a, b, a)))
        assert sum(counts) == 5 and max(counts) <= 2         # disjoint batches, none purged twice
        assert await a.purge_results(3600, batch=2) == 0
        for seqno in delivered[:5]:
            row = await a.get(seqno)
            assert row is not None and not row.has_result and row.result_expired_at is not None
            assert row.state == "DELIVERED" and len(await a.attempts(seqno)) == 1
        for seqno in [*delivered[5:], pending]:
            row = await a.get(seqno)
            assert row is not None and row.has_result and row.result_expired_at is None
        states = await conn.fetchval("SELECT count(*) FROM state_transitions WHERE accept_seqno = $1", delivered[0])
        assert states == 3                                    # ACCEPTED, DONE, DELIVERED: kept for reconciliation
        assert await a.purge_results(0, batch=100) == 2       # retention 0: every delivered result goes
        row = await a.get(pending)
        assert row is not None and row.has_result
    finally:
        await conn.close()
        await a.close()
        await b.close()


async def test_the_reseal_waits_for_a_row_a_delivery_holds(db_url: str) -> None:
    ledger = await Ledger.connect(db_url)
    conn = await asyncpg.connect(db_url)
    try:
        seqnos = [await done(ledger, keys(OLD), delivered=False) for _ in range(3)]
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT 1 FROM requests WHERE accept_seqno = $1 FOR UPDATE", seqnos[1])

        async def release() -> None:
            await asyncio.sleep(1.0)
            await tx.rollback()

        releaser = asyncio.create_task(release())
        assert await reseal_all(ledger, keys(NEW, OLD), batch=10, wait_locked_s=20) == 3
        await releaser
        assert await ledger.to_reseal("new") == 0
        with pytest.raises(SealError, match="still held"):  # and it says so when the lock outlasts its patience
            await conn.execute("UPDATE requests SET result_key = 'old' WHERE accept_seqno = $1", seqnos[0])
            tx = conn.transaction()
            await tx.start()
            await conn.execute("SELECT 1 FROM requests WHERE accept_seqno = $1 FOR UPDATE", seqnos[0])
            await reseal_all(ledger, keys(NEW, OLD), batch=10, wait_locked_s=0.5)
        await tx.rollback()
    finally:
        await conn.close()
        await ledger.close()
