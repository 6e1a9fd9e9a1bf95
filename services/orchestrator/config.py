"""Orchestrator settings, from the environment only (see services/orchestrator/README.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from picloss.engines.pipeline.pipeline import MAX_IN_FLIGHT
from picloss.platform.config import env_float, env_int, env_list, env_str
from picloss.platform.imaging import DEFAULT_MAX_PIXELS
from picloss.platform.kafka import REQUESTS_TOPIC, RESULTS_TOPIC
from picloss.platform.netguard import Network, parse_cidrs
from picloss.platform.processes import BY_NAME, local_address

PROCESS = BY_NAME["orchestrator"]  # its default ports: picloss/platform/processes.py


@dataclass(frozen=True)
class OrchestratorConfig:
    database_url: str
    data_keys_file: str
    kafka_bootstrap: str
    requests_topic: str
    results_topic: str
    group: str
    classifier_addr: str
    ocr_addr: str
    damage_addr: str
    aggregator_addr: str
    rpc_timeout_s: float
    rpc_retry_budget_s: float
    fetch_timeout_s: float
    fetch_max_bytes: int
    fetch_allow: tuple[Network, ...]
    fetch_concurrency: int
    max_pixels: int
    max_in_flight: int
    damage_batch: int
    session_timeout_ms: int
    redrive_after_s: float
    redrive_every_s: float
    redrive_batch: int
    metrics_port: int
    log_level: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OrchestratorConfig:
        return cls(
            database_url=env_str("DATABASE_URL", None, env),
            data_keys_file=env_str("PICLOSS_DATA_KEYS_FILE", None, env),
            kafka_bootstrap=env_str("KAFKA_BOOTSTRAP_SERVERS", None, env),
            requests_topic=env_str("KAFKA_REQUESTS_TOPIC", REQUESTS_TOPIC, env),
            results_topic=env_str("KAFKA_RESULTS_TOPIC", RESULTS_TOPIC, env),
            group=env_str("KAFKA_GROUP", "picloss-orchestrator", env),
            classifier_addr=env_str("CLASSIFIER_ADDR", local_address("classifier"), env),
            ocr_addr=env_str("OCR_ADDR", local_address("ocr"), env),
            damage_addr=env_str("DAMAGE_ADDR", local_address("damage"), env),
            aggregator_addr=env_str("AGGREGATOR_ADDR", local_address("aggregator"), env),
            rpc_timeout_s=env_float("RPC_TIMEOUT_S", 60.0, env, minimum=0.1),
            rpc_retry_budget_s=env_float("RPC_RETRY_BUDGET_S", 120.0, env, minimum=0),
            fetch_timeout_s=env_float("FETCH_TIMEOUT_S", 20.0, env, minimum=0.1),
            fetch_max_bytes=env_int("FETCH_MAX_BYTES", 20 * 1024 * 1024, env, minimum=1024),
            fetch_allow=parse_cidrs(env_list("FETCH_ALLOW_CIDRS", "", env)),
            fetch_concurrency=env_int("FETCH_CONCURRENCY", 8, env, minimum=1),
            max_pixels=env_int("MAX_PIXELS", DEFAULT_MAX_PIXELS, env, minimum=1),
            max_in_flight=env_int("MAX_IN_FLIGHT", MAX_IN_FLIGHT, env, minimum=1),
            damage_batch=env_int("DAMAGE_BATCH", 8, env, minimum=1),
            session_timeout_ms=env_int("KAFKA_SESSION_TIMEOUT_MS", 10000, env, minimum=1000),
            redrive_after_s=env_float("REDRIVE_AFTER_S", 120.0, env, minimum=1.0),
            redrive_every_s=env_float("REDRIVE_EVERY_S", 10.0, env, minimum=0.1),
            redrive_batch=env_int("REDRIVE_BATCH", 100, env, minimum=1),
            metrics_port=env_int("METRICS_PORT", PROCESS.metrics_port, env, minimum=0),
            log_level=env_str("LOG_LEVEL", "INFO", env),
        )
