"""Every Prometheus metric picloss exports, defined once.

Dashboards and alerts are written against these names; the chart test checks
that each name the Grafana dashboard queries is defined here and scraped from a
real process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

# gateway
GATEWAY_REQUESTS = Counter(
    "picloss_gateway_requests_total", "Protocol requests answered, by endpoint and result_code",
    ["endpoint", "result_code"], registry=REGISTRY)
GATEWAY_LATENCY = Histogram(
    "picloss_gateway_request_seconds", "Time to answer a protocol request",
    ["endpoint"], buckets=LATENCY_BUCKETS, registry=REGISTRY)

# orchestrator
FILES_PROCESSED = Counter(
    "picloss_files_total", "Request files processed, by image_class and per-file result_code",
    ["image_class", "result_code"], registry=REGISTRY)
STAGE_LATENCY = Histogram(
    "picloss_stage_seconds", "Pipeline stage latency (download, classify, ocr, damage, aggregate, request)",
    ["stage"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
CLASS_SWITCHES = Counter(
    "picloss_class_switches_total",
    "Photos whose final class differs from the image classifier's, by from/to class and reason "
    "(document_text, vehicle_seen, text_names_other_document)",
    ["from_class", "to_class", "reason"], registry=REGISTRY)
REDRIVES = Counter(
    "picloss_redriven_requests_total",
    "Requests published again by the re-drive after no progress (their event lost with the broker's data, or "
    "their orchestrator gone), by the state they were stuck in", ["state"], registry=REGISTRY)
REQUESTS_DONE = Counter(
    "picloss_requests_done_total", "Requests whose result was committed, by overall result_code",
    ["result_code"], registry=REGISTRY)

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

# dispatcher
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

# model services
GRPC_REQUESTS = Counter(
    "picloss_grpc_requests_total", "Model-service RPCs, by service, method and gRPC code",
    ["service", "method", "code"], registry=REGISTRY)
GRPC_LATENCY = Histogram(
    "picloss_grpc_request_seconds", "Model-service RPC latency", ["service", "method"],
    buckets=LATENCY_BUCKETS, registry=REGISTRY)
INFERENCE_LATENCY = Histogram(
    "picloss_inference_seconds", "One model inference call (onnxruntime in-process or Triton)",
    ["model", "backend"], buckets=LATENCY_BUCKETS, registry=REGISTRY)

# aggregator
BATCH_PHOTOS = Counter(
    "picloss_batch_photos_total", "BATCH photos with damage the aggregator merged", registry=REGISTRY)
BATCH_PHOTOS_REGISTERED = Counter(
    "picloss_batch_photos_registered_total",
    "BATCH photos registered into a wider photo of their claim (close-ups mapped onto the wide view)",
    registry=REGISTRY)


def start_metrics_server(port: int, addr: str = "0.0.0.0") -> None:
    """Serve /metrics of REGISTRY on its own port (0 disables it)."""
    if port:
        start_http_server(port, addr=addr, registry=REGISTRY)
