"""The request-event handler: idempotent by accept_seqno, outcome durable before the offset moves."""

from __future__ import annotations

import time

import structlog
from confluent_kafka import Message
from google.protobuf.message import DecodeError

from picloss.engines.pipeline.pipeline import FileWork, Pipeline
from picloss.platform.kafka import AsyncProducer, PermanentError
from picloss.platform.ledger import Ledger
from picloss.platform.ledger.sealing import DataKeys
from picloss.platform.ledger.store import FileOutcome
from picloss.platform.observability.logs import bind_request, clear_request
from picloss.protocol.callback import build_body
from picloss.protocol.signing import new_nonce
from picloss.rpc.events.v1 import events_pb2
from services.orchestrator.metrics import REQUESTS_DONE
from services.orchestrator.redrive import heartbeat

log = structlog.get_logger()

FINAL_STATES = ("DONE", "DELIVERED", "DELIVERY_FAILED")
# The gateway commits before it publishes, and takes the row back when the broker does not ack: an event
# whose row is missing is one whose ack failed (or, with an older gateway, not committed yet). Wait this long.
UNCOMMITTED_GRACE_MS = 60_000


class RowNotVisibleYet(Exception):
    pass


def files_of(event: events_pb2.RequestAccepted) -> list[FileWork]:
    """The request's files as the event carries them: in request order, which is the ledger's `idx` (the gateway
    and the re-drive both write them so), with the service-assigned fileids."""
    return [FileWork(idx=i, fileid=f.fileid, fileurl=f.fileurl, md5_given=f.filemd5 or None)
            for i, f in enumerate(event.files)]


class RequestHandler:
    def __init__(self, *, ledger: Ledger, data_keys: DataKeys, producer: AsyncProducer, pipeline: Pipeline,
                 results_topic: str, heartbeat_s: float = 30.0) -> None:
        self._data_keys = data_keys
        self._heartbeat_s = heartbeat_s
        self._ledger = ledger
        self._producer = producer
        self._pipeline = pipeline
        self._results_topic = results_topic

    async def __call__(self, msg: Message) -> None:
        try:
            event = events_pb2.RequestAccepted.FromString(msg.value() or b"")
        except DecodeError as exc:
            raise PermanentError(f"undecodable RequestAccepted at offset {msg.offset()}") from exc
        if not event.accept_seqno:
            raise PermanentError("RequestAccepted without accept_seqno")
        bind_request(accept_seqno=event.accept_seqno, req_seqno=event.req_seqno)
        try:
            await self.handle(event)
        finally:
            clear_request()

    async def handle(self, event: events_pb2.RequestAccepted) -> None:
        row = await self._ledger.get(event.accept_seqno)
        if row is None:
            if time.time() * 1000 - event.accepted_at_ms < UNCOMMITTED_GRACE_MS:
                raise RowNotVisibleYet(event.accept_seqno)
            # The broker did not ack in time, the gateway took the row back and answered SYSTEM_BUSY.
            raise PermanentError(f"{event.accept_seqno} was never committed to the ledger")
        if row.state in FINAL_STATES:
            log.info("already done; re-announcing the result", state=row.state)
            await self._announce(row.accept_seqno)
            return
        await self._ledger.transition(row.accept_seqno, "PROCESSING", ("ACCEPTED",))
        files = files_of(event) or [  # the event carries the files; one without them (none is sent so) reads the ledger
            FileWork(idx=r["idx"], fileid=r["fileid"], fileurl=r["fileurl"], md5_given=r["filemd5_given"])
            for r in await self._ledger.files(row.accept_seqno)]
        async with heartbeat(self._ledger, row.accept_seqno, self._heartbeat_s):
            outcome = await self._pipeline.run(row.accept_seqno, row.model, files)
        # the commit's stamp (the query shows it); each delivery attempt re-stamps (docs/protocol-decisions.md)
        body = build_body(appid=row.appid, mchid=row.mchid, nonce=new_nonce(), timestamp=int(time.time()),
                          accept_seqno=row.accept_seqno, req_seqno=row.req_seqno, model=row.model, outcome=outcome)
        stored = await self._ledger.complete(
            row.accept_seqno, body["result_code"], self._data_keys.seal_json(body, row.accept_seqno),
            [FileOutcome(f.idx, f.md5, f.image_class.value if f.image_class else None, int(f.code), f.detail)
             for f in files])
        if stored:
            REQUESTS_DONE.labels(body["result_code"]).inc()
        log.info("request done", result_code=body["result_code"], stored=stored,
                 timings={k: round(v, 3) for k, v in outcome.timings.items()})
        await self._announce(row.accept_seqno)

    async def _announce(self, accept_seqno: str) -> None:
        event = events_pb2.ResultReady(accept_seqno=accept_seqno, done_at_ms=int(time.time() * 1000))
        await self._producer.send(self._results_topic, accept_seqno, event.SerializeToString())
