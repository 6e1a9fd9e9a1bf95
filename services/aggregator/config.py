"""Aggregator service settings, from the environment, parsed once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from picloss.platform.config import env_int, env_str
from picloss.platform.processes import BY_NAME

PROCESS = BY_NAME["aggregator"]  # its default ports: picloss/platform/processes.py


@dataclass(frozen=True)
class AggregatorConfig:
    grpc_port: int
    metrics_port: int
    log_level: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AggregatorConfig:
        return cls(
            grpc_port=env_int("GRPC_PORT", PROCESS.port or 0, env, minimum=0),
            metrics_port=env_int("METRICS_PORT", PROCESS.metrics_port, env, minimum=0),
            log_level=env_str("LOG_LEVEL", "INFO", env),
        )
