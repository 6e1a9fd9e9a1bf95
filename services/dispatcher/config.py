"""Dispatcher settings, from the environment only (see services/dispatcher/README.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from picloss.platform.config import ConfigError, env_float, env_int, env_list, env_str
from picloss.platform.kafka import RESULTS_TOPIC
from picloss.platform.netguard import Network, parse_cidrs
from picloss.platform.processes import BY_NAME

DEFAULT_DELAYS = "15,30,180,600,1200,1800"
DEFAULT_RETENTION_DAYS = 30.0  # kept for reconciliation after delivery; docs/privacy.md
MAX_RETRIES = 6  # PROTOCOL §1: at most 6 retries, 7 attempts in all

PROCESS = BY_NAME["dispatcher"]  # its default ports: picloss/platform/processes.py


@dataclass(frozen=True)
class DispatcherConfig:
    database_url: str
    data_keys_file: str
    kafka_bootstrap: str
    results_topic: str
    group: str
    keys_file: str
    retry_delays_s: tuple[float, ...]
    callback_timeout_s: float
    callback_allow: tuple[Network, ...]
    concurrency: int
    retention_s: float
    purge_every_s: float
    purge_batch: int
    session_timeout_ms: int
    metrics_port: int
    log_level: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DispatcherConfig:
        raw = env_list("CALLBACK_RETRY_DELAYS", DEFAULT_DELAYS, env)
        try:
            delays = tuple(float(x) for x in raw)
        except ValueError as exc:
            raise ConfigError(f"CALLBACK_RETRY_DELAYS={','.join(raw)!r}: comma-separated seconds") from exc
        if len(delays) > MAX_RETRIES or any(d < 0 for d in delays):
            raise ConfigError(f"CALLBACK_RETRY_DELAYS: at most {MAX_RETRIES} non-negative delays")
        return cls(
            database_url=env_str("DATABASE_URL", None, env),
            data_keys_file=env_str("PICLOSS_DATA_KEYS_FILE", None, env),
            kafka_bootstrap=env_str("KAFKA_BOOTSTRAP_SERVERS", None, env),
            results_topic=env_str("KAFKA_RESULTS_TOPIC", RESULTS_TOPIC, env),
            group=env_str("KAFKA_GROUP", "picloss-dispatcher", env),
            keys_file=env_str("PICLOSS_KEYS_FILE", None, env),
            retry_delays_s=delays,
            callback_timeout_s=env_float("CALLBACK_TIMEOUT_S", 5.0, env, minimum=0.1),
            callback_allow=parse_cidrs(env_list("CALLBACK_ALLOW_CIDRS", "", env)),
            concurrency=env_int("CALLBACK_CONCURRENCY", 16, env, minimum=1),
            retention_s=env_float("RESULT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS, env, minimum=0) * 86400,
            purge_every_s=env_float("RESULT_PURGE_EVERY_S", 300.0, env, minimum=0.1),
            purge_batch=env_int("RESULT_PURGE_BATCH", 500, env, minimum=1),
            session_timeout_ms=env_int("KAFKA_SESSION_TIMEOUT_MS", 10000, env, minimum=1000),
            metrics_port=env_int("METRICS_PORT", PROCESS.metrics_port, env, minimum=0),
            log_level=env_str("LOG_LEVEL", "INFO", env),
        )
