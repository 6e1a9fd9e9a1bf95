"""One photo's damage verdict as data (what `assess.decide` and `verified` return, what `pose` refines with the
vehicle's sides, what `wire` sends): a module of its own so that assess and pose both import it and neither the
other's internals (issue 25: the assess/pose circle)."""

from __future__ import annotations

from dataclasses import dataclass

from picloss.engines.damage.detector import Detection
from picloss.engines.damage.vehicles import Vehicle


@dataclass(frozen=True)
class Assessment:
    damages: list[Detection]  # what the service reports
    parts: list[Detection]  # the damaged parts kept as BATCH context (same gates)
    vehicles: list[Vehicle]
    of_interest: Vehicle | None
    damage_probability: float | None  # None: no gate model
    gate_passed: bool
    reason: str  # why damage was withheld ("" when reported): no_damage_gate, no_vehicle_or_part, off_vehicle,
    # not_verified (every candidate below the operating point)
    candidates: tuple[Detection, ...] = ()  # with a verifier: every candidate past the gates, with its existence
