"""Damage service settings, from the environment, parsed once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from picloss.engines.damage.detector import DEFAULT_SCORE_THRESHOLD
from picloss.engines.damage.gate import DAMAGE_THRESHOLD
from picloss.engines.damage.vehicles import DEFAULT_SCORE_THRESHOLD as CAR_SCORE_THRESHOLD
from picloss.engines.damage.verifier import CANDIDATE_THRESHOLD, DEFAULT_MIN_CONFIDENCE
from picloss.platform.config import env_bool, env_float, env_int, env_optional, env_str
from picloss.platform.imaging import DEFAULT_MAX_PIXELS
from picloss.platform.inference.runner import DEFAULT_MODELS_DIR, DEFAULT_ORT_THREADS
from picloss.platform.inference.versions import parse_versions
from picloss.platform.processes import BY_NAME

PROCESS = BY_NAME["damage"]  # its default ports: picloss/platform/processes.py


@dataclass(frozen=True)
class DamageConfig:
    grpc_port: int
    metrics_port: int
    log_level: str
    triton_url: str | None
    models_dir: Path
    ort_threads: int  # onnxruntime intra-op threads of each in-process model
    max_pixels: int  # photos declaring more pixels are not decoded (as the orchestrator's MAX_PIXELS)
    score_threshold: float
    damage_gate: bool  # photo-level damage gate (models/damage_gate)
    damage_gate_threshold: float
    car_gate: bool  # COCO vehicle detector (models/car_detector)
    car_score_threshold: float
    view_model: bool  # sides from the pose of the vehicle of interest (models/view_classifier; needs CAR_GATE)
    verifier: bool  # every candidate box verified on its crop (models/damage_verifier)
    min_confidence: float  # the operating point: damages with a lower existence confidence are not reported
    model_versions: dict[str, str]  # PICLOSS_MODEL_VERSIONS pins (picloss/platform/inference/versions.py)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DamageConfig:
        verifier = env_bool("DAMAGE_VERIFIER", True, env)
        # With the verifier the detector only proposes candidates; without it its own threshold decides.
        threshold = env_float("DAMAGE_SCORE_THRESHOLD", CANDIDATE_THRESHOLD if verifier else DEFAULT_SCORE_THRESHOLD,
                              env, minimum=0.0)
        return cls(
            grpc_port=env_int("GRPC_PORT", PROCESS.port or 0, env, minimum=0),
            metrics_port=env_int("METRICS_PORT", PROCESS.metrics_port, env, minimum=0),
            log_level=env_str("LOG_LEVEL", "INFO", env),
            triton_url=env_optional("TRITON_URL", env),
            models_dir=Path(env_str("PICLOSS_MODELS_DIR", str(DEFAULT_MODELS_DIR), env)),
            ort_threads=env_int("PICLOSS_ORT_THREADS", DEFAULT_ORT_THREADS, env, minimum=1),
            max_pixels=env_int("DAMAGE_MAX_PIXELS", DEFAULT_MAX_PIXELS, env, minimum=1),
            score_threshold=min(threshold, 1.0),
            damage_gate=env_bool("DAMAGE_GATE", True, env),
            damage_gate_threshold=min(env_float("DAMAGE_GATE_THRESHOLD", DAMAGE_THRESHOLD, env, minimum=0.0), 1.0),
            car_gate=env_bool("CAR_GATE", True, env),
            car_score_threshold=min(env_float("CAR_SCORE_THRESHOLD", CAR_SCORE_THRESHOLD, env, minimum=0.0), 1.0),
            view_model=env_bool("VIEW_MODEL", True, env),
            verifier=verifier,
            min_confidence=min(env_float("DAMAGE_MIN_CONFIDENCE", DEFAULT_MIN_CONFIDENCE, env, minimum=0.0), 1.0),
            model_versions=parse_versions(env_str("PICLOSS_MODEL_VERSIONS", "", env)),
        )
