"""Short versions of the fault drills (`make drill` runs them under load): a process or the database dies,
or the receiver misbehaves, and the accepted request still ends delivered with the right body."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from devkit.client import PiclossClient
from devkit.photos import PhotoServer, drawn_car_jpeg
from devkit.receiver import Behaviour, CallbackReceiver
from devkit.stack import Stack
from picloss.protocol.schemas import validator

pytestmark = pytest.mark.e2e
CALLBACK = validator("callback")


async def delivered(client: PiclossClient, receiver: CallbackReceiver, accept_seqno: str) -> dict[str, Any]:
    body = (await receiver.wait_for(accept_seqno, timeout_s=180))[-1].body
    CALLBACK.validate(body)
    deadline = time.monotonic() + 30
    while (state := (await client.query(accept_seqno=accept_seqno)).body)["state"] != "DELIVERED":
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.2)
    stored = {k: v for k, v in state["result"].items() if k not in ("nonce", "timestamp")}
    assert {k: v for k, v in body.items() if k not in ("nonce", "timestamp")} == stored
    return body


async def test_gateway_sigkill_and_restart(stack: Stack, client: PiclossClient, photos: PhotoServer,
                                           receiver: CallbackReceiver) -> None:
    await asyncio.to_thread(stack.restart, "gateway")
    name = photos.add("gw.jpg", drawn_car_jpeg(1)).rsplit("/", 1)[-1]
    reply = await client.submit([photos.file_desc(name)], "SINGLE", receiver.url("/cb/drill/gateway"))
    assert reply.body["result_code"] == "SUCCESS"
    await delivered(client, receiver, reply.body["accept_seqno"])


async def test_model_service_killed_mid_request_gives_a_real_result(
        stack: Stack, client: PiclossClient, photos: PhotoServer, receiver: CallbackReceiver) -> None:
    name = photos.add("dmg.jpg", drawn_car_jpeg(3, (20, 20, 20))).rsplit("/", 1)[-1]
    await asyncio.to_thread(stack.kill, "damage")
    reply = await client.submit([photos.file_desc(name)], "SINGLE", receiver.url("/cb/drill/damage"))
    await asyncio.sleep(2)  # the orchestrator is now waiting for the damage service
    await asyncio.to_thread(stack.start, "damage")
    body = await delivered(client, receiver, reply.body["accept_seqno"])
    assert body["files"][0]["result_code"] in (0, 3001), "a restart must delay the result, not replace it (5001)"
    assert "single_loss" in body


async def test_postgres_crash_and_restart(stack: Stack, client: PiclossClient, photos: PhotoServer,
                                          receiver: CallbackReceiver) -> None:
    name = photos.add("pg.jpg", drawn_car_jpeg(1)).rsplit("/", 1)[-1]
    before = await client.submit([photos.file_desc(name)], "SINGLE", receiver.url("/cb/drill/pg"))
    await asyncio.to_thread(stack.restart_postgres)
    after = None
    deadline = time.monotonic() + 60
    while after is None or after.body["result_code"] != "SUCCESS":  # SYSTEM_BUSY while the pool reconnects
        assert time.monotonic() < deadline
        if after is not None:
            assert after.body["result_code"] == "SYSTEM_BUSY", after.body
            await asyncio.sleep(0.5)
        after = await client.submit([photos.file_desc(name)], "SINGLE", receiver.url("/cb/drill/pg"))
    for reply in (before, after):
        await delivered(client, receiver, reply.body["accept_seqno"])


async def test_receiver_timing_out_then_healthy(client: PiclossClient, photos: PhotoServer,
                                                receiver: CallbackReceiver) -> None:
    receiver.behaviours["/cb/drill/slow"] = Behaviour(delay_s=3.0)  # over CALLBACK_TIMEOUT_S=2
    name = photos.add("slow-rcv.jpg", drawn_car_jpeg(1)).rsplit("/", 1)[-1]
    reply = await client.submit([photos.file_desc(name)], "SINGLE", receiver.url("/cb/drill/slow"))
    accept_seqno = reply.body["accept_seqno"]
    deadline = time.monotonic() + 120
    while not (await client.query(accept_seqno=accept_seqno)).body.get("attempts"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    receiver.behaviours["/cb/drill/slow"] = Behaviour()
    await delivered(client, receiver, accept_seqno)
    attempts = (await client.query(accept_seqno=accept_seqno)).body["attempts"]
    assert attempts[0]["outcome"] == "failure" and "2" in (attempts[0]["error"] or "")
    assert attempts[-1]["outcome"] == "success"
