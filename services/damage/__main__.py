"""python -m services.damage: config -> logging -> metrics -> runners -> servicer -> gRPC server (SERVING after
the servicer's warm-up) -> signals."""

from __future__ import annotations

import asyncio

from picloss.engines.damage.assess import DamageAssessor
from picloss.engines.damage.detector import DamageDetector
from picloss.engines.models import car_detector, damage_gate, damage_verifier, view_classifier
from picloss.engines.models.damage_detector import DAMAGE_DETECTOR
from picloss.platform.grpcserver import serve
from picloss.platform.inference import ModelRunner, ModelSpec, make_runner
from picloss.platform.observability.logs import setup_logging
from picloss.platform.observability.metrics import start_metrics_server
from picloss.rpc.damage.v1 import damage_pb2_grpc
from services.damage.config import DamageConfig
from services.damage.servicer import SERVICE, DamageServicer


async def main() -> None:
    config = DamageConfig.from_env()
    setup_logging("damage", config.log_level)
    start_metrics_server(config.metrics_port)

    def runner_for(spec: ModelSpec) -> ModelRunner:
        return make_runner(spec, triton_url=config.triton_url, models_dir=config.models_dir,
                           threads=config.ort_threads, versions=config.model_versions)

    runner = runner_for(DAMAGE_DETECTOR)
    gate_runner = runner_for(damage_gate.GATE_SPEC) if config.damage_gate else None
    car_runner = runner_for(car_detector.CAR_DETECTOR) if config.car_gate else None
    view_runner = runner_for(view_classifier.VIEW_SPEC) if config.view_model and config.car_gate else None
    verifier_runner = runner_for(damage_verifier.VERIFIER_SPEC) if config.verifier else None
    runners = [r for r in (runner, gate_runner, car_runner, view_runner, verifier_runner) if r is not None]
    assessor = DamageAssessor.from_runners(
        DamageDetector(runner, config.score_threshold), gate_runner=gate_runner,
        gate_threshold=config.damage_gate_threshold, car_runner=car_runner, car_threshold=config.car_score_threshold,
        view_runner=view_runner, verifier_runner=verifier_runner, min_confidence=config.min_confidence)
    servicer = DamageServicer(assessor, runners=runners, max_pixels=config.max_pixels)
    try:
        await serve(service_name="damage", full_service_names=[SERVICE.full_name],
                    register=lambda server: damage_pb2_grpc.add_DamageServiceServicer_to_server(servicer, server),
                    port=config.grpc_port, ready=servicer.warm_up)
    finally:
        await servicer.close()


if __name__ == "__main__":
    asyncio.run(main())
