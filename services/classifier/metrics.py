"""The classifier's metrics.

Registered in the process registry (picloss/platform/observability/metrics.py), served on METRICS_PORT; the
model-service RPC and inference metrics every model service shares are defined there."""

from __future__ import annotations

from prometheus_client import Counter

from picloss.platform.observability.metrics import REGISTRY

PHOTOS_CLASSIFIED = Counter(
    "picloss_classifier_photos_total",
    "Photos the classifier answered, by its own class (before the orchestrator's second opinions); "
    "UNSPECIFIED: not decodable", ["image_class"], registry=REGISTRY)
