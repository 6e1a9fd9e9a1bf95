"""Two replicas of every backbone process on one ledger and one broker (issue 13): one nonce and one req_seqno
hold across the gateways, and a broker that loses its data strands nothing (the ledger re-drive)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from devkit.client import REQUEST_PATH, PiclossClient
from devkit.photos import PhotoServer, drawn_car_jpeg
from devkit.receiver import CallbackReceiver
from devkit.stack import DEMO_APPID, DEMO_MCHID, Stack, StackSettings, instances
from picloss.protocol import json as pjson

pytestmark = pytest.mark.e2e

BACKBONE = ("orchestrator", "dispatcher", "gateway")
# no model service runs here: files end with code 5001 fast; the re-drive looks often and early
ENV = {"RPC_RETRY_BUDGET_S": "1", "RPC_TIMEOUT_S": "1", "CALLBACK_RETRY_DELAYS": "1,1,1,1,1,1",
       "CALLBACK_TIMEOUT_S": "2", "KAFKA_SESSION_TIMEOUT_MS": "2000", "REDRIVE_AFTER_S": "3",
       "REDRIVE_EVERY_S": "0.5", "LOG_LEVEL": "INFO"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("replicas")
    st = Stack(StackSettings.ephemeral(run_dir, env=ENV, replicas=2))
    try:
        st.up(BACKBONE)
        yield st
    except Exception:
        st.print_logs()
        raise
    finally:
        st.down()


@pytest.fixture
async def clients(pair: Stack) -> AsyncIterator[list[PiclossClient]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(PiclossClient(url, DEMO_APPID, DEMO_MCHID, pair.key,
                                                             str(pair.cert_file))) for url in pair.gateway_urls]


@pytest.fixture(scope="module")
async def served(pair: Stack) -> AsyncIterator[tuple[PhotoServer, CallbackReceiver]]:
    photos = await PhotoServer().start()
    receiver = await CallbackReceiver([pair.key]).start()
    yield photos, receiver
    await photos.stop()
    await receiver.stop()


def test_every_process_runs_twice(pair: Stack) -> None:
    assert len(pair.gateway_urls) == 2
    for kind in BACKBONE:
        names = instances(kind, 2)
        assert all(pair.procs[n].poll() is None for n in names), names


async def test_one_nonce_and_one_req_seqno_across_the_gateways(
        pair: Stack, clients: list[PiclossClient], served: tuple[PhotoServer, CallbackReceiver]) -> None:
    photos, receiver = served
    url = photos.add("x.jpg", drawn_car_jpeg(1))
    files = [{"fileurl": url}]
    body = clients[0].envelope(files=files, model="SINGLE", req_seqno="x-" + uuid.uuid4().hex,
                               callback_url=receiver.url("/cb"))
    raw = pjson.dumps(body)
    first, second = [(await c.post_raw(REQUEST_PATH, raw)).body for c in clients]
    assert (first["result_code"], second["result_code"]) == ("SUCCESS", "NONCE_REPLAYED")
    seqno = "y-" + uuid.uuid4().hex
    a, b = [(await c.submit(files, "SINGLE", receiver.url("/cb"), seqno)).body for c in clients]
    assert a["result_code"] == b["result_code"] == "SUCCESS" and a["accept_seqno"] == b["accept_seqno"]
    for accept_seqno in (first["accept_seqno"], a["accept_seqno"]):
        calls = await receiver.wait_for(accept_seqno, timeout_s=60)
        assert all(c.signature_ok for c in calls)


async def test_broker_losing_its_data_strands_no_accepted_request(
        pair: Stack, clients: list[PiclossClient], served: tuple[PhotoServer, CallbackReceiver]) -> None:
    photos, receiver = served
    url = photos.add("lost.jpg", drawn_car_jpeg(2))
    consumers = [n for kind in ("orchestrator", "dispatcher") for n in instances(kind, 2)]
    for name in consumers:
        await asyncio.to_thread(pair.kill, name)
    replies = [(await clients[i % 2].submit([{"fileurl": url}], "SINGLE", receiver.url("/cb/lost"))).body
               for i in range(4)]
    assert [r["result_code"] for r in replies] == ["SUCCESS"] * 4
    await asyncio.to_thread(pair.restart_broker)  # every event above is gone with the broker's data
    for name in consumers:
        await asyncio.to_thread(pair.start, name)
    for r in replies:
        calls = await receiver.wait_for(r["accept_seqno"], timeout_s=90)
        assert calls[-1].body["accept_seqno"] == r["accept_seqno"] and calls[-1].signature_ok
    assert pair.postgres is not None
    conn = await asyncpg.connect(pair.postgres.url)
    try:
        redrives = await conn.fetch("SELECT accept_seqno, redrives, state FROM requests WHERE accept_seqno = "
                                    "ANY($1::text[])", [r["accept_seqno"] for r in replies])
    finally:
        await conn.close()
    assert all(row["redrives"] >= 1 for row in redrives), [dict(r) for r in redrives]
    # both gateways publish again on the new broker, which does not know their producers any more: SYSTEM_BUSY
    # is allowed while a producer finds that out and is rebuilt (one delivery timeout), nothing longer
    for gateway_url in pair.gateway_urls:
        async with PiclossClient(gateway_url, DEMO_APPID, DEMO_MCHID, pair.key, str(pair.cert_file)) as fresh:
            for _ in range(3):
                seqno, deadline = "after-" + uuid.uuid4().hex, time.monotonic() + 30
                while (after := await fresh.submit([{"fileurl": url}], "SINGLE", receiver.url("/cb/lost"),
                                                   seqno)).body["result_code"] == "SYSTEM_BUSY":
                    assert time.monotonic() < deadline, f"{gateway_url} still cannot publish"
                    await asyncio.sleep(0.5)
                assert after.body["result_code"] == "SUCCESS", after.body
                # the dispatchers see the re-created results topic within seconds, not through the 30 s
                # reconciliation (consumer topic.metadata.refresh.interval.ms)
                await receiver.wait_for(after.body["accept_seqno"], timeout_s=25)
