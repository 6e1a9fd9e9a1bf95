"""Calibration and class-balance figures for the repair/replace decision (pure numpy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def expected_calibration_error(
    probs_of_chosen: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray, bins: int = 10
) -> float:
    """ECE: over `bins` equal-width bins of the probability given to the chosen answer, the
    box-weighted mean |accuracy - mean probability|. 0 for a perfectly calibrated predictor."""
    p = np.asarray(probs_of_chosen, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if p.shape != ok.shape:
        raise ValueError(f"probs {p.shape} and correct {ok.shape} differ")
    if not len(p):
        return float("nan")
    which = np.clip((p * bins).astype(int), 0, bins - 1)  # p == 1.0 goes in the last bin
    ece = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            ece += inside.mean() * abs(ok[inside].mean() - p[inside].mean())
    return float(ece)


def balanced_accuracy(truth: Sequence[int] | np.ndarray, pred: Sequence[int] | np.ndarray) -> float:
    """Mean per-class recall over the classes present in `truth`."""
    t, p = np.asarray(truth), np.asarray(pred)
    if t.shape != p.shape:
        raise ValueError(f"truth {t.shape} and pred {p.shape} differ")
    classes = np.unique(t)
    if not len(classes):
        return float("nan")
    return float(np.mean([(p[t == c] == c).mean() for c in classes]))
