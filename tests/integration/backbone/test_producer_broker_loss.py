"""A producer outlives a broker that lost its data (issue 13): the broker no longer knows the idempotent
producer (a fatal OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID), the send fails fast instead of hanging,
and the next sends go through a rebuilt producer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from devkit.infra import create_topics, start_broker
from devkit.procs import free_port, stop_pid
from picloss.platform.kafka import AsyncProducer, BrokerUnavailable

pytestmark = pytest.mark.integration


async def test_sends_recover_after_the_broker_restarts_empty(tmp_path: Path) -> None:
    port = free_port()
    broker = await asyncio.to_thread(start_broker, port, tmp_path / "broker.log")
    producer = AsyncProducer(broker.bootstrap, delivery_timeout_ms=3000)
    try:
        await asyncio.to_thread(create_topics, broker.bootstrap, {"t": 4})
        for i in range(8):
            await producer.send("t", f"k{i}", b"v")
        await asyncio.to_thread(stop_pid, broker.proc.pid, 10, 9)
        broker = await asyncio.to_thread(start_broker, port, tmp_path / "broker2.log")
        started, failures = time.monotonic(), 0
        delivered = 0
        while delivered < 8:
            assert time.monotonic() - started < 30, f"no recovery: {failures} failures, {delivered} delivered"
            try:
                await producer.send("t", f"k{delivered}", b"v")
                delivered += 1
            except BrokerUnavailable:
                failures += 1  # bounded by the message timeout, never a hang
                await asyncio.sleep(0.2)
        assert failures <= 4 and producer._poller.is_alive()
    finally:
        producer.close()
        stop_pid(broker.proc.pid)
