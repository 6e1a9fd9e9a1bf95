"""ConsumerLoop against a fake confluent Consumer handle (no broker).

The fake behaves like the client where the loop relies on it: rebalance callbacks run inside
poll(), paused partitions deliver nothing, commit() commits what store_offsets() stored. It records
every call and the thread it came from.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from picloss.platform.kafka import ConsumerLoop, PermanentError
from picloss.platform.observability.metrics import CONSUMER_EVENTS

TOPIC = "picloss.test.v1"


class FakeMessage:
    def __init__(self, partition: int, offset: int, value: bytes = b"", error: Any = None) -> None:
        self._partition, self._offset, self._value, self._error = partition, offset, value, error

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value

    def error(self) -> Any:
        return self._error

    def topic(self) -> str:
        return TOPIC


class FakeConsumer:
    def __init__(self, conf: dict[str, Any], partitions: tuple[int, ...] = (0,)) -> None:
        self.conf = conf
        self._lock = threading.Lock()
        self._initial = [TopicPartition(TOPIC, p) for p in partitions]
        self._rebalances: list[tuple[str, list[TopicPartition]]] = []
        self._messages: list[FakeMessage] = []
        self.assigned: set[int] = set()
        self.paused: set[int] = set()
        self.stored: dict[int, int] = {}
        self.committed: dict[int, int] = {}
        self.calls: list[tuple[str, Any, int]] = []   # (method, argument, thread id)
        self.polls = 0
        self.commit_error: KafkaException | None = None
        self.closed = False
        self._on_assign: Callable[..., None] | None = None
        self._on_revoke: Callable[..., None] | None = None

    def _record(self, name: str, arg: Any = None) -> None:
        self.calls.append((name, arg, threading.get_ident()))

    # test side
    def feed(self, *messages: FakeMessage) -> None:
        with self._lock:
            self._messages.extend(messages)

    def revoke(self, *partitions: int) -> None:
        with self._lock:
            self._rebalances.append(("revoke", [TopicPartition(TOPIC, p) for p in partitions]))

    def assign(self, *partitions: int) -> None:
        with self._lock:
            self._rebalances.append(("assign", [TopicPartition(TOPIC, p) for p in partitions]))

    def called(self, name: str) -> list[Any]:
        return [arg for n, arg, _ in self.calls if n == name]

    # the confluent_kafka.Consumer surface the loop uses
    def subscribe(self, topics: list[str], on_assign: Callable[..., None], on_revoke: Callable[..., None]) -> None:
        self._record("subscribe", topics)
        self._on_assign, self._on_revoke = on_assign, on_revoke
        self._rebalances.append(("assign", self._initial))

    def poll(self, timeout: float) -> FakeMessage | None:
        self._record("poll")
        self.polls += 1
        with self._lock:
            rebalances, self._rebalances = self._rebalances, []
        for kind, tps in rebalances:   # the client runs rebalance callbacks inside poll()
            if kind == "assign":
                self.assigned |= {tp.partition for tp in tps}
                assert self._on_assign is not None
                self._on_assign(self, tps)
            else:
                assert self._on_revoke is not None
                self._on_revoke(self, tps)
                self.assigned -= {tp.partition for tp in tps}
                self.paused -= {tp.partition for tp in tps}
        with self._lock:
            for i, msg in enumerate(self._messages):
                if msg.partition() in self.assigned and msg.partition() not in self.paused:
                    return self._messages.pop(i)
        time.sleep(min(timeout, 0.005))
        return None

    def store_offsets(self, offsets: list[TopicPartition]) -> None:
        self._record("store_offsets", [(tp.partition, tp.offset) for tp in offsets])
        for tp in offsets:
            self.stored[tp.partition] = tp.offset

    def commit(self, asynchronous: bool = True) -> None:
        self._record("commit", asynchronous)
        if self.commit_error is not None:
            raise self.commit_error
        self.committed.update(self.stored)

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, p) for p in sorted(self.assigned)]

    def pause(self, partitions: list[TopicPartition]) -> None:
        self._record("pause", sorted(tp.partition for tp in partitions))
        self.paused |= {tp.partition for tp in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self._record("resume", sorted(tp.partition for tp in partitions))
        self.paused -= {tp.partition for tp in partitions}

    def close(self) -> None:
        self._record("close")
        self.closed = True


async def until(cond: Callable[[], bool], within_s: float = 3.0) -> None:
    deadline = time.monotonic() + within_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def polls_pass(fake: FakeConsumer, n: int = 5) -> None:
    """Let the poll thread run `n` more rounds (each stores what finished before it polls)."""
    target = fake.polls + n
    await until(lambda: fake.polls >= target)


class Gates:
    """A handler whose every call waits until the test opens the gate of that (partition, offset)."""

    def __init__(self) -> None:
        self.gates: dict[tuple[int, int], asyncio.Event] = {}
        self.started: list[tuple[int, int]] = []

    def gate(self, partition: int, offset: int) -> asyncio.Event:
        return self.gates.setdefault((partition, offset), asyncio.Event())

    async def __call__(self, msg: Any) -> None:
        self.started.append((msg.partition(), msg.offset()))
        await self.gate(msg.partition(), msg.offset()).wait()


def events(group: str, outcome: str) -> float:
    value: float = CONSUMER_EVENTS.labels(TOPIC, group, outcome)._value.get()
    return value


def test_the_handle_gets_the_at_least_once_configuration() -> None:
    confs: list[dict[str, Any]] = []
    ConsumerLoop(bootstrap="b:1", topic=TOPIC, group="g-conf", handler=Gates(),
                 extra={"fetch.wait.max.ms": 10, "client.id": "x"},
                 consumer_factory=lambda conf: confs.append(conf) or FakeConsumer(conf))
    [conf] = confs
    assert conf["bootstrap.servers"] == "b:1" and conf["group.id"] == "g-conf"
    assert conf["enable.auto.offset.store"] is False
    assert conf["partition.assignment.strategy"] == "cooperative-sticky"
    assert conf["fetch.wait.max.ms"] == 10 and conf["client.id"] == "x"   # extra overrides and adds


async def _run(handler: Callable[[Any], Awaitable[None]], *, group: str, partitions: tuple[int, ...] = (0,),
               **kwargs: Any) -> tuple[FakeConsumer, asyncio.Event, asyncio.Task[None]]:
    fakes: list[FakeConsumer] = []

    def factory(conf: dict[str, Any]) -> FakeConsumer:
        fakes.append(FakeConsumer(conf, partitions))
        return fakes[-1]

    loop = ConsumerLoop(bootstrap="fake:9092", topic=TOPIC, group=group, handler=handler,
                        consumer_factory=factory, **kwargs)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await until(lambda: bool(fakes[0].assigned))
    return fakes[0], stop, task


async def _stop(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_offsets_are_stored_in_order_per_partition_from_the_poll_thread() -> None:
    handler = Gates()
    fake, stop, task = await _run(handler, group="g-order", partitions=(0, 1), max_in_flight=10)
    try:
        fake.feed(FakeMessage(0, 0), FakeMessage(0, 1), FakeMessage(0, 2),
                  FakeMessage(0, 3, error=KafkaError(KafkaError._PARTITION_EOF)), FakeMessage(1, 5))
        await until(lambda: len(handler.started) == 4)
        assert sorted(handler.started) == [(0, 0), (0, 1), (0, 2), (1, 5)]   # the error event is not handled

        handler.gate(0, 2).set()
        handler.gate(1, 5).set()
        await until(lambda: fake.stored.get(1) == 6)   # partition 1 does not wait for partition 0
        await polls_pass(fake)
        assert 0 not in fake.stored                     # 2 finished, but 0 and 1 are still in flight

        handler.gate(0, 0).set()
        await until(lambda: fake.stored.get(0) == 1)
        handler.gate(0, 1).set()
        await until(lambda: fake.stored.get(0) == 3)    # 1 done and 2 was done: jump past both
        assert [offs for offs in fake.called("store_offsets") if offs[0][0] == 0] == [[(0, 1)], [(0, 3)]]
    finally:
        await _stop(stop, task)
    loop_thread = threading.get_ident()
    handle_calls = [(n, tid) for n, _, tid in fake.calls if n in ("poll", "store_offsets", "pause", "resume")]
    assert handle_calls and all(tid != loop_thread for _, tid in handle_calls)
    assert fake.committed == {0: 3, 1: 6} and fake.closed


async def test_partitions_pause_at_max_in_flight_and_resume_below_it() -> None:
    handler = Gates()
    fake, stop, task = await _run(handler, group="g-pause", partitions=(0, 1), max_in_flight=2)
    try:
        fake.feed(FakeMessage(0, 0), FakeMessage(1, 0), FakeMessage(0, 1))
        await until(lambda: fake.called("pause") == [[0, 1]])
        await polls_pass(fake)
        assert len(handler.started) == 2 and fake.paused == {0, 1}   # the third waits in the client
        assert fake.called("resume") == []

        fake.assign(2)                                  # a partition assigned while paused starts paused
        await until(lambda: 2 in fake.assigned)
        assert fake.called("pause")[-1] == [2] and 2 in fake.paused

        handler.gate(0, 0).set()
        await until(lambda: len(handler.started) == 3)
        assert fake.called("resume")[0] == [0, 1, 2]
        assert handler.started[-1] == (0, 1)
        await until(lambda: len(fake.called("pause")) == 3)   # full again: 2 in flight
    finally:
        handler.gate(1, 0).set()
        handler.gate(0, 1).set()
        await _stop(stop, task)
    assert fake.committed == {0: 2, 1: 1}


async def test_a_failing_handler_is_retried_with_backoff_and_never_skipped() -> None:
    calls: list[float] = []

    async def flaky(msg: Any) -> None:
        calls.append(time.monotonic())
        if len(calls) <= 3:
            raise RuntimeError("ledger down")

    retries_before = events("g-retry", "retry")
    fake, stop, task = await _run(flaky, group="g-retry", retry_backoff_s=(0.05, 0.3))
    try:
        fake.feed(FakeMessage(0, 7))
        await until(lambda: len(calls) == 2)
        await polls_pass(fake)
        assert fake.stored == {}                         # failed: not stored
        await until(lambda: fake.stored.get(0) == 8)
    finally:
        await _stop(stop, task)
    assert len(calls) == 4                               # three failures, then the success
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.3 and gaps[2] >= 0.3   # the last delay repeats
    assert events("g-retry", "retry") - retries_before == 3


async def test_a_permanent_error_is_skipped_once_counted_and_its_offset_stored() -> None:
    seen: list[int] = []

    async def handler(msg: Any) -> None:
        seen.append(msg.offset())
        if msg.value() == b"bad":
            raise PermanentError("undecodable")

    skipped_before, ok_before = events("g-perm", "skipped"), events("g-perm", "ok")
    fake, stop, task = await _run(handler, group="g-perm", retry_backoff_s=(0.01,))
    try:
        fake.feed(FakeMessage(0, 0, b"bad"), FakeMessage(0, 1, b"good"))
        await until(lambda: fake.stored.get(0) == 2)
        await polls_pass(fake)
    finally:
        await _stop(stop, task)
    assert sorted(seen) == [0, 1]                        # no retry of the permanent failure
    assert events("g-perm", "skipped") - skipped_before == 1
    assert events("g-perm", "ok") - ok_before == 1


@pytest.mark.parametrize("commit_fails", [False, True])
async def test_revocation_commits_and_forgets_the_partition(commit_fails: bool) -> None:
    handler = Gates()
    fake, stop, task = await _run(handler, group="g-revoke", partitions=(0, 1), max_in_flight=10)
    try:
        fake.feed(FakeMessage(0, 0), FakeMessage(0, 1), FakeMessage(1, 0))
        await until(lambda: len(handler.started) == 3)
        handler.gate(0, 0).set()
        await until(lambda: fake.stored.get(0) == 1)
        if commit_fails:                                 # e.g. nothing to commit: logged, revocation goes on
            fake.commit_error = KafkaException(KafkaError(KafkaError._NO_OFFSET))
        commits_before = len(fake.called("commit"))
        fake.revoke(0)
        await until(lambda: 0 not in fake.assigned)
        assert fake.called("commit")[commits_before:] == [False]   # synchronous commit inside on_revoke
        if not commit_fails:
            assert fake.committed == {0: 1}

        handler.gate(0, 1).set()                         # finishes after revocation: the new owner redoes it
        handler.gate(1, 0).set()
        await until(lambda: fake.stored.get(1) == 1)     # the kept partition goes on
        await polls_pass(fake)
        assert fake.stored[0] == 1
        fake.commit_error = None
    finally:
        await _stop(stop, task)
    assert fake.committed == {0: 1, 1: 1}


async def test_stop_cancels_in_flight_handlers_without_storing_them_then_commits_and_closes() -> None:
    handler = Gates()
    fake, stop, task = await _run(handler, group="g-stop", max_in_flight=10)
    fake.feed(FakeMessage(0, 0), FakeMessage(0, 1))
    await until(lambda: len(handler.started) == 2)
    handler.gate(0, 0).set()
    await until(lambda: fake.stored.get(0) == 1)
    await _stop(stop, task)                              # offset 1 is still in its handler
    assert fake.stored == {0: 1} and fake.committed == {0: 1}
    assert [n for n, _, _ in fake.calls][-2:] == ["commit", "close"]
