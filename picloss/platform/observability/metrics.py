"""The process registry, the metrics every process shares (Kafka consumers, gRPC servers, model inference), and
the /metrics server. Each process defines its own metrics beside it (gateway/metrics.py, services/*/metrics.py,
picloss/engines/pipeline/metrics.py); every name is defined once.

Dashboards and alerts are written against these names; the chart tests check that each name the Grafana
dashboard and the alerts query is defined in one of these modules and scraped from a real process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

# Kafka consumers (every consuming process)
CONSUMER_PROCESSING = Histogram(
    "picloss_consumer_processing_seconds", "Time a consumer spent on one event",
    ["topic", "group"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
CONSUMER_EVENTS = Counter(
    "picloss_consumer_events_total", "Events handled, by outcome (ok, retry, skipped)",
    ["topic", "group", "outcome"], registry=REGISTRY)
CONSUMER_LAG = Gauge(
    "picloss_consumer_lag", "Events fetched but not yet committed (in flight)",
    ["topic", "group"], registry=REGISTRY)

# model services
GRPC_REQUESTS = Counter(
    "picloss_grpc_requests_total", "Model-service RPCs, by service, method and gRPC code",
    ["service", "method", "code"], registry=REGISTRY)
GRPC_LATENCY = Histogram(
    "picloss_grpc_request_seconds", "Model-service RPC latency", ["service", "method"],
    buckets=LATENCY_BUCKETS, registry=REGISTRY)
MODEL_VERSION = Gauge(
    "picloss_model_version", "The version of each model this process serves with (models/<name>/<n>; -1: not "
    "numbered), by model and backend (issue 24: which model produced the verdicts)", ["model", "backend"],
    registry=REGISTRY)
INFERENCE_LATENCY = Histogram(
    "picloss_inference_seconds", "One model inference call (onnxruntime in-process or Triton)",
    ["model", "backend"], buckets=LATENCY_BUCKETS, registry=REGISTRY)


def start_metrics_server(port: int, addr: str = "0.0.0.0") -> None:
    """Serve /metrics of REGISTRY on its own port (0 disables it)."""
    if port:
        start_http_server(port, addr=addr, registry=REGISTRY)
