"""The protocol end to end over HTTPS on the real stack: callbacks, retries, idempotency, crashes."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from devkit.client import REQUEST_PATH, PiclossClient
from devkit.photos import PhotoServer
from devkit.photos import noise_jpeg as jpeg
from devkit.receiver import Behaviour, CallbackReceiver
from devkit.stack import Stack
from picloss.protocol import json as pjson
from picloss.protocol.schemas import validator

pytestmark = pytest.mark.e2e
CALLBACK = validator("callback")
QUERY_RESPONSE = validator("query-response")


def strip_stamp(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("nonce", "timestamp")}


async def wait_state(client: PiclossClient, accept_seqno: str, states: set[str],
                     timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        reply = await client.query(accept_seqno=accept_seqno)
        if reply.body.get("state") in states or time.monotonic() > deadline:
            return reply.body
        await asyncio.sleep(0.3)


@pytest.mark.parametrize("model", ["SINGLE", "BATCH"])
async def test_signed_callback_valid_against_schema(client: PiclossClient, photos: PhotoServer,
                                                    receiver: CallbackReceiver, model: str) -> None:
    files = [photos.file_desc(photos.add(f"{model}-{i}.jpg", jpeg(i)).rsplit("/", 1)[-1]) for i in range(2)]
    files.append({"fileurl": photos.url("does-not-exist.jpg")})
    reply = await client.submit(files, model, receiver.url(f"/cb/{model}"))
    assert reply.status == 200 and reply.body["result_code"] == "SUCCESS" and reply.signature_ok
    accept_seqno = reply.body["accept_seqno"]
    got = await receiver.wait_for(accept_seqno, timeout_s=180)
    callback = got[-1]
    assert callback.signature_ok
    CALLBACK.validate(callback.body)
    assert callback.body["req_seqno"] and callback.body["accept_seqno"] == accept_seqno
    codes = {f["fileurl"].rsplit("/", 1)[-1]: f["result_code"] for f in callback.body["files"]}
    assert codes["does-not-exist.jpg"] == 1001
    assert all(len(f["fileid"]) == 32 for f in callback.body["files"])
    state = await wait_state(client, accept_seqno, {"DELIVERED"})
    QUERY_RESPONSE.validate(state | {"result_code": "SUCCESS", "result_msg": "SUCCESS"})
    assert state["state"] == "DELIVERED" and len(state["attempts"]) == 1
    assert strip_stamp(state["result"]) == strip_stamp(callback.body)


async def test_receiver_failing_three_times_gets_exactly_four_attempts(
        client: PiclossClient, photos: PhotoServer, receiver: CallbackReceiver) -> None:
    receiver.behaviours["/cb/fail3"] = Behaviour(fail_first=3)
    reply = await client.submit([photos.file_desc(photos.add("f3.jpg", jpeg(31)).rsplit("/", 1)[-1])], "SINGLE",
                                receiver.url("/cb/fail3"))
    accept_seqno = reply.body["accept_seqno"]
    await receiver.wait_for(accept_seqno, timeout_s=180)
    state = await wait_state(client, accept_seqno, {"DELIVERED"})
    assert state["state"] == "DELIVERED"
    assert [a["outcome"] for a in state["attempts"]] == ["failure"] * 3 + ["success"]
    await asyncio.sleep(2)  # nothing more arrives
    assert len(receiver.calls("/cb/fail3")) == 4


async def test_receiver_always_failing_gets_seven_attempts_then_delivery_failed(
        client: PiclossClient, photos: PhotoServer, receiver: CallbackReceiver) -> None:
    receiver.behaviours["/cb/down"] = Behaviour(always_fail=True, fail_status=503)
    reply = await client.submit([photos.file_desc(photos.add("down.jpg", jpeg(41)).rsplit("/", 1)[-1])], "BATCH",
                                receiver.url("/cb/down"))
    accept_seqno = reply.body["accept_seqno"]
    await receiver.wait_for(accept_seqno, attempts=7, timeout_s=240)
    state = await wait_state(client, accept_seqno, {"DELIVERY_FAILED"})
    assert state["state"] == "DELIVERY_FAILED"
    assert len(state["attempts"]) == 7 and all(a["http_status"] == 503 for a in state["attempts"])
    assert "result" in state  # the way out: the result is still there to reconcile
    await asyncio.sleep(3)
    assert len(receiver.calls("/cb/down")) == 7


async def test_duplicate_req_seqno_same_accept_seqno_one_callback(
        client: PiclossClient, photos: PhotoServer, receiver: CallbackReceiver) -> None:
    files = [photos.file_desc(photos.add("dup.jpg", jpeg(51)).rsplit("/", 1)[-1])]
    seq = "dup-" + uuid.uuid4().hex
    first = await client.submit(files, "SINGLE", receiver.url("/cb/dup"), req_seqno=seq)
    second = await client.submit(files, "SINGLE", receiver.url("/cb/dup"), req_seqno=seq)
    assert first.body["accept_seqno"] == second.body["accept_seqno"]
    conflict = await client.submit(files, "BATCH", receiver.url("/cb/dup"), req_seqno=seq)
    assert (conflict.status, conflict.body["result_code"]) == (409, "SEQNO_CONFLICT")
    await receiver.wait_for(first.body["accept_seqno"], timeout_s=180)
    await asyncio.sleep(2)
    assert len(receiver.calls("/cb/dup")) == 1


async def test_replayed_nonce_and_bad_signature(client: PiclossClient, photos: PhotoServer,
                                                receiver: CallbackReceiver) -> None:
    body = client.envelope(files=[{"fileurl": photos.url("x.jpg")}], model="SINGLE", req_seqno=uuid.uuid4().hex,
                           callback_url=receiver.url("/cb/none"))
    raw = pjson.dumps(body)
    bad = await client.post_raw(REQUEST_PATH, raw, signature="00" * 32)
    assert (bad.status, bad.body["result_code"]) == (401, "SIGN_ERROR")
    ok = await client.post_raw(REQUEST_PATH, raw)
    assert ok.body["result_code"] == "SUCCESS"
    replay = await client.post_raw(REQUEST_PATH, raw)
    assert (replay.status, replay.body["result_code"]) == (401, "NONCE_REPLAYED")


async def test_orchestrator_sigkill_mid_request_still_completes(
        stack: Stack, client: PiclossClient, photos: PhotoServer, receiver: CallbackReceiver) -> None:
    photos.add("slow.jpg", jpeg(61))
    photos.delays["slow.jpg"] = 4.0
    reply = await client.submit([photos.file_desc("slow.jpg")], "SINGLE", receiver.url("/cb/crash"))
    accept_seqno = reply.body["accept_seqno"]
    state = await wait_state(client, accept_seqno, {"PROCESSING"}, timeout_s=30)
    assert state["state"] == "PROCESSING"
    await asyncio.to_thread(stack.kill, "orchestrator")
    await asyncio.sleep(1)
    assert (await client.query(accept_seqno=accept_seqno)).body["state"] == "PROCESSING"
    photos.delays["slow.jpg"] = 0.5
    await asyncio.to_thread(stack.start, "orchestrator")
    got = await receiver.wait_for(accept_seqno, timeout_s=180)
    assert got[-1].body["files"][0]["result_code"] != 1001
    assert (await wait_state(client, accept_seqno, {"DELIVERED"}))["state"] == "DELIVERED"


async def test_dispatcher_killed_during_retry_wait_still_retries(
        stack: Stack, client: PiclossClient, photos: PhotoServer, receiver: CallbackReceiver) -> None:
    receiver.behaviours["/cb/flaky"] = Behaviour(fail_first=1)
    reply = await client.submit([photos.file_desc(photos.add("flaky.jpg", jpeg(71)).rsplit("/", 1)[-1])],
                                "SINGLE", receiver.url("/cb/flaky"))
    accept_seqno = reply.body["accept_seqno"]
    deadline = time.monotonic() + 180
    while len((await client.query(accept_seqno=accept_seqno)).body.get("attempts", [])) < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    # the first retry is due 3 s after the failure: kill the dispatcher now and keep it down past that
    await asyncio.to_thread(stack.kill, "dispatcher")
    await asyncio.sleep(4)
    assert len(receiver.calls("/cb/flaky")) == 1
    await asyncio.to_thread(stack.start, "dispatcher")
    await receiver.wait_for(accept_seqno, timeout_s=60)
    state = await wait_state(client, accept_seqno, {"DELIVERED"})
    assert [a["outcome"] for a in state["attempts"]] == ["failure", "success"]
