"""The delivery loop: claims due deliveries from the ledger and makes each callback attempt.

Each attempt re-stamps nonce and timestamp (so a receiver's replay window accepts a retry 30 minutes
later), signs the exact bytes sent, and records the attempt; the next due time lives in the ledger,
so retries survive restarts."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog

from picloss.platform.ledger import Delivery, Ledger
from picloss.platform.ledger.sealing import DataKeys, SealError
from picloss.platform.netguard import BlockedAddress, Network, check_callback_url, guarded_connector_kwargs
from picloss.protocol import json as pjson
from picloss.protocol.endpoints import callback_accepted
from picloss.protocol.keys import KeyStore
from picloss.protocol.signing import new_nonce, sign
from services.dispatcher.metrics import (
    ACCEPT_TO_CALLBACK,
    CALLBACK_ATTEMPTS,
    CALLBACK_LATENCY,
    DELIVERIES_PENDING,
)

log = structlog.get_logger()


class Dispatcher:
    def __init__(self, *, ledger: Ledger, keys: KeyStore, data_keys: DataKeys, retry_delays_s: tuple[float, ...],
                 timeout_s: float, allow: tuple[Network, ...], concurrency: int) -> None:
        self._ledger = ledger
        self._data_keys = data_keys
        self._keys = keys
        self._delays = retry_delays_s
        self._timeout = timeout_s
        self._allow = allow
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self.wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        connector = aiohttp.TCPConnector(limit=self._concurrency, **guarded_connector_kwargs(self._allow))
        async with aiohttp.ClientSession(connector=connector) as self._session:
            while not stop.is_set():
                # cleared before the round: a result that arrives during the round wakes the next wait at once
                self.wake.clear()
                try:
                    await self._round()
                    wait = await self._ledger.seconds_to_next_due()
                    DELIVERIES_PENDING.set(await self._ledger.pending_deliveries())
                except Exception as exc:  # ledger down: try again shortly
                    log.warning("delivery round failed", error=str(exc))
                    wait = 1.0
                timeout = 1.0 if wait is None else min(max(wait, 0.05), 1.0)
                stop_wait = asyncio.ensure_future(stop.wait())
                wake_wait = asyncio.ensure_future(self.wake.wait())
                await asyncio.wait({stop_wait, wake_wait}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                for fut in (stop_wait, wake_wait):
                    fut.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=self._timeout + 2)

    async def _round(self) -> None:
        free = self._concurrency - len(self._tasks)
        if free <= 0:
            return
        lease_s = self._timeout * 2 + 30
        for delivery in await self._ledger.claim_due(free, lease_s):
            task = asyncio.create_task(self._deliver(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: Delivery) -> None:
        async with self._slots:
            row = await self._ledger.get(delivery.accept_seqno)
            if row is None or not row.has_result:
                log.error("delivery without a stored result", accept_seqno=delivery.accept_seqno)
                return
            try:  # opened here, where it is sent, and nowhere else
                body: dict[str, Any] = row.open_result(self._data_keys) or {}
            except SealError as exc:  # a key this replica lacks (mid-rotation): the lease lapses, a later try opens it
                log.error("stored result does not open here", accept_seqno=row.accept_seqno, error=str(exc))
                return
            attempt = delivery.attempts + 1
            body["nonce"], body["timestamp"] = new_nonce(), int(time.time())
            raw = pjson.dumps(body)
            key = self._keys.signing_key(row.appid, row.mchid)
            started = datetime.now(UTC)
            t0 = time.perf_counter()
            status, error, success = None, None, False
            if key is None:
                error = "no signing key for this appid/mchid any more"
            else:
                status, error, success = await self._post(row.callback_url, raw, key)
            duration = time.perf_counter() - t0
            CALLBACK_LATENCY.observe(duration)
            retry_in = None if success or attempt > len(self._delays) else self._delays[attempt - 1]
            outcome = "success" if success else ("retry" if retry_in is not None else "failed")
            CALLBACK_ATTEMPTS.labels(outcome).inc()
            if success:
                ACCEPT_TO_CALLBACK.observe((datetime.now(UTC) - row.accepted_at).total_seconds())
            await self._ledger.record_attempt(
                accept_seqno=row.accept_seqno, attempt=attempt, started_at=started,
                duration_ms=int(duration * 1000), http_status=status, success=success, error=error,
                retry_in_s=retry_in)
            log.info("callback attempt", accept_seqno=row.accept_seqno, attempt=attempt, outcome=outcome,
                     http_status=status, error=error, retry_in_s=retry_in)

    async def _post(self, url: str, raw: bytes, key: str) -> tuple[int | None, str | None, bool]:
        assert self._session is not None
        try:
            check_callback_url(url, self._allow)
            async with asyncio.timeout(self._timeout):
                async with self._session.post(url, data=raw, allow_redirects=False, headers={
                        "Content-Type": "text/json; charset=utf-8", "Signature": sign(raw, key)}) as resp:
                    reply = await resp.content.read(65536)
                    ok = callback_accepted(resp.status, reply)
                    return resp.status, None if ok else f"receiver answered {resp.status}", ok
        except TimeoutError:
            return None, f"no answer within {self._timeout}s", False
        except BlockedAddress as exc:
            return None, f"refused: {exc}", False
        except (aiohttp.ClientError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300], False
