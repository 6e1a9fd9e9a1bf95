"""The one Kafka consumer loop: at-least-once, concurrent handlers, in-order offset commits.

- `enable.auto.offset.store=False`: an offset is stored only when the handler of that message
  and of every earlier message of its partition succeeded (their outcome is durable), then
  auto-committed; stored offsets are committed synchronously when partitions are revoked.
- poll() runs continuously in a worker thread while handlers run on the event loop, so slow
  model work never pushes the consumer past `max.poll.interval.ms`; at `max_in_flight` the
  assigned partitions are paused instead of blocking poll().
- Every call on the consumer handle (poll, store_offsets, pause/resume) is made from that poll
  thread, between polls: the client serialises calls on one handle, so a store_offsets() from the
  event loop would block the whole loop until the running poll() returned.
- A handler that raises is retried with backoff (the message is never skipped); a handler
  that raises PermanentError (e.g. an undecodable event) is logged, counted and skipped.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from picloss.platform.observability.metrics import CONSUMER_EVENTS, CONSUMER_LAG, CONSUMER_PROCESSING

log = structlog.get_logger()

Handler = Callable[[Message], Awaitable[None]]


class PermanentError(Exception):
    """The event can never be handled; skip it (after logging)."""


def _position(msg: Message) -> tuple[int, int]:
    partition, offset = msg.partition(), msg.offset()
    assert partition is not None and offset is not None, "a fetched message has a partition and an offset"
    return partition, offset


class _PartitionTracker:
    """In-flight offsets of one partition; yields the next offset safe to store."""

    def __init__(self) -> None:
        self.pending: dict[int, bool] = {}

    def add(self, offset: int) -> None:
        self.pending[offset] = False

    def finish(self, offset: int) -> int | None:
        if offset not in self.pending:
            return None
        self.pending[offset] = True
        commit_to = None
        for off in sorted(self.pending):
            if not self.pending[off]:
                break
            del self.pending[off]
            commit_to = off + 1
        return commit_to


class ConsumerLoop:
    def __init__(self, *, bootstrap: str, topic: str, group: str, handler: Handler, max_in_flight: int = 4,
                 session_timeout_ms: int = 10000, max_poll_interval_ms: int = 300000,
                 retry_backoff_s: tuple[float, ...] = (0.5, 1, 2, 5, 10), extra: dict[str, Any] | None = None,
                 consumer_factory: Callable[[dict[str, Any]], Consumer] = Consumer):
        """`consumer_factory` builds the client handle from its configuration (tests pass a fake)."""
        conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": True,
            "auto.commit.interval.ms": 500,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": max(200, session_timeout_ms // 4),
            "max.poll.interval.ms": max_poll_interval_ms,
            # a broker holds a fetch until this much time passed or data arrived; the 500 ms default
            # costs ~0.2 s per pipeline hop on a lightly loaded topic
            "fetch.wait.max.ms": 50,
            # a subscribed topic that does not exist yet (a broker that lost its data: the first publish
            # re-creates it) is looked up again this often; librdkafka's default is 5 minutes
            "topic.metadata.refresh.interval.ms": 5000,
        }
        conf.update(extra or {})
        self.topic, self.group = topic, group
        self._consumer = consumer_factory(conf)
        self._handler = handler
        self._max_in_flight = max_in_flight
        self._backoff = retry_backoff_s
        self._lock = threading.Lock()
        self._trackers: dict[int, _PartitionTracker] = {}
        self._in_flight = 0
        self._paused = False
        self._to_store: list[TopicPartition] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # rebalance callbacks run inside poll(), on the poll thread
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._lock:
            for tp in partitions:
                self._trackers.setdefault(tp.partition, _PartitionTracker())
        log.info("partitions assigned", topic=self.topic, partitions=[tp.partition for tp in partitions])
        if self._paused and partitions:
            consumer.pause(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as exc:
            log.info("commit on revoke skipped", error=str(exc))
        with self._lock:
            for tp in partitions:
                self._trackers.pop(tp.partition, None)
        log.info("partitions revoked", topic=self.topic, partitions=[tp.partition for tp in partitions])

    async def run(self, stop: asyncio.Event) -> None:
        self._consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not stop.is_set():
                msg = await asyncio.to_thread(self._poll_once, 0.1)
                if msg is None:
                    continue
                if msg.error():
                    log.warning("consumer error", error=str(msg.error()))
                    continue
                partition, offset = _position(msg)
                with self._lock:
                    tracker = self._trackers.setdefault(partition, _PartitionTracker())
                    tracker.add(offset)
                    self._in_flight += 1
                CONSUMER_LAG.labels(self.topic, self.group).set(self._in_flight)
                task = asyncio.create_task(self._handle(msg))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            await self._drain()

    def _poll_once(self, timeout_s: float) -> Message | None:
        """On the poll thread: store finished offsets, pause or resume, then poll."""
        self._store_finished()
        self._update_pause()
        return self._consumer.poll(timeout_s)

    def _store_finished(self) -> None:
        with self._lock:
            offsets, self._to_store = self._to_store, []
        if offsets:
            try:
                self._consumer.store_offsets(offsets=offsets)
            except KafkaException as exc:  # partition revoked meanwhile: the new owner redoes it
                log.info("offsets not stored", error=str(exc))

    def _update_pause(self) -> None:
        with self._lock:
            full = self._in_flight >= self._max_in_flight
        if full == self._paused:
            return
        assignment = self._consumer.assignment()
        if full:
            self._consumer.pause(assignment)
        else:
            self._consumer.resume(assignment)
        self._paused = full

    async def _handle(self, msg: Message) -> None:
        start = time.perf_counter()
        outcome = "ok"
        attempt = 0
        while True:
            try:
                await self._handler(msg)
                break
            except PermanentError as exc:
                outcome = "skipped"
                log.error("event skipped", topic=self.topic, offset=msg.offset(), error=str(exc))
                break
            except asyncio.CancelledError:
                self._release(msg, store=False)
                raise
            except Exception as exc:
                delay = self._backoff[min(attempt, len(self._backoff) - 1)]
                attempt += 1
                CONSUMER_EVENTS.labels(self.topic, self.group, "retry").inc()
                log.warning("handler failed, retrying", topic=self.topic, offset=msg.offset(), attempt=attempt,
                            delay_s=delay, error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(delay)
        CONSUMER_PROCESSING.labels(self.topic, self.group).observe(time.perf_counter() - start)
        CONSUMER_EVENTS.labels(self.topic, self.group, outcome).inc()
        self._release(msg, store=True)

    def _release(self, msg: Message, store: bool) -> None:
        partition, offset = _position(msg)
        with self._lock:
            self._in_flight -= 1
            tracker = self._trackers.get(partition)
            commit_to = tracker.finish(offset) if (tracker and store) else None
            if commit_to is not None:  # stored by the poll thread before its next poll
                self._to_store.append(TopicPartition(self.topic, partition, commit_to))
        CONSUMER_LAG.labels(self.topic, self.group).set(self._in_flight)

    async def _drain(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        self._store_finished()
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException:
            pass
        self._consumer.close()
