"""Repair vs replace: the label rule, the old probability rule (the fallback without a calibration file)
and the committed calibrated model on plain cases (its figures: test_damage_calibration.py)."""

from __future__ import annotations

import pytest

from picloss.engines.damage.degree import REPAIR, REPLACE, decide, label_degree, replace_probability, rule_decide

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


# The old rule: these four asserted `decide` before the calibrated model; they now test `rule_decide`,
# which `decide` falls back to without picloss/engines/damage/degree_calibration.json (or with calibration=False).


def test_rule_minor_scratch_is_a_confident_repair() -> None:
    d = rule_decide(SCRATCH, MINOR)
    assert d.degree_id == REPAIR and d.score >= 90
    assert decide(SCRATCH, MINOR, calibration=False) == d


def test_rule_broken_is_replace_whatever_the_severity() -> None:
    d = rule_decide(BROKEN, MINOR)
    assert d.degree_id == REPLACE and 85 <= d.score <= 100


def test_rule_severe_is_replace() -> None:
    assert rule_decide(SCRATCH, SEVERE).degree_id == REPLACE


def test_rule_part_aware_moderate_lamp_is_replace_but_door_is_repair() -> None:
    assert rule_decide(SCRATCH, MODERATE, "lamp").degree_id == REPLACE
    assert rule_decide(SCRATCH, MODERATE, "door").degree_id == REPAIR


# The calibrated model (the committed JSON): plain cases keep their degree, with an honest score.


def test_calibrated_minor_scratch_on_a_door_is_repair() -> None:
    d = decide(SCRATCH, MINOR, "door")
    assert d.degree_id == REPAIR and 50 <= d.score <= 100 and d.score == round(100 * d.probability)


def test_calibrated_broken_lamp_is_replace() -> None:
    assert decide(BROKEN, MINOR, "lamp").degree_id == REPLACE
    assert decide(BROKEN, SEVERE, "windshield").degree_id == REPLACE


def test_calibrated_severe_break_is_more_likely_replace_than_a_minor_scratch() -> None:
    severe_break = decide(BROKEN, SEVERE, "bumper")
    assert severe_break.degree_id == REPLACE
    p_break = severe_break.probability  # P(replace) of a replace decision
    p_scratch = 1 - decide(SCRATCH, MINOR, "bumper").probability  # P(replace) of a repair decision
    assert p_break > p_scratch


def test_probability_is_bounded() -> None:
    assert 0.0 <= replace_probability(BROKEN, SEVERE, "lamp") <= 1.0
