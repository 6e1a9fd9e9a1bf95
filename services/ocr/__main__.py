"""python -m services.ocr: config -> logging -> metrics -> servicer -> gRPC server (SERVING after the servicer's
warm-up, which makes and warms the engines) -> signals."""

from __future__ import annotations

import asyncio
import functools

from picloss.engines.ocr.engine import OcrEngine
from picloss.platform.grpcserver import serve
from picloss.platform.observability.logs import setup_logging
from picloss.platform.observability.metrics import start_metrics_server
from picloss.rpc.ocr.v1 import ocr_pb2_grpc
from services.ocr.config import OcrConfig
from services.ocr.servicer import SERVICE, OcrServicer


async def main() -> None:
    config = OcrConfig.from_env()
    setup_logging("ocr", config.log_level)
    start_metrics_server(config.metrics_port)
    servicer = OcrServicer(red_for_driving=config.red_channel_driving, max_pixels=config.max_pixels,
                           make_engine=functools.partial(OcrEngine, config.ort_threads, config.det_side),
                           workers=config.workers)
    try:
        await serve(service_name="ocr", full_service_names=[SERVICE.full_name],
                    register=lambda server: ocr_pb2_grpc.add_OcrServiceServicer_to_server(servicer, server),
                    port=config.grpc_port, ready=servicer.warm_up)
    finally:
        await servicer.close()


if __name__ == "__main__":
    asyncio.run(main())
