"""python -m services.damage: config -> logging -> model runner -> gRPC server (SERVING after warm-up)."""

from __future__ import annotations

import asyncio

import numpy as np

from picloss.damage.v1 import damage_pb2, damage_pb2_grpc
from picloss.grpcserver import serve
from picloss.inference import make_runner
from picloss.observability.logs import setup_logging
from picloss.observability.metrics import start_metrics_server
from services.damage.config import DamageConfig
from services.damage.detector import DamageDetector
from services.damage.model_spec import DAMAGE_DETECTOR
from services.damage.servicer import DamageServicer


async def main() -> None:
    config = DamageConfig.from_env()
    log = setup_logging("damage", config.log_level)
    start_metrics_server(config.metrics_port)
    runner = make_runner(DAMAGE_DETECTOR, triton_url=config.triton_url, models_dir=config.models_dir)
    detector = DamageDetector(runner, config.score_threshold)
    servicer = DamageServicer(detector, model_version=f"{DAMAGE_DETECTOR.name}/{DAMAGE_DETECTOR.version}")

    async def warm_up() -> None:
        wait_ready = getattr(runner, "wait_ready", None)
        if wait_ready is not None:
            await wait_ready()
        await detector.detect([np.full((480, 640, 3), 128, dtype=np.uint8)])
        log.info("model warmed up", backend=runner.backend)

    try:
        await serve(
            service_name="damage",
            full_service_names=[damage_pb2.DESCRIPTOR.services_by_name["DamageService"].full_name],
            register=lambda server: damage_pb2_grpc.add_DamageServiceServicer_to_server(servicer, server),
            port=config.grpc_port,
            ready=warm_up,
        )
    finally:
        await runner.close()


if __name__ == "__main__":
    asyncio.run(main())
