"""python -m services.aggregator: config -> logging -> metrics -> servicer -> gRPC server (no model, no warm-up:
SERVING at once) -> signals."""

from __future__ import annotations

import asyncio

from picloss.platform.grpcserver import serve
from picloss.platform.observability.logs import setup_logging
from picloss.platform.observability.metrics import start_metrics_server
from picloss.rpc.aggregator.v1 import aggregator_pb2_grpc
from services.aggregator.config import AggregatorConfig
from services.aggregator.servicer import SERVICE, AggregatorServicer


async def main() -> None:
    config = AggregatorConfig.from_env()
    setup_logging("aggregator", config.log_level)
    start_metrics_server(config.metrics_port)
    servicer = AggregatorServicer()
    await serve(
        service_name="aggregator",
        full_service_names=[SERVICE.full_name],
        register=lambda server: aggregator_pb2_grpc.add_AggregatorServiceServicer_to_server(servicer, server),
        port=config.grpc_port,
    )


if __name__ == "__main__":
    asyncio.run(main())
