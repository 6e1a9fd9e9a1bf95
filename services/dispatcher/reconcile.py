"""The sweeps: delivery rows for DONE requests whose ResultReady event was lost; results past retention."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from picloss.platform.ledger import Ledger
from services.dispatcher.delivery import Dispatcher
from services.dispatcher.metrics import RESULTS_PURGED

log = structlog.get_logger()


async def reconcile_forever(ledger: Ledger, dispatcher: Dispatcher, every_s: float, stop: asyncio.Event) -> None:
    """Safety net: a DONE request whose result event never arrived still gets its delivery row."""
    while not stop.is_set():
        with contextlib.suppress(Exception):
            if await ledger.reconcile_deliveries(older_than_s=every_s):
                dispatcher.wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


async def purge_forever(ledger: Ledger, *, retention_s: float, every_s: float, batch: int,
                        stop: asyncio.Event) -> None:
    """Retention: every `every_s`, delete the results finished more than `retention_s` ago, batch by batch (each
    one short transaction; replicas take disjoint batches). A failed round is tried again at the next."""
    while not stop.is_set():
        try:
            while not stop.is_set() and (purged := await ledger.purge_results(retention_s, batch)):
                RESULTS_PURGED.inc(purged)
                log.info("results past retention deleted", count=purged)
                if purged < batch:
                    break
        except Exception as exc:
            log.warning("result purge failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
