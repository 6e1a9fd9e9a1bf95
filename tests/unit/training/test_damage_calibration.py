"""Calibrated repair/replace: ECE and balanced accuracy, the calibrated decide, the committed JSON."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from picloss.engines.damage import degree as deg
from picloss.engines.models import damage_detector as ms
from training.damage.calibration import balanced_accuracy, expected_calibration_error

SCRATCH = {"scratch": 0.9, "dent": 0.08, "broken": 0.02}
BROKEN = {"scratch": 0.05, "dent": 0.05, "broken": 0.9}
MINOR = {"minor": 0.9, "moderate": 0.08, "severe": 0.02}
LAMP = {"bonnet": 0.02, "bumper": 0.05, "trunk": 0.02, "door": 0.02, "fender": 0.04, "lamp": 0.83, "windshield": 0.02}


def synthetic_model(bias: float = 0.0, weight_broken: float = 1.0, threshold: float = 0.3) -> deg.CalibratedDegree:
    n = len(deg.FEATURE_NAMES)
    coef = np.zeros(n + 1)
    coef[0] = bias
    coef[1 + deg.FEATURE_NAMES.index("logit type broken")] = weight_broken
    return deg.CalibratedDegree(np.zeros(n), np.ones(n), coef, (1.0, 0.0), threshold)


# ---------------------------------------------------------------- ECE and balanced accuracy


def test_ece_of_a_perfectly_calibrated_set_is_near_zero() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.5, 1.0, 200_000)
    correct = rng.uniform(size=p.size) < p
    assert expected_calibration_error(p, correct) < 0.01


def test_ece_of_an_over_confident_set_is_large() -> None:
    rng = np.random.default_rng(1)
    p = np.full(10_000, 0.99)
    correct = rng.uniform(size=p.size) < 0.6
    assert expected_calibration_error(p, correct) == pytest.approx(0.39, abs=0.02)


def test_ece_by_hand() -> None:
    # bin [0.6, 0.7): two boxes at 0.6, one right -> |0.5 - 0.6| = 0.1, weight 2/4;
    # bin [0.9, 1.0]: two at 1.0, both right -> 0, weight 2/4 (1.0 falls in the last bin).
    assert expected_calibration_error([0.6, 0.6, 1.0, 1.0], [True, False, True, True]) == pytest.approx(0.05)


def test_ece_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        expected_calibration_error([0.5, 0.6], [True])


def test_balanced_accuracy_sees_through_the_majority_class() -> None:
    truth = np.array([0] * 95 + [1] * 5)
    assert balanced_accuracy(truth, np.zeros(100, int)) == pytest.approx(0.5)
    pred = np.array([0] * 90 + [1] * 5 + [1] * 4 + [0])  # repair recall 90/95, replace recall 4/5
    assert balanced_accuracy(truth, pred) == pytest.approx((90 / 95 + 4 / 5) / 2)
    assert balanced_accuracy(truth, truth) == 1.0


# ---------------------------------------------------------------- the calibrated decide


def test_score_is_the_rounded_probability_and_never_100_unless_it_rounds_to_it() -> None:
    rng = np.random.default_rng(2)
    model = synthetic_model(bias=-1.0, weight_broken=2.0)
    for _ in range(500):
        types = dict(zip(("scratch", "dent", "broken"), rng.dirichlet([1, 1, 1]), strict=True))
        sevs = dict(zip(("minor", "moderate", "severe"), rng.dirichlet([1, 1, 1]), strict=True))
        d = deg.decide(types, sevs, "door", calibration=model)
        assert d.score == round(100 * d.probability)
        assert (d.score == 100) == (d.probability >= 0.995)
    # a confident but not certain replace: the old rule said 100 here (P(broken) + P(severe) > 1 is clipped)
    types = {"scratch": 0.01, "dent": 0.02, "broken": 0.97}
    severe = {"minor": 0.0, "moderate": 0.1, "severe": 0.9}
    assert deg.rule_decide(types, severe).score == 100
    d = deg.decide(types, severe, "door", calibration=synthetic_model(bias=0.0, weight_broken=1.0))
    assert (d.degree_id, d.score) == (deg.REPLACE, 97)


def test_a_broken_lamp_is_replaced_even_when_the_model_says_repair() -> None:
    model = synthetic_model(bias=-8.0, weight_broken=0.0)  # P(replace) ~ 0.0003 for everything
    assert deg.decide(BROKEN, MINOR, "door", calibration=model).degree_id == deg.REPAIR
    lamp = deg.decide(BROKEN, MINOR, "lamp", part_probs=LAMP, calibration=model)
    assert lamp.degree_id == deg.REPLACE
    assert lamp.score == round(100 * 0.9 * (0.83 + 0.02))  # P(broken) x P(lamp or windshield)
    assert deg.decide(BROKEN, MINOR, "windshield", calibration=model).degree_id == deg.REPLACE


def test_replace_below_half_when_the_threshold_is_below_half() -> None:
    model = synthetic_model(bias=0.0, weight_broken=1.0, threshold=0.3)
    types = {"scratch": 0.3, "dent": 0.3, "broken": 0.4}  # logit(0.4) -> P(replace) = sigmoid(-0.405) = 0.40
    d = deg.decide(types, MINOR, "door", calibration=model)
    assert d.degree_id == deg.REPLACE and d.score == 40
    assert deg.decide(types, MINOR, "door", threshold=0.5, calibration=model).degree_id == deg.REPAIR


def test_missing_optional_inputs_take_the_train_mean() -> None:
    n = len(deg.FEATURE_NAMES)
    coef = np.zeros(n + 1)
    coef[-1] = 3.0  # only the detection score matters
    mean = np.zeros(n)
    mean[-1] = 1.5
    model = deg.CalibratedDegree(mean, np.ones(n), coef, (1.0, 0.0), 0.5)
    without = deg.decide(SCRATCH, MINOR, calibration=model)
    assert without.probability == pytest.approx(0.5)  # imputed at the mean: logit 0
    with_score = deg.decide(SCRATCH, MINOR, score=0.99, calibration=model)
    assert with_score.degree_id == deg.REPLACE and with_score.probability > 0.9


def test_without_calibration_the_old_rule_answers() -> None:
    assert deg.decide(BROKEN, MINOR, calibration=False) == deg.rule_decide(BROKEN, MINOR)


# ---------------------------------------------------------------- the committed JSON


def test_committed_json_loads_and_reproduces_its_recorded_decisions() -> None:
    record = json.loads(deg.CALIBRATION_FILE.read_text())
    model = deg.load_calibration()
    assert model is not None
    assert 0.0 < model.threshold < 1.0
    assert record["check"], "the JSON records its synthetic check cases"
    for case in record["check"]:
        d = deg.decide(**case["input"])  # the default path: the committed JSON
        expected = case["expected"]
        assert (d.degree_id, d.score) == (expected["degree_id"], expected["score"])
        assert d.probability == pytest.approx(expected["probability"], abs=1e-9)


def test_committed_json_records_train_and_held_out_figures() -> None:
    figures = json.loads(deg.CALIBRATION_FILE.read_text())["figures"]
    val = figures["val held out (final parameters)"]
    oof = figures["train out-of-fold (nested: Platt and threshold re-chosen per fold)"]
    for f in (val, oof):
        assert f["boxes"] > 0
        assert 0.0 <= f["ECE (10 bins, P of chosen degree)"] <= 1.0
        assert 0.0 <= f["balanced accuracy"] <= 1.0
    assert oof["boxes"] > val["boxes"]  # fitted on train, val apart


def test_committed_json_was_fitted_on_the_committed_detector() -> None:
    record = json.loads(deg.CALIBRATION_FILE.read_text())
    onnx = (Path(__file__).resolve().parents[3] / "models" / ms.DAMAGE_DETECTOR.name
            / str(ms.DAMAGE_DETECTOR.version) / "model.onnx")
    assert record["model_sha256"] == hashlib.sha256(onnx.read_bytes()).hexdigest(), (
        "the damage detector changed: re-fit with `python -m training.damage.calibrate_degree` (clear its /tmp cache)"
    )


# ---------------------------------------------------------------- the fitting script's pieces


def test_folds_keep_the_augmentation_copies_of_one_photo_together() -> None:
    from training.damage.calibrate_degree import group_folds, source_photo

    names = [f"car{i}_jpg.rf.{h}.jpg" for i in range(40) for h in ("a1", "b2", "c3")]
    groups = [source_photo(Path(n)) for n in names]
    assert groups[:3] == ["car0_jpg"] * 3
    folds = group_folds(groups, 5)
    for g in set(groups):
        assert len({f for f, h in zip(folds, groups, strict=True) if h == g}) == 1
    assert sorted(set(folds.tolist())) == [0, 1, 2, 3, 4]


def test_logistic_fit_recovers_known_coefficients_and_platt_calibrates() -> None:
    from training.damage.calibrate_degree import fit, fit_logistic

    rng = np.random.default_rng(3)
    x = rng.normal(size=(20_000, 2))
    y = (rng.uniform(size=len(x)) < 1 / (1 + np.exp(-(-1.0 + 2.0 * x[:, 0] - 0.5 * x[:, 1])))).astype(float)
    beta = fit_logistic(x, y, np.ones(len(y)), 0.0)
    assert beta == pytest.approx([-1.0, 2.0, -0.5], abs=0.1)
    # class weights shift the raw scores; Platt on them gives calibrated probabilities back
    model = fit(x, y, True, 0.0)
    raw = model.raw(x)
    calibrated = fit(x, y, True, 0.0, raw, y)
    a, c = calibrated.platt
    p = 1 / (1 + np.exp(-(a * raw + c)))
    chosen = np.where(p >= 0.5, p, 1 - p)
    assert expected_calibration_error(chosen, (p >= 0.5) == (y == 1)) < 0.02
    # the class-weighted raw scores over-predict the minority class; the Platt-scaled ones do not
    assert (1 / (1 + np.exp(-raw))).mean() - y.mean() > 0.05  # 0.44 vs 0.36
    assert abs(p.mean() - y.mean()) < 0.01
