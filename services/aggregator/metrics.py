"""The aggregator's metrics (BATCH merging).

Registered in the process registry (picloss/platform/observability/metrics.py), served on METRICS_PORT."""

from __future__ import annotations

from prometheus_client import Counter

from picloss.platform.observability.metrics import REGISTRY

BATCH_PHOTOS = Counter(
    "picloss_batch_photos_total", "BATCH photos with damage the aggregator merged", registry=REGISTRY)
BATCH_PHOTOS_REGISTERED = Counter(
    "picloss_batch_photos_registered_total",
    "BATCH photos registered into a wider photo of their claim (close-ups mapped onto the wide view)",
    registry=REGISTRY)
