"""The dispatcher's ResultReady handler and its reconciliation sweep, against an in-memory ledger."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from picloss.platform.kafka import PermanentError
from picloss.rpc.events.v1 import events_pb2
from services.dispatcher.handler import ResultHandler
from services.dispatcher.reconcile import reconcile_forever


class FakeLedger:
    def __init__(self, known: frozenset[str] = frozenset(), done_without_delivery: int = 0) -> None:
        self.known = set(known)
        self.deliveries: list[str] = []
        self.done_without_delivery = done_without_delivery
        self.sweeps: list[float] = []
        self.fail_sweeps = 0

    async def ensure_delivery(self, accept_seqno: str) -> bool:
        if accept_seqno not in self.known:
            return False
        if accept_seqno not in self.deliveries:
            self.deliveries.append(accept_seqno)
        return True

    async def reconcile_deliveries(self, older_than_s: float) -> int:
        self.sweeps.append(older_than_s)
        if self.fail_sweeps:
            self.fail_sweeps -= 1
            raise ConnectionError("ledger down")
        created, self.done_without_delivery = self.done_without_delivery, 0
        return created


class Msg:
    def __init__(self, value: bytes | None) -> None:
        self._value = value

    def value(self) -> bytes | None:
        return self._value


def fake_dispatcher() -> Any:
    return SimpleNamespace(wake=asyncio.Event())


def event(accept_seqno: str) -> Msg:
    return Msg(events_pb2.ResultReady(accept_seqno=accept_seqno, done_at_ms=1).SerializeToString())


async def test_a_result_event_creates_the_delivery_once_and_wakes_the_loop() -> None:
    ledger, dispatcher = FakeLedger(known={"A1"}), fake_dispatcher()
    handler = ResultHandler(ledger, dispatcher)  # type: ignore[arg-type]
    await handler(event("A1"))
    assert ledger.deliveries == ["A1"] and dispatcher.wake.is_set()
    dispatcher.wake.clear()
    await handler(event("A1"))                      # redelivered event: idempotent
    assert ledger.deliveries == ["A1"] and dispatcher.wake.is_set()


@pytest.mark.parametrize(("msg", "message"), [
    (Msg(b"\xff\xff\xff"), "undecodable ResultReady"),
    (event("nobody"), "result for unknown request nobody"),
])
async def test_events_that_can_never_be_handled_are_permanent_errors(msg: Msg, message: str) -> None:
    ledger, dispatcher = FakeLedger(known={"A1"}), fake_dispatcher()
    with pytest.raises(PermanentError, match=message):
        await ResultHandler(ledger, dispatcher)(msg)  # type: ignore[arg-type]
    assert ledger.deliveries == [] and not dispatcher.wake.is_set()


async def test_a_ledger_error_is_not_permanent() -> None:
    class Down(FakeLedger):
        async def ensure_delivery(self, accept_seqno: str) -> bool:
            raise ConnectionError("ledger down")

    with pytest.raises(ConnectionError):            # the consumer loop retries it
        await ResultHandler(Down(), fake_dispatcher())(event("A1"))  # type: ignore[arg-type]


async def test_reconciliation_sweeps_every_period_wakes_on_new_rows_and_survives_errors() -> None:
    ledger, dispatcher, stop = FakeLedger(), fake_dispatcher(), asyncio.Event()
    ledger.fail_sweeps = 1
    task = asyncio.create_task(reconcile_forever(ledger, dispatcher, 0.05, stop))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.2)
        assert len(ledger.sweeps) >= 3 and set(ledger.sweeps) == {0.05}   # the failed sweep did not end it
        assert not dispatcher.wake.is_set()         # nothing created: no wake
        ledger.done_without_delivery = 2
        await asyncio.wait_for(dispatcher.wake.wait(), 2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 1)             # stop ends the wait at once, not after the period


async def test_reconciliation_stops_promptly_with_a_long_period() -> None:
    ledger, stop = FakeLedger(), asyncio.Event()
    task = asyncio.create_task(reconcile_forever(ledger, fake_dispatcher(), 30, stop))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 2)
    assert time.monotonic() - started < 1 and ledger.sweeps == [30]
