"""Repair vs replace rule and its confidence."""

from __future__ import annotations

import pytest

from services.damage.degree import REPAIR, REPLACE, decide, label_degree, replace_probability

MINOR = {"minor": 0.9, "moderate": 0.08, "severe": 0.02}
MODERATE = {"minor": 0.1, "moderate": 0.85, "severe": 0.05}
SEVERE = {"minor": 0.05, "moderate": 0.1, "severe": 0.85}
SCRATCH = {"scratch": 0.9, "dent": 0.08, "broken": 0.02}
BROKEN = {"scratch": 0.05, "dent": 0.05, "broken": 0.9}


@pytest.mark.parametrize(
    ("dtype", "severity", "part", "expected"),
    [
        ("broken", "minor", None, REPLACE),
        ("scratch", "severe", None, REPLACE),
        ("dent", "minor", None, REPAIR),
        ("dent", "moderate", "door", REPAIR),
        ("scratch", "moderate", "lamp", REPLACE),
        ("scratch", "minor", "windshield", REPAIR),
    ],
)
def test_label_rule(dtype: str, severity: str, part: str | None, expected: int) -> None:
    assert label_degree(dtype, severity, part) == expected


def test_minor_scratch_is_a_confident_repair() -> None:
    d = decide(SCRATCH, MINOR)
    assert d.degree_id == REPAIR and d.score >= 90


def test_broken_is_replace_whatever_the_severity() -> None:
    d = decide(BROKEN, MINOR)
    assert d.degree_id == REPLACE and 85 <= d.score <= 100


def test_severe_is_replace() -> None:
    assert decide(SCRATCH, SEVERE).degree_id == REPLACE


def test_part_aware_moderate_lamp_is_replace_but_door_is_repair() -> None:
    assert decide(SCRATCH, MODERATE, "lamp").degree_id == REPLACE
    assert decide(SCRATCH, MODERATE, "door").degree_id == REPAIR


def test_probability_is_bounded() -> None:
    assert 0.0 <= replace_probability(BROKEN, SEVERE, "lamp") <= 1.0
