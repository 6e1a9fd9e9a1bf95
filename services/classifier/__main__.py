"""python -m services.classifier: config -> logging -> metrics -> runner -> servicer -> gRPC server (SERVING after
the servicer's warm-up) -> signals."""

from __future__ import annotations

import asyncio

from picloss.engines.models.photo_classifier import PHOTO_CLASSIFIER
from picloss.platform.grpcserver import serve
from picloss.platform.inference import make_runner
from picloss.platform.observability.logs import setup_logging
from picloss.platform.observability.metrics import start_metrics_server
from picloss.rpc.classifier.v1 import classifier_pb2_grpc
from services.classifier.config import ClassifierConfig
from services.classifier.servicer import SERVICE, ClassifierServicer


async def main() -> None:
    config = ClassifierConfig.from_env()
    setup_logging("classifier", config.log_level)
    start_metrics_server(config.metrics_port)
    runner = make_runner(PHOTO_CLASSIFIER, triton_url=config.triton_url, models_dir=config.models_dir,
                         threads=config.ort_threads, versions=config.model_versions)
    servicer = ClassifierServicer(runner, config.max_pixels)
    try:
        await serve(service_name="classifier", full_service_names=[SERVICE.full_name],
                    register=lambda server: classifier_pb2_grpc.add_ClassifierServiceServicer_to_server(
                        servicer, server),
                    port=config.grpc_port, ready=servicer.warm_up)
    finally:
        await servicer.close()


if __name__ == "__main__":
    asyncio.run(main())
