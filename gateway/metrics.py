"""The gateway's metrics (protocol requests).

Registered in the process registry (picloss/platform/observability/metrics.py), served on METRICS_PORT."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from picloss.platform.observability.metrics import LATENCY_BUCKETS, REGISTRY

GATEWAY_REQUESTS = Counter(
    "picloss_gateway_requests_total", "Protocol requests answered, by endpoint and result_code",
    ["endpoint", "result_code"], registry=REGISTRY)
GATEWAY_LATENCY = Histogram(
    "picloss_gateway_request_seconds", "Time to answer a protocol request",
    ["endpoint"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
