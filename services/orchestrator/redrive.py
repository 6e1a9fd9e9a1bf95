"""The ledger-driven re-drive (transactional outbox): the ledger row is the outbox of every accepted request.

A request that stays ACCEPTED or PROCESSING without progress for `after_s` (its event lost when the broker lost
its data, or the orchestrator that took it gone without a redelivery) is published again on the requests topic,
rebuilt from the ledger. Every orchestrator replica runs this loop; `Ledger.stalled` claims with SKIP LOCKED and
moves `updated_at`, so one replica publishes each stalled request per window. A live orchestrator's heartbeat
(`heartbeat`) keeps long requests from being re-driven. The handler is idempotent by accept_seqno: a repeated
event re-announces a finished result or processes an unfinished request once more; the ledger keeps the first
result and the dispatcher delivers it once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog

from picloss.platform.kafka import AsyncProducer, BrokerUnavailable
from picloss.platform.ledger import Ledger, LedgerUnavailable
from picloss.platform.ledger.store import Stalled
from picloss.rpc.events.v1 import events_pb2
from services.orchestrator.metrics import REDRIVES

log = structlog.get_logger()
for _state in ("ACCEPTED", "PROCESSING"):  # the series exist at 0 from the start (alerts, dashboards)
    REDRIVES.labels(_state)


def event_of(row: Stalled) -> events_pb2.RequestAccepted:
    """The RequestAccepted event the gateway published for this request, rebuilt from the ledger."""
    return events_pb2.RequestAccepted(
        accept_seqno=row.accept_seqno, appid=row.appid, mchid=row.mchid, req_seqno=row.req_seqno,
        model=row.model, callback_url=row.callback_url,
        files=[events_pb2.FileRef(fileurl=f.fileurl, filemd5=f.filemd5_given or "", fileid=f.fileid)
               for f in row.files],
        accepted_at_ms=int(row.accepted_at.timestamp() * 1000))


async def redrive_once(ledger: Ledger, producer: AsyncProducer, topic: str, after_s: float, limit: int) -> int:
    """Publish every stalled request claimed now; returns how many were published."""
    published = 0
    for row in await ledger.stalled(after_s, limit):
        await producer.send(topic, row.accept_seqno, event_of(row).SerializeToString())
        REDRIVES.labels(row.state).inc()
        log.warning("request re-driven: no progress", accept_seqno=row.accept_seqno, state=row.state,
                    redrives=row.redrives, after_s=after_s)
        published += 1
    return published


async def redrive_forever(ledger: Ledger, producer: AsyncProducer, topic: str, *, after_s: float, every_s: float,
                          limit: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            while await redrive_once(ledger, producer, topic, after_s, limit) == limit:
                pass  # a full page: there may be more
        except (LedgerUnavailable, BrokerUnavailable) as exc:
            # a claimed row that was not published is claimed again after another `after_s`
            log.warning("re-drive round failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


@contextlib.asynccontextmanager
async def heartbeat(ledger: Ledger, accept_seqno: str, every_s: float) -> AsyncIterator[None]:
    """Touch the request every `every_s` while the body runs, so the re-drive sees progress."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await ledger.touch(accept_seqno)
            except LedgerUnavailable as exc:
                log.warning("heartbeat failed", error=str(exc))

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
