"""The dispatcher's delivery loop against an in-memory ledger and a loopback receiver the test starts.

FakeLedger implements only what the dispatcher calls, with the contract of picloss/platform/ledger/store.py:
claim_due leases PENDING rows that are due, record_attempt moves the row to DELIVERED, FAILED
(request DELIVERY_FAILED) or PENDING due `retry_in_s` later and clears the lease.

The real loop is not woken when an attempt ends (it sees the new due time at its next round, at most
1 s later); to keep seven attempts fast, the fake ledger wakes it after each record_attempt.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from picloss.platform.ledger import Delivery, RequestRow
from picloss.platform.ledger.sealing import DataKeys, new_key_entry
from picloss.platform.netguard import Network, parse_cidrs
from picloss.protocol import json as pjson
from picloss.protocol.keys import KeyStore
from picloss.protocol.signing import sign
from services.dispatcher.delivery import Dispatcher
from services.dispatcher.metrics import CALLBACK_ATTEMPTS

APPID, MCHID, KEY = "app1", "mch1", "k3y-for-callbacks"
KEYS = KeyStore({(APPID, MCHID): (KEY, "older-key")})
DATA_KEYS = DataKeys.from_json(json.dumps({"keys": [new_key_entry("k1")]}))
LOOPBACK = parse_cidrs(["127.0.0.0/8"])
DELAYS = (0.05, 0.1, 0.02, 0.02, 0.02, 0.02)


@dataclass
class _DeliveryRow:
    status: str = "PENDING"
    attempts: int = 0
    due: float = field(default_factory=time.monotonic)
    lease_until: float | None = None


class FakeLedger:
    def __init__(self) -> None:
        self.requests: dict[str, RequestRow] = {}
        self.deliveries: dict[str, _DeliveryRow] = {}
        self.recorded: list[dict[str, Any]] = []
        self.claims: list[tuple[int, float, list[str]]] = []   # (limit, lease_s, claimed)
        self.after_record: Callable[[], None] = lambda: None

    def add_request(self, accept_seqno: str, callback_url: str, result: dict[str, Any] | None,
                    appid: str = APPID, state: str = "DONE") -> None:
        now = datetime.now(UTC)
        sealed = DATA_KEYS.seal_json(result, accept_seqno) if result is not None else None
        self.requests[accept_seqno] = RequestRow(accept_seqno, appid, MCHID, f"req-{accept_seqno}", "SINGLE",
                                                 callback_url, state, "SUCCESS", sealed, now, now)

    async def get(self, accept_seqno: str) -> RequestRow | None:
        return self.requests.get(accept_seqno)

    async def ensure_delivery(self, accept_seqno: str) -> bool:
        if accept_seqno not in self.requests:
            return False
        self.deliveries.setdefault(accept_seqno, _DeliveryRow())
        return True

    async def claim_due(self, limit: int, lease_s: float) -> list[Delivery]:
        now = time.monotonic()
        due = sorted((d.due, seqno) for seqno, d in self.deliveries.items()
                     if d.status == "PENDING" and d.due <= now and (d.lease_until is None or d.lease_until < now))
        claimed = [seqno for _, seqno in due[:limit]]
        for seqno in claimed:
            self.deliveries[seqno].lease_until = now + lease_s
        self.claims.append((limit, lease_s, claimed))
        return [Delivery(seqno, self.deliveries[seqno].attempts) for seqno in claimed]

    async def seconds_to_next_due(self) -> float | None:
        pending = [max(d.due, d.lease_until or d.due) for d in self.deliveries.values() if d.status == "PENDING"]
        return max(0.0, min(pending) - time.monotonic()) if pending else None

    async def pending_deliveries(self) -> int:
        return sum(d.status == "PENDING" for d in self.deliveries.values())

    async def record_attempt(self, *, accept_seqno: str, attempt: int, started_at: datetime, duration_ms: int,
                             http_status: int | None, success: bool, error: str | None,
                             retry_in_s: float | None) -> str:
        self.recorded.append({"accept_seqno": accept_seqno, "attempt": attempt, "started_at": started_at,
                              "duration_ms": duration_ms, "http_status": http_status, "success": success,
                              "error": error, "retry_in_s": retry_in_s, "at": time.monotonic()})
        row = self.deliveries[accept_seqno]
        if success:
            row.status, state = "DELIVERED", "DELIVERED"
        elif retry_in_s is None:
            row.status, state = "FAILED", "DELIVERY_FAILED"
        else:
            row.status, state = "PENDING", None
        row.attempts, row.lease_until, row.due = attempt, None, time.monotonic() + (retry_in_s or 0)
        if state is not None:
            self.requests[accept_seqno] = replace(self.requests[accept_seqno], state=state)
        self.after_record()
        return row.status

    def attempts_of(self, accept_seqno: str) -> list[dict[str, Any]]:
        return [a for a in self.recorded if a["accept_seqno"] == accept_seqno]


@dataclass
class Hit:
    body: bytes
    headers: dict[str, str]
    at: float


class Receiver:
    """A loopback callback receiver; `answers` are consumed one per request, then `default`."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.answers: list[str] = []
        self.default = "ok"
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(Hit(await request.read(), dict(request.headers), time.monotonic()))
        answer = self.answers.pop(0) if self.answers else self.default
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if answer == "500":
                return web.Response(status=500, text="boom")
            if answer == "fail":
                return web.json_response({"result_code": "FAIL"})
            if answer == "slow":
                await asyncio.sleep(0.8)
            if answer == "hold":
                await self.release.wait()
            return web.json_response({"result_code": "SUCCESS"})
        finally:
            self.in_flight -= 1


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/cb", rec.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rec.url = f"http://127.0.0.1:{port}/cb"
    yield rec
    rec.release.set()
    await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def stored_result(seqno: str) -> dict[str, Any]:
    return {"appid": APPID, "mchid": MCHID, "nonce": "stored-nonce", "timestamp": 1, "accept_seqno": seqno,
            "result_code": "SUCCESS", "files": [{"fileid": "0", "doc": {"name": "张三"}}]}


