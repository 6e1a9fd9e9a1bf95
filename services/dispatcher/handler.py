"""The Kafka handler of the results topic: a ResultReady event becomes a delivery row."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError

from picloss.platform.kafka import PermanentError
from picloss.platform.ledger import Ledger
from picloss.rpc.events.v1 import events_pb2
from services.dispatcher.delivery import Dispatcher


class ResultHandler:
    """Result events → a delivery row (idempotent), then wake the delivery loop."""

    def __init__(self, ledger: Ledger, dispatcher: Dispatcher) -> None:
        self._ledger = ledger
        self._dispatcher = dispatcher

    async def __call__(self, msg: Any) -> None:
        try:
            event = events_pb2.ResultReady.FromString(msg.value() or b"")
        except DecodeError as exc:
            raise PermanentError("undecodable ResultReady") from exc
        if not await self._ledger.ensure_delivery(event.accept_seqno):
            raise PermanentError(f"result for unknown request {event.accept_seqno}")
        self._dispatcher.wake.set()
