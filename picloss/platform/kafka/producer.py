"""An asyncio wrapper over confluent-kafka's Producer: `await send()` returns once the broker acked."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Producer

log = structlog.get_logger()


class BrokerUnavailable(RuntimeError):
    """The event could not be acknowledged by the broker in time."""


def _settle(reports: list[tuple[asyncio.Future[None], KafkaError | None]]) -> None:
    for done, err in reports:
        if done.done():
            continue
        if err is not None:
            done.set_exception(BrokerUnavailable(str(err)))
        else:
            done.set_result(None)


class AsyncProducer:
    """Delivery reports are served by one poll thread; the futures they settle are handed to the event loop
    in one call per poll round (not one wake-up per message).

    A fatal producer error, or a message that timed out, makes the next send build a fresh producer (at most
    every `REBUILD_EVERY_S`): a broker that lost its data no longer knows this idempotent producer's id
    (UNKNOWN_PRODUCER_ID) and a producer left as it is would fail every message from then on; a new one asks
    for a new id. What was still queued in the old one fails (its senders answer SYSTEM_BUSY or retry)."""

    REBUILD_EVERY_S = 10.0

    def __init__(self, bootstrap: str, *, delivery_timeout_ms: int = 5000, extra: dict[str, Any] | None = None):
        self._conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
            "message.timeout.ms": delivery_timeout_ms,
            "socket.connection.setup.timeout.ms": 3000,
        }
        self._conf.update(extra or {})
        self._conf["error_cb"] = self._note
        self._ack_wait_s = int(self._conf["message.timeout.ms"]) / 1000 + 2.0
        self._fatal: str | None = None
        self._producer = Producer(self._conf)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reports: list[tuple[asyncio.Future[None], KafkaError | None]] = []
        self._lock = threading.Lock()
        self._rebuilding = asyncio.Lock()
        self._rebuilt_at = -self.REBUILD_EVERY_S
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_forever, name="kafka-producer-poll", daemon=True)
        self._poller.start()

    def _note(self, err: KafkaError | None) -> None:
        """error_cb and every delivery report: a fatal error or a timed-out message asks for a new producer."""
        if err is not None and (err.fatal() or err.code() == KafkaError._MSG_TIMED_OUT):
            self._fatal = str(err)

    def _poll_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self._producer.poll(0.05)
            except KafkaException as exc:  # a fatal error surfaces here: this thread must live on
                self._fatal = str(exc)
                log.warning("kafka producer fatal error", error=str(exc))
                time.sleep(0.05)
            if self._reports and self._loop is not None:
                with self._lock:
                    reports, self._reports = self._reports, []
                try:
                    self._loop.call_soon_threadsafe(_settle, reports)
                except RuntimeError:  # the loop is closed: nobody waits any more
                    pass

    def _rebuild(self) -> None:  # in a worker thread
        old, reason = self._producer, self._fatal
        self._producer, self._fatal = Producer(self._conf), None
        old.purge()  # fail what is still queued or in flight there: its senders retry or answer SYSTEM_BUSY
        old.flush(2.0)  # serve those failure reports
        log.warning("kafka producer rebuilt", reason=reason)

    async def _maybe_rebuild(self) -> None:
        async with self._rebuilding:
            now = time.monotonic()
            if self._fatal is None or now - self._rebuilt_at < self.REBUILD_EVERY_S:
                return
            self._rebuilt_at = now
            await asyncio.to_thread(self._rebuild)

    async def send(self, topic: str, key: str, value: bytes) -> None:
        loop = self._loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def on_delivery(err: KafkaError | None, _msg: Any) -> None:  # inside poll() (or flush/purge)
            self._note(err)
            with self._lock:
                self._reports.append((done, err))

        if self._fatal is not None:
            await self._maybe_rebuild()
        try:
            self._producer.produce(topic, key=key.encode(), value=value, on_delivery=on_delivery)
        except (BufferError, KafkaException) as exc:
            raise BrokerUnavailable(str(exc)) from exc
        try:
            # librdkafka reports every message by message.timeout.ms; seen otherwise after a broker lost its
            # data (UNKNOWN_PRODUCER_ID): never wait past that, and build a fresh producer next time
            await asyncio.wait_for(done, self._ack_wait_s)
        except TimeoutError as exc:
            self._fatal = "no delivery report within message.timeout.ms"
            raise BrokerUnavailable("no delivery report in time") from exc

    def close(self, timeout_s: float = 5.0) -> None:
        self._producer.flush(timeout_s)
        self._stop.set()
        self._poller.join(timeout=2)