class Running:
    def __init__(self, ledger: FakeLedger, allow: tuple[Network, ...] = LOOPBACK, concurrency: int = 4,
                 timeout_s: float = 0.3, delays: tuple[float, ...] = DELAYS) -> None:
        self.dispatcher = Dispatcher(ledger=ledger, keys=KEYS, data_keys=DATA_KEYS,  # type: ignore[arg-type]
                                     retry_delays_s=delays,
                                     timeout_s=timeout_s, allow=allow, concurrency=concurrency)
        ledger.after_record = self.dispatcher.wake.set
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Dispatcher:
        self.task = asyncio.create_task(self.dispatcher.run(self.stop))
        return self.dispatcher

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 5)


async def until(cond: Callable[[], bool], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def outcomes(*names: str) -> list[float]:
    return [CALLBACK_ATTEMPTS.labels(n)._value.get() for n in names]


async def test_success_is_recorded_delivered_with_the_signed_stored_body(receiver: Receiver) -> None:
    ledger = FakeLedger()
    ledger.add_request("A1", receiver.url, stored_result("A1"))
    await ledger.ensure_delivery("A1")
    before = time.time()
    async with Running(ledger, timeout_s=0.3):
        await until(lambda: ledger.deliveries["A1"].status != "PENDING")
    [hit] = receiver.hits
    [attempt] = ledger.attempts_of("A1")
    assert attempt["attempt"] == 1 and attempt["success"] is True and attempt["http_status"] == 200
    assert attempt["error"] is None and attempt["retry_in_s"] is None
    assert ledger.deliveries["A1"].status == "DELIVERED" and ledger.requests["A1"].state == "DELIVERED"
    assert ledger.claims[0][1] == 0.3 * 2 + 30                 # the lease outlives one attempt
    assert hit.headers["Content-Type"] == "text/json; charset=utf-8"
    assert hit.headers["Signature"] == sign(hit.body, KEY)     # the first key signs the exact bytes
    sent = json.loads(hit.body)
    assert sent["nonce"] != "stored-nonce" and len(sent["nonce"]) == 32
    assert before - 1 <= sent["timestamp"] <= time.time() + 1
    expected = stored_result("A1") | {"nonce": sent["nonce"], "timestamp": sent["timestamp"]}
    assert hit.body == pjson.dumps(expected)                   # key order, non-ASCII kept, nothing else changed


@pytest.mark.parametrize("failure", ["500", "fail", "slow", "refused"])
async def test_a_failed_attempt_schedules_the_next_after_the_configured_delay(
        receiver: Receiver, failure: str) -> None:
    ledger = FakeLedger()
    url = f"http://127.0.0.1:{closed_port()}/cb" if failure == "refused" else receiver.url
    ledger.add_request("B1", url, stored_result("B1"))
    await ledger.ensure_delivery("B1")
    receiver.answers = [failure]
    async with Running(ledger, timeout_s=0.3, delays=(0.4, *DELAYS[1:])):
        await until(lambda: len(ledger.attempts_of("B1")) == 1)
        first = ledger.attempts_of("B1")[0]
        assert ledger.deliveries["B1"].status == "PENDING" and ledger.deliveries["B1"].lease_until is None
        if failure == "refused":                              # the second attempt goes to a live receiver
            ledger.requests["B1"] = replace(ledger.requests["B1"], callback_url=receiver.url)
        await until(lambda: ledger.deliveries["B1"].status == "DELIVERED")
    second = ledger.attempts_of("B1")[1]
    assert first["success"] is False and first["retry_in_s"] == 0.4
    assert second["attempt"] == 2 and second["success"] is True and second["retry_in_s"] is None
    assert second["at"] - first["at"] >= 0.4                  # not before the delay
    expected_status = {"500": 500, "fail": 200, "slow": None, "refused": None}[failure]
    assert first["http_status"] == expected_status
    expected_error = {"500": "receiver answered 500", "fail": "receiver answered 200",
                      "slow": "no answer within 0.3s", "refused": "ClientConnectorError"}[failure]
    assert expected_error in first["error"]
    if failure == "slow":
        assert first["duration_ms"] < 700                    # cut at the timeout, not at the receiver's 0.8 s


async def test_the_seventh_failure_ends_delivery_failed(receiver: Receiver) -> None:
    ledger = FakeLedger()
    ledger.add_request("C1", receiver.url, stored_result("C1"))
    await ledger.ensure_delivery("C1")
    receiver.default = "500"
    retry_before, failed_before = outcomes("retry", "failed")
    async with Running(ledger):
        await until(lambda: ledger.deliveries["C1"].status == "FAILED")
        await asyncio.sleep(0.2)                              # and nothing after it
    attempts = ledger.attempts_of("C1")
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4, 5, 6, 7]
    assert [a["retry_in_s"] for a in attempts] == [*DELAYS, None]
    assert len(receiver.hits) == 7
    assert ledger.requests["C1"].state == "DELIVERY_FAILED"
    assert outcomes("retry", "failed") == [retry_before + 6, failed_before + 1]
    # every attempt re-signed with its own nonce and timestamp, otherwise the exact stored body
    nonces = set()
    for hit in receiver.hits:
        sent = json.loads(hit.body)
        nonces.add(sent["nonce"])
        assert hit.headers["Signature"] == sign(hit.body, KEY)
        assert hit.body == pjson.dumps(stored_result("C1") | {"nonce": sent["nonce"],
                                                              "timestamp": sent["timestamp"]})
    assert len(nonces) == 7


