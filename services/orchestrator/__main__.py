"""python -m services.orchestrator: config → logging → clients → consumer loop → signals."""

from __future__ import annotations

import asyncio
import signal

from picloss.engines.pipeline.clients import ModelClients
from picloss.engines.pipeline.fetch import PhotoFetcher
from picloss.engines.pipeline.pipeline import Pipeline
from picloss.platform.health import HealthServer
from picloss.platform.kafka import AsyncProducer, ConsumerLoop
from picloss.platform.ledger import Ledger
from picloss.platform.ledger.sealing import DataKeys
from picloss.platform.observability.logs import setup_logging
from services.orchestrator.config import OrchestratorConfig
from services.orchestrator.handler import RequestHandler
from services.orchestrator.redrive import redrive_forever


async def run(config: OrchestratorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    data_keys = DataKeys.from_file(config.data_keys_file)
    ledger = await Ledger.connect(config.database_url)
    producer = AsyncProducer(config.kafka_bootstrap)
    clients = ModelClients(classifier=config.classifier_addr, ocr=config.ocr_addr, damage=config.damage_addr,
                           aggregator=config.aggregator_addr, timeout_s=config.rpc_timeout_s,
                           retry_budget_s=config.rpc_retry_budget_s)
    health = HealthServer(config.metrics_port, ready=ledger.ping)
    await health.start()
    try:
        async with PhotoFetcher(allow=config.fetch_allow, timeout_s=config.fetch_timeout_s,
                                max_bytes=config.fetch_max_bytes) as fetcher:
            pipeline = Pipeline(clients=clients, fetcher=fetcher, max_pixels=config.max_pixels,
                                fetch_concurrency=config.fetch_concurrency, damage_batch=config.damage_batch)
            handler = RequestHandler(ledger=ledger, data_keys=data_keys, producer=producer, pipeline=pipeline,
                                     results_topic=config.results_topic, heartbeat_s=config.redrive_after_s / 4)
            consumer = ConsumerLoop(bootstrap=config.kafka_bootstrap, topic=config.requests_topic,
                                    group=config.group, handler=handler, max_in_flight=config.max_in_flight,
                                    session_timeout_ms=config.session_timeout_ms)
            await asyncio.gather(consumer.run(stop), redrive_forever(
                ledger, producer, config.requests_topic, after_s=config.redrive_after_s,
                every_s=config.redrive_every_s, limit=config.redrive_batch, stop=stop))
    finally:
        await health.stop()
        await clients.close()
        await asyncio.to_thread(producer.close)
        await ledger.close()


def main() -> None:
    config = OrchestratorConfig.from_env()
    setup_logging("orchestrator", config.log_level)
    asyncio.run(run(config))


if __name__ == "__main__":
    main()
