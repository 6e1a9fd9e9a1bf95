"""The orchestrator's metrics (requests committed, re-driven); the pipeline's own are in
picloss/engines/pipeline/metrics.py.

Registered in the process registry (picloss/platform/observability/metrics.py), served on METRICS_PORT."""

from __future__ import annotations

from prometheus_client import Counter

from picloss.platform.observability.metrics import REGISTRY

REDRIVES = Counter(
    "picloss_redriven_requests_total",
    "Requests published again by the re-drive after no progress (their event lost with the broker's data, or "
    "their orchestrator gone), by the state they were stuck in", ["state"], registry=REGISTRY)
REQUESTS_DONE = Counter(
    "picloss_requests_done_total", "Requests whose result was committed, by overall result_code",
    ["result_code"], registry=REGISTRY)
