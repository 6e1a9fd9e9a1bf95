"""The callback dispatcher's metrics.

Registered in the process registry (picloss/platform/observability/metrics.py), served on METRICS_PORT."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from picloss.platform.observability.metrics import LATENCY_BUCKETS, REGISTRY

CALLBACK_ATTEMPTS = Counter(
    "picloss_callback_attempts_total", "Callback POST attempts, by outcome (success, retry, failed)",
    ["outcome"], registry=REGISTRY)
CALLBACK_LATENCY = Histogram(
    "picloss_callback_seconds", "Callback POST duration", buckets=LATENCY_BUCKETS, registry=REGISTRY)
ACCEPT_TO_CALLBACK = Histogram(
    "picloss_accept_to_callback_seconds", "From accept to the successful callback",
    buckets=LATENCY_BUCKETS, registry=REGISTRY)
DELIVERIES_PENDING = Gauge(
    "picloss_deliveries_pending", "Callbacks waiting for their next attempt", registry=REGISTRY)
RESULTS_PURGED = Counter(
    "picloss_results_purged_total", "Stored results deleted past RESULT_RETENTION_DAYS", registry=REGISTRY)
