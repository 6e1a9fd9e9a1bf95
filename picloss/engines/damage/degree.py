"""Repair (0) vs replace (1) of one damage: a calibrated model of P(replace), with part-aware hard rules.

The truth rule (what the labels imply, `label_degree`, also used by the evaluation):
* broken (any severity) => replace; severe (any type) => replace;
* minor => repair; moderate dent or scratch => repair (panel work, filler, paint);
* on a lamp or windshield, anything beyond a minor mark => replace (glass and lamp housings are
  not repaired).

The decision (`decide`):
* When `degree_calibration.json` (next to this file, written by
  `python -m training.damage.calibrate_degree`) is present, P(replace) is a logistic regression on
  the detector's type / severity / part-kind log-odds, the box's relative area and the detection
  score, Platt-scaled on out-of-fold predictions of damage_severity TRAIN photos. The degree is
  replace when P(replace) >= the recorded threshold, which was chosen for balanced accuracy on
  out-of-fold predictions and is usually well below 0.5: replace is rare (about 5 % of boxes) and
  expensive to miss.
* Hard rule, kept whatever the model says: a broken lamp or windshield (the part kind is lamp or
  windshield and "broken" is the most likely damage type) is replaced.
* Without the JSON, the old rule on the heads' probabilities (`rule_decide`) is used.

What `score` means: round(100 x the calibrated probability that the chosen degree is the right one),
i.e. 100 x P(replace) for replace and 100 x (1 - P(replace)) for repair. Because the threshold is not
0.5, a damage may be decided "replace" with a score below 50: the service flags it for replacement
because a missed replacement costs more, while saying honestly that it is less likely than not. We
keep the score as the probability of the chosen degree (not rescaled around the threshold) so that
it stays calibrated: of the damages given score s, about s % have the degree chosen (this is what
the expected calibration error measures). For a hard-rule replace the score is max(model P(replace),
P(broken) x P(lamp or windshield)), the probability that the rule's premise holds.
Missing optional inputs (part probabilities, box size, detection score) are replaced by their train
mean, so the model still answers when a caller passes only the type and severity probabilities.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from picloss.engines.models.damage_detector import DAMAGE_TYPES, PART_KINDS, SEVERITIES
from picloss.protocol.codes import DamageDegree

log = logging.getLogger(__name__)

REPAIR, REPLACE = int(DamageDegree.REPAIR), int(DamageDegree.REPLACE)
REPLACE_THRESHOLD = 0.5  # the old rule's threshold
GLASS_OR_LAMP = frozenset({"lamp", "windshield"})
CALIBRATION_FILE = Path(__file__).resolve().parent / "degree_calibration.json"

_TYPES, _SEVERITIES, _PARTS = DAMAGE_TYPES, SEVERITIES, PART_KINDS  # the detector's label order
FEATURE_NAMES = (
    *(f"logit type {n}" for n in _TYPES),
    *(f"logit severity {n}" for n in _SEVERITIES),
    *(f"logit part {n}" for n in _PARTS),
    "log box area / photo area",
    "logit detection score",
)
_EPS = 1e-4


@dataclass(frozen=True)
class Degree:
    degree_id: int
    score: int  # 0..100: round(100 * probability)
    probability: float = float("nan")  # the (calibrated, where fitted) probability of degree_id


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


def features(
    type_probs: dict[str, float],
    severity_probs: dict[str, float],
    part_probs: dict[str, float] | None = None,
    box_fraction: float | None = None,
    score: float | None = None,
) -> np.ndarray:
    """The model's input vector (FEATURE_NAMES order); NaN where an optional input is missing."""
    nan = float("nan")
    x = [_logit(type_probs.get(n, 0.0)) for n in _TYPES]
    x += [_logit(severity_probs.get(n, 0.0)) for n in _SEVERITIES]
    x += [_logit(part_probs.get(n, 0.0)) if part_probs is not None else nan for n in _PARTS]
    x.append(math.log(max(box_fraction, 1e-6)) if box_fraction is not None else nan)
    x.append(_logit(score) if score is not None else nan)
    return np.array(x, dtype=np.float64)


def hard_replace(type_probs: dict[str, float], part_kind: str | None) -> bool:
    """A broken lamp or windshield: replaced whatever the model says."""
    return part_kind in GLASS_OR_LAMP and max(type_probs, key=lambda n: type_probs[n], default="") == "broken"


def hard_rule_probability(type_probs: dict[str, float], part_probs: dict[str, float] | None) -> float:
    """P(broken) x P(lamp or windshield): how likely the hard rule's premise is (P(broken) without part probs)."""
    glass = sum(part_probs.get(k, 0.0) for k in GLASS_OR_LAMP) if part_probs is not None else 1.0
    return float(type_probs.get("broken", 0.0) * min(glass, 1.0))


