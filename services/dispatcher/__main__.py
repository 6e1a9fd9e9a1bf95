"""python -m services.dispatcher: config → logging → ledger → consumer + delivery loop → signals."""

from __future__ import annotations

import asyncio
import signal

from picloss.platform.health import HealthServer
from picloss.platform.kafka import ConsumerLoop
from picloss.platform.ledger import Ledger
from picloss.platform.ledger.sealing import DataKeys
from picloss.platform.observability.logs import setup_logging
from picloss.protocol.keys import KeyStore
from services.dispatcher.config import DispatcherConfig
from services.dispatcher.delivery import Dispatcher
from services.dispatcher.handler import ResultHandler
from services.dispatcher.reconcile import purge_forever, reconcile_forever


async def run(config: DispatcherConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    keys = KeyStore.from_file(config.keys_file)
    ledger = await Ledger.connect(config.database_url)
    dispatcher = Dispatcher(ledger=ledger, keys=keys, data_keys=DataKeys.from_file(config.data_keys_file),
                            retry_delays_s=config.retry_delays_s,
                            timeout_s=config.callback_timeout_s, allow=config.callback_allow,
                            concurrency=config.concurrency)
    consumer = ConsumerLoop(bootstrap=config.kafka_bootstrap, topic=config.results_topic, group=config.group,
                            handler=ResultHandler(ledger, dispatcher), max_in_flight=32,
                            session_timeout_ms=config.session_timeout_ms)
    health = HealthServer(config.metrics_port, ready=ledger.ping)
    await health.start()
    try:
        await asyncio.gather(consumer.run(stop), dispatcher.run(stop), reconcile_forever(ledger, dispatcher, 30, stop),
                             purge_forever(ledger, retention_s=config.retention_s, every_s=config.purge_every_s,
                                           batch=config.purge_batch, stop=stop))
    finally:
        await health.stop()
        await ledger.close()


def main() -> None:
    config = DispatcherConfig.from_env()
    setup_logging("dispatcher", config.log_level)
    asyncio.run(run(config))


if __name__ == "__main__":
    main()
