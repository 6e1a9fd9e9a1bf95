"""Gateway settings, from the environment only (see gateway/README.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from picloss.platform.config import ConfigError, env_bool, env_float, env_int, env_list, env_optional, env_str
from picloss.platform.kafka import REQUESTS_TOPIC
from picloss.platform.netguard import Network, parse_cidrs
from picloss.protocol.validation import Limits


@dataclass(frozen=True)
class GatewayConfig:
    host: str
    port: int
    tls: bool
    tls_cert: str | None
    tls_key: str | None
    database_url: str
    data_keys_file: str
    kafka_bootstrap: str
    requests_topic: str
    keys_file: str
    ts_window_s: int
    max_body_bytes: int
    max_files: int
    rate_limit_per_s: float
    rate_limit_burst: int
    callback_allow: tuple[Network, ...]
    kafka_delivery_timeout_ms: int
    metrics_port: int
    log_level: str

    @cached_property
    def limits(self) -> Limits:
        return Limits(max_files=self.max_files, max_body_bytes=self.max_body_bytes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewayConfig:
        tls = env_bool("GATEWAY_TLS", True, env)
        cert, key = env_optional("GATEWAY_TLS_CERT", env), env_optional("GATEWAY_TLS_KEY", env)
        if tls and not (cert and key):
            raise ConfigError("GATEWAY_TLS_CERT and GATEWAY_TLS_KEY are required when GATEWAY_TLS=true "
                              "(plain HTTP only with GATEWAY_TLS=false)")
        return cls(
            host=env_str("GATEWAY_HOST", "0.0.0.0", env),
            port=env_int("GATEWAY_PORT", 8443, env, minimum=1),
            tls=tls,
            tls_cert=cert,
            tls_key=key,
            database_url=env_str("DATABASE_URL", None, env),
            data_keys_file=env_str("PICLOSS_DATA_KEYS_FILE", None, env),
            kafka_bootstrap=env_str("KAFKA_BOOTSTRAP_SERVERS", None, env),
            requests_topic=env_str("KAFKA_REQUESTS_TOPIC", REQUESTS_TOPIC, env),
            keys_file=env_str("PICLOSS_KEYS_FILE", None, env),
            ts_window_s=env_int("TS_WINDOW_S", 300, env, minimum=1),
            max_body_bytes=env_int("MAX_BODY_BYTES", 1_048_576, env, minimum=1024),
            max_files=env_int("MAX_FILES", 100, env, minimum=1),
            rate_limit_per_s=env_float("RATE_LIMIT_PER_S", 0.0, env, minimum=0),
            rate_limit_burst=env_int("RATE_LIMIT_BURST", 50, env, minimum=1),
            callback_allow=parse_cidrs(env_list("CALLBACK_ALLOW_CIDRS", "", env)),
            kafka_delivery_timeout_ms=env_int("KAFKA_DELIVERY_TIMEOUT_MS", 5000, env, minimum=100),
            metrics_port=env_int("METRICS_PORT", 9100, env, minimum=0),
            log_level=env_str("LOG_LEVEL", "INFO", env),
        )
