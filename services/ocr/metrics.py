"""The OCR service's metrics.

Registered in the process registry (picloss/platform/observability/metrics.py), served on METRICS_PORT; the
model-service RPC and inference metrics every model service shares are defined there."""

from __future__ import annotations

from prometheus_client import Counter

from picloss.platform.observability.metrics import REGISTRY

DOCUMENTS_READ = Counter(
    "picloss_ocr_documents_total",
    "Document photos read, by the class asked for and outcome (fields, no_field, other_class: the text names "
    "another document class, rejected: not decodable)", ["image_class", "outcome"], registry=REGISTRY)
