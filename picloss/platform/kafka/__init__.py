"""Kafka: the async producer and the one at-least-once consumer loop every consumer uses."""

from picloss.platform.kafka.consumer import ConsumerLoop, PermanentError
from picloss.platform.kafka.producer import AsyncProducer, BrokerUnavailable

REQUESTS_TOPIC = "picloss.requests.v1"
RESULTS_TOPIC = "picloss.results.v1"

__all__ = ["REQUESTS_TOPIC", "RESULTS_TOPIC", "AsyncProducer", "BrokerUnavailable", "ConsumerLoop",
           "PermanentError"]
