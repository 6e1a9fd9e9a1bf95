"""The second stage (issue 21): every candidate damage box is verified on its crop before it is reported.

The detector proposes boxes at a low score (CANDIDATE_THRESHOLD); each is cut from the decoded photo with context
(`picloss/engines/models/damage_verifier.py`) and scored by the verifier model (models/damage_verifier, trained by
training/damage/verifier.py on detector candidates labelled true damage or mined hard negatives). The damage's
**existence confidence** combines both opinions — a logistic model of the verifier's and the detector's log-odds
(and whether the box came from the damaged-part channel), fitted on a grouped train fold never trained on — and a
damage is reported only when it reaches the operating point (DAMAGE_MIN_CONFIDENCE; the default was chosen on the
same train fold for few false alarms). The confidence travels with the damage (`Detection.existence`) and reaches
the callback as `damage_existence_score`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from picloss.engines.damage.detector import Detection
from picloss.engines.models import damage_verifier as vm
from picloss.platform.inference import ModelRunner

# The detector's floor for candidates when the verifier decides (without a verifier the detector's own
# DEFAULT_SCORE_THRESHOLD applies). The verifier was trained on candidates from 0.05 up.
CANDIDATE_THRESHOLD = 0.1


@dataclass(frozen=True)
class Combination:
    """P(real damage) = sigmoid(w_v * logit(verifier) + w_d * logit(detector) + w_p * from_part
    + w_g * logit(damage gate) + bias); w_g is 0 for the combination used when the service runs no damage gate."""

    verifier_weight: float
    detector_weight: float
    part_weight: float
    bias: float
    gate_weight: float = 0.0

    def existence(self, verifier_prob: float, detector_score: float, from_part: bool,
                  gate_prob: float | None = None) -> float:
        z = (self.verifier_weight * _logit(verifier_prob) + self.detector_weight * _logit(detector_score)
             + self.part_weight * float(from_part) + self.bias)
        if self.gate_weight:
            if gate_prob is None:
                raise ValueError("this combination needs the damage gate's probability")
            z += self.gate_weight * _logit(gate_prob)
        return 1.0 / (1.0 + math.exp(-z))


# Fitted by training/damage/verifier.py on train fold 0 (grouped by source photo; never trained on by the verifier
# or the damage gate, which share the folds); recorded with the model in models/damage_verifier/verifier.json (a
# unit test checks that they agree). COMBINATION uses the photo's damage-gate probability too (the service's
# default); COMBINATION_WITHOUT_GATE is what a service run without the gate (DAMAGE_GATE off) uses.
COMBINATION = Combination(verifier_weight=0.630036, detector_weight=1.340143, part_weight=-1.13698,
                          bias=1.214869, gate_weight=0.199257)
COMBINATION_WITHOUT_GATE = Combination(verifier_weight=0.705602, detector_weight=1.171793, part_weight=-0.956949,
                                       bias=1.72832)
DEFAULT_MIN_CONFIDENCE = 0.725


def combination_from_record(entry: dict[str, Any]) -> Combination:
    """A combination as training/damage/verifier.py records it in verifier.json (features, weights, bias)."""
    weights = dict(zip(entry["features"], entry["weights"], strict=True))
    return Combination(verifier_weight=float(weights["logit(verifier)"]),
                       detector_weight=float(weights["logit(detector)"]),
                       part_weight=float(weights["part_channel"]), bias=float(entry["bias"]),
                       gate_weight=float(weights.get("logit(gate)", 0.0)))


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


async def verifier_probabilities(runner: ModelRunner, rgb: np.ndarray, boxes: Sequence[Sequence[float]]
                                 ) -> list[float]:
    """The verifier's probability of real damage for each box of one photo (photo pixels), in order."""
    probs: list[float] = []
    crops = [vm.crop(rgb, b) for b in boxes]
    for start in range(0, len(crops), vm.MAX_BATCH_SIZE):
        out = await runner.infer({vm.INPUT_CROPS: vm.to_batch(crops[start:start + vm.MAX_BATCH_SIZE])})
        probs.extend(float(p) for p in np.asarray(out[vm.OUTPUT_DAMAGE_PROB]).reshape(-1))
    return probs


def with_existence(damages: Sequence[Detection], verifier_probs: Sequence[float], gate_prob: float | None = None,
                   combination: Combination | None = None) -> list[Detection]:
    """Each damage with its existence confidence, most confident first. `gate_prob`: the photo's damage-gate
    probability (None: the service runs no gate, and the combination without it is used)."""
    if combination is None:
        combination = COMBINATION if gate_prob is not None else COMBINATION_WITHOUT_GATE
    scored = [replace(d, existence=combination.existence(p, d.score, d.from_part, gate_prob))
              for d, p in zip(damages, verifier_probs, strict=True)]
    return sorted(scored, key=lambda d: -(d.existence or 0.0))


def confirmed(damages: Sequence[Detection], min_confidence: float) -> list[Detection]:
    return [d for d in damages if d.existence is not None and d.existence >= min_confidence]
