"""python -m services.ocr: config -> logging -> engines (warm) -> gRPC server -> signals."""

from __future__ import annotations

import asyncio

import grpc

from picloss.grpcserver import serve
from picloss.observability.logs import setup_logging
from picloss.observability.metrics import start_metrics_server
from picloss.ocr.engine import OcrEngine
from picloss.ocr.v1 import ocr_pb2, ocr_pb2_grpc
from services.ocr.config import OcrConfig
from services.ocr.servicer import OcrServicer


async def main() -> None:
    config = OcrConfig.from_env()
    log = setup_logging("ocr", config.log_level)
    start_metrics_server(config.metrics_port)
    servicer = OcrServicer(red_for_driving=config.red_channel_driving, max_pixels=config.max_pixels)

    def register(server: grpc.aio.Server) -> None:
        ocr_pb2_grpc.add_OcrServiceServicer_to_server(servicer, server)

    async def ready() -> None:
        for _ in range(config.workers):
            engine = await asyncio.to_thread(OcrEngine, config.ort_threads, config.det_side)
            await asyncio.to_thread(engine.warm_up)
            servicer.add_engine(engine)
        log.info("ocr engines warm", workers=config.workers, det_side=config.det_side)

    await serve(service_name="ocr", full_service_names=[ocr_pb2.DESCRIPTOR.services_by_name["OcrService"].full_name],
                register=register, port=config.grpc_port, ready=ready)


if __name__ == "__main__":
    asyncio.run(main())
