"""The damage service's metrics.

Registered in the process registry (picloss/platform/observability/metrics.py), served on METRICS_PORT; the
model-service RPC and inference metrics every model service shares are defined there."""

from __future__ import annotations

from prometheus_client import Counter

from picloss.platform.observability.metrics import REGISTRY

PHOTOS_ASSESSED = Counter(
    "picloss_damage_photos_total",
    "Photos assessed, by outcome: damage (reported), no_damage, or why damage was withheld (no_damage_gate, "
    "no_vehicle_or_part, off_vehicle, not_verified); rejected: not decodable", ["outcome"], registry=REGISTRY)
