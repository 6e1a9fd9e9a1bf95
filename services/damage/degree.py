"""Repair (0) vs replace (1) from the damage type and severity probabilities, part-aware.

Rule (the same one the labels are judged by in evaluation):
* broken (any severity) => replace; severe (any type) => replace;
* minor => repair; moderate dent or scratch => repair (panel work, filler, paint);
* on a lamp or windshield, anything beyond a minor non-broken mark => replace (glass and
  lamp housings are not repaired).
P(replace) = P(broken) + P(not broken) * P(severe) [+ P(moderate) on lamp/windshield],
treating the two heads as independent; degree_score = 100 * P(chosen degree).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

REPAIR = 0
REPLACE = 1
REPLACE_THRESHOLD = 0.5
GLASS_OR_LAMP = frozenset({"lamp", "windshield"})


@dataclass(frozen=True)
class Degree:
    degree_id: int
    score: int  # 0..100


def replace_probability(
    type_probs: dict[str, float], severity_probs: dict[str, float], part_kind: str | None = None
) -> float:
    broken = type_probs.get("broken", 0.0)
    bad_severity = severity_probs.get("severe", 0.0)
    if part_kind in GLASS_OR_LAMP:
        bad_severity += severity_probs.get("moderate", 0.0)
    return min(1.0, broken + (1.0 - broken) * bad_severity)


def decide(
    type_probs: dict[str, float],
    severity_probs: dict[str, float],
    part_kind: str | None = None,
    threshold: float = REPLACE_THRESHOLD,
) -> Degree:
    p = replace_probability(type_probs, severity_probs, part_kind)
    if p >= threshold:
        return Degree(REPLACE, round(100 * p))
    return Degree(REPAIR, round(100 * (1 - p)))


def label_degree(damage_type: str, severity: str, part_kind: str | None = None) -> int:
    """The degree a (type, severity) label implies, by the rule above."""
    if damage_type == "broken" or severity == "severe":
        return REPLACE
    if part_kind in GLASS_OR_LAMP and severity == "moderate":
        return REPLACE
    return REPAIR


def as_dict(names: Sequence[str], probs: Iterable[float]) -> dict[str, float]:
    return {n: float(p) for n, p in zip(names, probs, strict=True)}
