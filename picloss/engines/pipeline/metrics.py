"""The photo's way through the pipeline, recorded wherever a Pipeline runs (the orchestrator).

Registered in the process registry (picloss/platform/observability/metrics.py), served on METRICS_PORT."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from picloss.platform.observability.metrics import LATENCY_BUCKETS, REGISTRY

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
