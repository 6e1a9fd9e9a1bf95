"""Classifier service settings from the environment, parsed once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from picloss.platform.config import env_int, env_optional, env_str
from picloss.platform.imaging import DEFAULT_MAX_PIXELS
from picloss.platform.inference.runner import DEFAULT_MODELS_DIR, DEFAULT_ORT_THREADS
from picloss.platform.inference.versions import parse_versions
from picloss.platform.processes import BY_NAME

PROCESS = BY_NAME["classifier"]  # its default ports: picloss/platform/processes.py


@dataclass(frozen=True)
class ClassifierConfig:
    grpc_port: int
    metrics_port: int
    log_level: str
    triton_url: str | None
    models_dir: Path
    ort_threads: int
    max_pixels: int
    model_versions: dict[str, str]  # PICLOSS_MODEL_VERSIONS pins (picloss/platform/inference/versions.py)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClassifierConfig:
        return cls(
            grpc_port=env_int("GRPC_PORT", PROCESS.port or 0, env, minimum=0),
            metrics_port=env_int("METRICS_PORT", PROCESS.metrics_port, env, minimum=0),
            log_level=env_str("LOG_LEVEL", "INFO", env),
            triton_url=env_optional("TRITON_URL", env),
            models_dir=Path(env_str("PICLOSS_MODELS_DIR", str(DEFAULT_MODELS_DIR), env)),
            ort_threads=env_int("PICLOSS_ORT_THREADS", DEFAULT_ORT_THREADS, env, minimum=1),
            max_pixels=env_int("CLASSIFIER_MAX_PIXELS", DEFAULT_MAX_PIXELS, env, minimum=1),
            model_versions=parse_versions(env_str("PICLOSS_MODEL_VERSIONS", "", env)),
        )
