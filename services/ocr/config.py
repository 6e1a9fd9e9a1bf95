"""OCR service settings from the environment, parsed once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from picloss.platform.config import env_bool, env_int, env_str
from picloss.platform.imaging import DEFAULT_MAX_PIXELS
from picloss.platform.inference.runner import DEFAULT_ORT_THREADS
from picloss.platform.processes import BY_NAME

PROCESS = BY_NAME["ocr"]  # its default ports: picloss/platform/processes.py


@dataclass(frozen=True)
class OcrConfig:
    grpc_port: int
    metrics_port: int
    log_level: str
    ort_threads: int
    det_side: int
    workers: int
    red_channel_driving: bool
    max_pixels: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OcrConfig:
        return cls(
            grpc_port=env_int("GRPC_PORT", PROCESS.port or 0, env, minimum=0),
            metrics_port=env_int("METRICS_PORT", PROCESS.metrics_port, env, minimum=0),
            log_level=env_str("LOG_LEVEL", "INFO", env),
            ort_threads=env_int("PICLOSS_ORT_THREADS", DEFAULT_ORT_THREADS, env, minimum=1),
            det_side=env_int("OCR_DET_SIDE", 736, env, minimum=320),
            workers=env_int("OCR_WORKERS", 1, env, minimum=1),
            red_channel_driving=env_bool("OCR_RED_CHANNEL_DRIVING", True, env),
            max_pixels=env_int("OCR_MAX_PIXELS", DEFAULT_MAX_PIXELS, env, minimum=1),
        )