def choose(
    p_replace: np.ndarray, hard: np.ndarray, p_hard: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised decision: (degree ids, probability of the chosen degree). One code path for the
    service (`CalibratedDegree.decide`) and the fitting script."""
    p = np.where(hard, np.maximum(p_replace, p_hard), p_replace)
    degree = np.where(hard | (p >= threshold), REPLACE, REPAIR)
    return degree, np.where(degree == REPLACE, p, 1.0 - p)


@dataclass(frozen=True)
class CalibratedDegree:
    """P(replace) = sigmoid(a * (b0 + w . (x - mean) / std) + c): logistic regression + Platt scaling."""

    mean: np.ndarray
    std: np.ndarray
    coefficients: np.ndarray  # [bias, w...]
    platt: tuple[float, float]  # (a, c)
    threshold: float

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> CalibratedDegree:
        if tuple(params["feature_names"]) != FEATURE_NAMES:
            raise ValueError(f"calibration features {params['feature_names']} are not {FEATURE_NAMES}")
        mean, std = np.asarray(params["mean"], float), np.asarray(params["std"], float)
        coef = np.asarray(params["coefficients"], float)
        if not (len(mean) == len(std) == len(coef) - 1 == len(FEATURE_NAMES)):
            raise ValueError("calibration parameter lengths do not match the features")
        a, c = params["platt"]
        return cls(mean, std, coef, (float(a), float(c)), float(params["threshold"]))

    def p_replace(self, x: np.ndarray) -> np.ndarray:
        """Calibrated P(replace) for feature rows `x` (NaN features take the train mean)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        z = np.where(np.isnan(x), 0.0, (x - self.mean) / self.std)
        raw = self.coefficients[0] + z @ self.coefficients[1:]
        a, c = self.platt
        return np.asarray(1.0 / (1.0 + np.exp(-(a * raw + c))))

    def decide(
        self,
        type_probs: dict[str, float],
        severity_probs: dict[str, float],
        part_kind: str | None = None,
        part_probs: dict[str, float] | None = None,
        x: np.ndarray | None = None,
    ) -> Degree:
        if x is None:
            x = features(type_probs, severity_probs, part_probs)
        degree, prob = choose(
            self.p_replace(x),
            np.array([hard_replace(type_probs, part_kind)]),
            np.array([hard_rule_probability(type_probs, part_probs)]),
            self.threshold,
        )
        return Degree(int(degree[0]), round(100 * float(prob[0])), float(prob[0]))


@lru_cache(maxsize=4)
def load_calibration(path: Path = CALIBRATION_FILE) -> CalibratedDegree | None:
    """The fitted model from the JSON written by training/damage/calibrate_degree.py, None if absent."""
    if not path.exists():
        log.warning("no %s: repair/replace falls back to the uncalibrated rule", path)
        return None
    return CalibratedDegree.from_dict(json.loads(path.read_text())["params"])


def replace_probability(
    type_probs: dict[str, float], severity_probs: dict[str, float], part_kind: str | None = None
) -> float:
    """The old rule's P(replace) = P(broken) + P(not broken) * P(severe) [+ P(moderate) on lamp/windshield],
    treating the two heads as independent (not calibrated: used only without the JSON)."""
    broken = type_probs.get("broken", 0.0)
    bad_severity = severity_probs.get("severe", 0.0)
    if part_kind in GLASS_OR_LAMP:
        bad_severity += severity_probs.get("moderate", 0.0)
    return min(1.0, broken + (1.0 - broken) * bad_severity)


def rule_decide(
    type_probs: dict[str, float],
    severity_probs: dict[str, float],
    part_kind: str | None = None,
    threshold: float = REPLACE_THRESHOLD,
) -> Degree:
    """The old rule (the fallback without a calibration file)."""
    p = replace_probability(type_probs, severity_probs, part_kind)
    if p >= threshold:
        return Degree(REPLACE, round(100 * p), p)
    return Degree(REPAIR, round(100 * (1 - p)), 1 - p)


def decide(
    type_probs: dict[str, float],
    severity_probs: dict[str, float],
    part_kind: str | None = None,
    threshold: float | None = None,
    *,
    part_probs: dict[str, float] | None = None,
    box_fraction: float | None = None,
    score: float | None = None,
    calibration: CalibratedDegree | bool | None = True,
) -> Degree:
    """The degree of one damage. `calibration`: True loads degree_calibration.json (old rule if absent),
    False forces the old rule, or pass a CalibratedDegree. `threshold` overrides the decision threshold.
    `box_fraction`: box area / photo area; `score`: the detection score; `part_probs`: the part-kind probs."""
    model = load_calibration() if calibration is True else (calibration or None)
    if model is None:
        return rule_decide(type_probs, severity_probs, part_kind,
                           REPLACE_THRESHOLD if threshold is None else threshold)
    if threshold is not None:
        model = CalibratedDegree(model.mean, model.std, model.coefficients, model.platt, threshold)
    x = features(type_probs, severity_probs, part_probs, box_fraction, score)
    return model.decide(type_probs, severity_probs, part_kind, part_probs, x)


def label_degree(damage_type: str, severity: str, part_kind: str | None = None) -> int:
    """The degree a (type, severity) label implies, by the rule above."""
    if damage_type == "broken" or severity == "severe":
        return REPLACE
    if part_kind in GLASS_OR_LAMP and severity == "moderate":
        return REPLACE
    return REPAIR


def as_dict(names: Sequence[str], probs: Iterable[float]) -> dict[str, float]:
    return {n: float(p) for n, p in zip(names, probs, strict=True)}
