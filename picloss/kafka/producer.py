"""An asyncio wrapper over confluent-kafka's Producer: `await send()` returns once the broker acked."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer


class BrokerUnavailable(RuntimeError):
    """The event could not be acknowledged by the broker in time."""


class AsyncProducer:
    def __init__(self, bootstrap: str, *, delivery_timeout_ms: int = 5000, extra: dict[str, Any] | None = None):
        conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
            "message.timeout.ms": delivery_timeout_ms,
            "socket.connection.setup.timeout.ms": 3000,
        }
        conf.update(extra or {})
        self._producer = Producer(conf)
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_forever, name="kafka-producer-poll", daemon=True)
        self._poller.start()

    def _poll_forever(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    async def send(self, topic: str, key: str, value: bytes) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def on_delivery(err: KafkaError | None, _msg: Any) -> None:
            def settle() -> None:
                if done.done():
                    return
                if err is not None:
                    done.set_exception(BrokerUnavailable(str(err)))
                else:
                    done.set_result(None)

            loop.call_soon_threadsafe(settle)

        try:
            self._producer.produce(topic, key=key.encode(), value=value, on_delivery=on_delivery)
        except (BufferError, KafkaException) as exc:
            raise BrokerUnavailable(str(exc)) from exc
        await done

    def close(self, timeout_s: float = 5.0) -> None:
        self._producer.flush(timeout_s)
        self._stop.set()
        self._poller.join(timeout=2)
