"""python -m services.classifier: config -> logging -> model runner (warm) -> gRPC server -> signals."""

from __future__ import annotations

import asyncio

import grpc
import numpy as np

from picloss.classifier.classify import classify
from picloss.classifier.v1 import classifier_pb2, classifier_pb2_grpc
from picloss.grpcserver import serve
from picloss.inference import TritonRunner, make_runner
from picloss.models.photo_classifier import PHOTO_CLASSIFIER
from picloss.observability.logs import setup_logging
from picloss.observability.metrics import start_metrics_server
from services.classifier.config import ClassifierConfig
from services.classifier.servicer import ClassifierServicer


async def main() -> None:
    config = ClassifierConfig.from_env()
    log = setup_logging("classifier", config.log_level)
    start_metrics_server(config.metrics_port)
    runner = make_runner(PHOTO_CLASSIFIER, triton_url=config.triton_url or "", models_dir=config.models_dir,
                         threads=config.ort_threads)

    def register(server: grpc.aio.Server) -> None:
        classifier_pb2_grpc.add_ClassifierServiceServicer_to_server(
            ClassifierServicer(runner, config.max_pixels), server)

    async def ready() -> None:
        if isinstance(runner, TritonRunner):
            await runner.wait_ready()
        await classify(runner, [np.zeros((240, 320, 3), np.uint8)])
        log.info("classifier warm", backend=runner.backend)

    try:
        await serve(service_name="classifier",
                    full_service_names=[classifier_pb2.DESCRIPTOR.services_by_name["ClassifierService"].full_name],
                    register=register, port=config.grpc_port, ready=ready)
    finally:
        await runner.close()


if __name__ == "__main__":
    asyncio.run(main())
