"""The reconciliation sweep: delivery rows for DONE requests whose ResultReady event was lost."""

from __future__ import annotations

import asyncio
import contextlib

from picloss.ledger import Ledger
from services.dispatcher.delivery import Dispatcher


async def reconcile_forever(ledger: Ledger, dispatcher: Dispatcher, every_s: float, stop: asyncio.Event) -> None:
    """Safety net: a DONE request whose result event never arrived still gets its delivery row."""
    while not stop.is_set():
        with contextlib.suppress(Exception):
            if await ledger.reconcile_deliveries(older_than_s=every_s):
                dispatcher.wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