async def test_retry_timestamps_are_fresh(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    import services.dispatcher.delivery as delivery

    clock = iter([1_700_000_000.9, 1_700_001_800.2])      # the second attempt "30 minutes later"

    class Clock:
        perf_counter = staticmethod(time.perf_counter)

        @staticmethod
        def time() -> float:
            return next(clock)

    monkeypatch.setattr(delivery, "time", Clock)
    ledger = FakeLedger()
    ledger.add_request("D1", receiver.url, stored_result("D1"))
    await ledger.ensure_delivery("D1")
    receiver.answers = ["500"]
    async with Running(ledger):
        await until(lambda: ledger.deliveries["D1"].status == "DELIVERED")
    assert [json.loads(h.body)["timestamp"] for h in receiver.hits] == [1_700_000_000, 1_700_001_800]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_the_ssrf_guard_refuses_a_host_outside_the_allow_list(receiver: Receiver, host: str) -> None:
    ledger = FakeLedger()
    url = receiver.url.replace("127.0.0.1", host)
    ledger.add_request("E1", url, stored_result("E1"))
    await ledger.ensure_delivery("E1")
    async with Running(ledger, allow=parse_cidrs(["10.0.0.0/8"])):
        await until(lambda: len(ledger.attempts_of("E1")) == 1)
    [attempt] = ledger.attempts_of("E1")
    assert receiver.hits == []                                # no connection was made
    assert attempt["success"] is False and attempt["http_status"] is None
    assert attempt["error"].startswith("refused: ")
    if host == "localhost":  # a name over plain http is refused before any lookup (docs/privacy.md)
        assert "must be https" in attempt["error"]
    else:
        assert "not public and not allow-listed" in attempt["error"]
    assert attempt["retry_in_s"] == DELAYS[0]


async def test_an_unknown_client_pair_is_not_posted_and_retried(receiver: Receiver) -> None:
    ledger = FakeLedger()
    ledger.add_request("F1", receiver.url, stored_result("F1"), appid="gone")
    await ledger.ensure_delivery("F1")
    async with Running(ledger):
        await until(lambda: len(ledger.attempts_of("F1")) == 1)
    [attempt] = ledger.attempts_of("F1")
    assert receiver.hits == []
    assert attempt["error"] == "no signing key for this appid/mchid any more"
    assert attempt["retry_in_s"] == DELAYS[0]


async def test_no_more_attempts_in_flight_than_the_concurrency(receiver: Receiver) -> None:
    ledger = FakeLedger()
    for i in range(5):
        ledger.add_request(f"G{i}", receiver.url, stored_result(f"G{i}"))
        await ledger.ensure_delivery(f"G{i}")
    receiver.default = "hold"
    async with Running(ledger, concurrency=2, timeout_s=3):
        await until(lambda: receiver.in_flight == 2)
        await asyncio.sleep(0.3)                              # several rounds while both slots are busy
        assert receiver.in_flight == 2 and len(receiver.hits) == 2
        assert sum(len(claimed) for _, _, claimed in ledger.claims) == 2   # the rest are not even leased
        assert all(limit <= 2 for limit, _, _ in ledger.claims)
        receiver.release.set()
        await until(lambda: all(d.status == "DELIVERED" for d in ledger.deliveries.values()))
    assert receiver.max_in_flight == 2 and len(receiver.hits) == 5


async def test_a_ledger_outage_does_not_stop_the_loop(receiver: Receiver) -> None:
    ledger = FakeLedger()
    ledger.add_request("H1", receiver.url, stored_result("H1"))
    await ledger.ensure_delivery("H1")
    real_claim = ledger.claim_due
    calls = 0

    async def flaky_claim(limit: int, lease_s: float) -> list[Delivery]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("ledger down")
        return await real_claim(limit, lease_s)

    ledger.claim_due = flaky_claim  # type: ignore[method-assign]
    async with Running(ledger):
        await until(lambda: ledger.deliveries["H1"].status == "DELIVERED")
    assert calls >= 2 and len(receiver.hits) == 1


async def test_a_result_under_a_key_this_replica_lacks_is_left_for_a_later_try(receiver: Receiver) -> None:
    """Mid-rotation: no attempt is made or recorded; the lease lapses and a replica holding the key sends it."""
    ledger = FakeLedger()
    ledger.add_request("K1", receiver.url, stored_result("K1"))
    foreign = DataKeys.from_json(json.dumps({"keys": [new_key_entry("k2")]}))
    ledger.requests["K1"] = replace(ledger.requests["K1"], sealed=foreign.seal_json(stored_result("K1"), "K1"))
    await ledger.ensure_delivery("K1")
    async with Running(ledger):
        await until(lambda: len(ledger.claims) >= 1 and "K1" in ledger.claims[0][2])
        await asyncio.sleep(0.1)
    assert receiver.hits == [] and ledger.attempts_of("K1") == []
    assert ledger.deliveries["K1"].status == "PENDING" and ledger.deliveries["K1"].lease_until is not None


async def test_a_stored_plain_http_callback_outside_the_allow_list_is_never_sent() -> None:
    """A row accepted before the HTTPS rule (the gateway refuses such URLs now) fails its attempts unsent,
    before any name lookup."""
    ledger = FakeLedger()
    ledger.add_request("P1", "http://insurer.invalid/cb", stored_result("P1"))
    await ledger.ensure_delivery("P1")
    async with Running(ledger):
        await until(lambda: len(ledger.attempts_of("P1")) == 1)
    [attempt] = ledger.attempts_of("P1")
    assert attempt["success"] is False and attempt["http_status"] is None
    assert attempt["error"] == "refused: callback_url: must be https " \
                               "(plain http only to an address the operator allow-listed)"
