"""Fit the calibrated repair/replace model (`python -m training.damage.calibrate_degree`).

Runs the committed damage detector over the distinct TRAIN photos of `damage_severity` (the only
set with severity labels) through the service's own pre/post-processing (evaluate.run_model +
detector.decode at the evaluation's score floor), matches every ground-truth box to its best
detection (IoU >= evaluate.MATCH_IOU) and takes the truth degree from `degree.label_degree`.

Features per matched detection (`picloss.engines.damage.degree.features`): log-odds of the damage-type,
severity and part-kind probabilities, the box's relative area (log) and the detection score
(log-odds). An L2 logistic regression (numpy, Newton steps; class-weighted or not and its L2
strength chosen by out-of-fold balanced accuracy, ECE above 0.05 penalised) gives a raw score;
Platt scaling on out-of-fold raw scores maps it to a calibrated P(replace); the decision threshold
is chosen on out-of-fold predictions to maximise balanced accuracy. The reported train figures are
nested: Platt and the threshold are re-chosen inside each outer fold. All of it uses only TRAIN photos,
with K folds grouped by source photo (the file stem before `.rf.`: augmentation copies stay in one
fold). Val (`damage_severity` val minus the leaked images) is predicted once, with the final
parameters, never fitted on, and reported apart.

Caveat: the detector was trained on these same train photos, so its outputs there are more
confident than on new photos; the val figures, not the train ones, say what the service does.

Detector outputs are cached under --cache (default /tmp/picloss_degree_cache) so the model runs
over the photos once; delete the folder after a model change.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import pickle
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from picloss.engines.damage import degree as deg
from picloss.engines.damage.detector import Detection, decode
from picloss.engines.models import damage_detector as ms
from picloss.platform.inference import OnnxRunner
from training.damage.calibration import balanced_accuracy, expected_calibration_error
from training.damage.datasets import (
    DEFAULT_DATA_ROOT,
    ClassMap,
    Sample,
    dedupe_identical,
    leaked_val_files,
    read_split,
    without_leaked,
)
from training.damage.evaluate import AP_SCORE_FLOOR, MATCH_IOU, load_rgb, matched_detection, run_model

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DATASET = "damage_severity"
OUT_JSON = REPO / "picloss/engines/damage/degree_calibration.json"
# Tiny synthetic inputs whose decisions the JSON records, so that a test can check the parameters reproduce them.
CHECK_CASES: list[dict[str, Any]] = [
    {"type_probs": {"scratch": 0.9, "dent": 0.08, "broken": 0.02},
     "severity_probs": {"minor": 0.9, "moderate": 0.08, "severe": 0.02}, "part_kind": "door",
     "part_probs": {"bonnet": 0.02, "bumper": 0.1, "trunk": 0.02, "door": 0.8, "fender": 0.04, "lamp": 0.01,
                    "windshield": 0.01}, "box_fraction": 0.01, "score": 0.6},
    {"type_probs": {"scratch": 0.1, "dent": 0.3, "broken": 0.6},
     "severity_probs": {"minor": 0.1, "moderate": 0.3, "severe": 0.6}, "part_kind": "bumper",
     "part_probs": {"bonnet": 0.05, "bumper": 0.8, "trunk": 0.05, "door": 0.02, "fender": 0.04, "lamp": 0.02,
                    "windshield": 0.02}, "box_fraction": 0.2, "score": 0.5},
    {"type_probs": {"scratch": 0.2, "dent": 0.2, "broken": 0.6},
     "severity_probs": {"minor": 0.5, "moderate": 0.3, "severe": 0.2}, "part_kind": "lamp",
     "part_probs": {"bonnet": 0.02, "bumper": 0.1, "trunk": 0.02, "door": 0.02, "fender": 0.04, "lamp": 0.78,
                    "windshield": 0.02}, "box_fraction": 0.03, "score": 0.4},
    {"type_probs": {"scratch": 0.5, "dent": 0.4, "broken": 0.1},
     "severity_probs": {"minor": 0.4, "moderate": 0.4, "severe": 0.2}, "part_kind": None},
]


@dataclass
class Matched:
    """One ground-truth box of a labelled degree and the detection that matched it."""

    group: str  # source photo (stem before `.rf.`)
    truth: int
    det: Detection
    width: int
    height: int

    @property
    def x(self) -> np.ndarray:
        d = self.det
        return deg.features(
            deg.as_dict(ms.DAMAGE_TYPES, d.type_probs),
            deg.as_dict(ms.SEVERITIES, d.severity_probs),
            deg.as_dict(ms.PART_KINDS, d.part_probs),
            box_fraction=(d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) / (self.width * self.height),
            score=d.score,
        )

    @property
    def kind(self) -> str | None:
        return self.det.part_kind


def model_sha256(models_dir: Path) -> str:
    """The detector file the parameters were fitted on (a test fails when it changes without a re-fit)."""
    onnx = models_dir / ms.DAMAGE_DETECTOR.name / str(ms.DAMAGE_DETECTOR.version) / "model.onnx"
    return hashlib.sha256(onnx.read_bytes()).hexdigest()


def source_photo(path: Path) -> str:
    return path.name.split(".rf.")[0]


def detections(samples: list[Sample], models_dir: Path, cache: Path, cached_only: bool = False
               ) -> list[tuple[Sample, list[Detection], int, int]]:
    """Per photo: the decoded damages at the evaluation's score floor, and the photo size (cached).
    cached_only: skip photos not in the cache (a quick look while the cache fills; never for the JSON)."""
    cache.mkdir(parents=True, exist_ok=True)
    runner: OnnxRunner | None = None
    out = []
    for n, s in enumerate(samples):
        file = cache / f"{s.dataset}__{s.path.name}.pkl"
        if file.exists():
            dets, w, h = pickle.loads(file.read_bytes())
        elif cached_only:
            continue
        else:
            runner = runner or OnnxRunner(ms.DAMAGE_DETECTOR, models_dir, threads=2)
            rgb = load_rgb(s.path)
            raw, geo, _ = run_model(runner, rgb)
            dets, w, h = decode(raw, 0, geo, AP_SCORE_FLOOR, AP_SCORE_FLOOR).damages, rgb.shape[1], rgb.shape[0]
            file.write_bytes(pickle.dumps((dets, w, h)))
        if n % 100 == 0:
            print(f"  {n}/{len(samples)} photos", flush=True)
        out.append((s, dets, w, h))
    return out


def matched(photos: list[tuple[Sample, list[Detection], int, int]]) -> tuple[list[Matched], int]:
    """Matched ground-truth boxes, and how many labelled boxes there were."""
    rows, total = [], 0
    for s, dets, w, h in photos:
        for i, gt in enumerate(s.boxes.astype(np.float64)):
            t, sev, p = (int(s.labels[head][i]) for head in ("damage_type", "severity", "part_kind"))
            if t < 0 or sev < 0:
                continue
            total += 1
            d = matched_detection(gt, dets)
            if d is not None:
                kind = ms.PART_KINDS[p] if p >= 0 else None
                truth = deg.label_degree(ms.DAMAGE_TYPES[t], ms.SEVERITIES[sev], kind)
                rows.append(Matched(source_photo(s.path), truth, d, w, h))
    return rows, total


# ---------------------------------------------------------------- fitting (numpy)


def fit_logistic(x: np.ndarray, y: np.ndarray, weights: np.ndarray, l2: float) -> np.ndarray:
    """Weighted L2 logistic regression by Newton steps; returns [bias, coefficients...] (bias not penalised)."""
    a = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(a.shape[1])
    penalty = np.full(a.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a @ beta)))
        grad = a.T @ (weights * (p - y)) + penalty * beta
        hess = (a * (weights * p * (1 - p))[:, None]).T @ a + np.diag(penalty) + 1e-9 * np.eye(a.shape[1])
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def class_weights(y: np.ndarray, balanced: bool) -> np.ndarray:
    if not balanced:
        return np.ones(len(y))
    share = y.mean()
    return np.where(y == 1, 0.5 / share, 0.5 / (1 - share))


@dataclass(frozen=True)
class Fitted:
    mean: np.ndarray
    std: np.ndarray
    beta: np.ndarray
    platt: tuple[float, float]  # P = sigmoid(a * raw + b), raw = linear score

    def raw(self, x: np.ndarray) -> np.ndarray:
        return np.hstack([np.ones((len(x), 1)), (x - self.mean) / self.std]) @ self.beta


def fit(x: np.ndarray, y: np.ndarray, balanced: bool, l2: float, platt_raw: np.ndarray | None = None,
        platt_y: np.ndarray | None = None) -> Fitted:
    """Standardise, fit the logistic model; Platt-scale on the given (out-of-fold) raw scores, else identity."""
    mean, std = x.mean(0), x.std(0) + 1e-6
    beta = fit_logistic((x - mean) / std, y, class_weights(y, balanced), l2)
    platt = (1.0, 0.0)
    if platt_raw is not None and platt_y is not None:
        ab = fit_logistic(platt_raw[:, None], platt_y, np.ones(len(platt_y)), 1e-3)  # tiny L2: finite if separable
        platt = (float(ab[1]), float(ab[0]))
    return Fitted(mean, std, beta, platt)


def group_folds(groups: list[str], k: int, seed: int = 0) -> np.ndarray:
    """Fold index per row; all rows of one source photo in one fold."""
    unique = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {unique[j]: n % k for n, j in enumerate(order)}
    return np.array([fold_of[g] for g in groups])


def out_of_fold_raw(x: np.ndarray, y: np.ndarray, folds: np.ndarray, balanced: bool, l2: float) -> np.ndarray:
    raw = np.zeros(len(y))
    for f in np.unique(folds):
        test = folds == f
        raw[test] = fit(x[~test], y[~test], balanced, l2).raw(x[test])
    return raw


def decide_all(p_replace: np.ndarray, rows: list[Matched], threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(degree, calibrated probability of that degree), through degree.choose as the service does it."""
    hard, p_hard = hard_rule(rows)
    return deg.choose(p_replace, hard, p_hard, threshold)


def figures(y: np.ndarray, pred: np.ndarray, p_chosen: np.ndarray) -> dict[str, float]:
    return {
        "boxes": len(y),
        "replace share (truth)": float(y.mean()),
        "balanced accuracy": balanced_accuracy(y, pred),
        "accuracy": float((y == pred).mean()),
        "ECE (10 bins, P of chosen degree)": expected_calibration_error(p_chosen, pred == y),
        "scores of exactly 100": int((np.round(100 * p_chosen) == 100).sum()),
        "wrong degree with score >= 95": int(((np.round(100 * p_chosen) >= 95) & (pred != y)).sum()),
        "replace recall": float((pred[y == 1] == 1).mean()) if (y == 1).any() else float("nan"),
        "repair recall": float((pred[y == 0] == 0).mean()) if (y == 0).any() else float("nan"),
    }


def hard_rule(rows: list[Matched]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: does the hard rule fire, and the probability of its premise."""
    types = [deg.as_dict(ms.DAMAGE_TYPES, r.det.type_probs) for r in rows]
    parts = [deg.as_dict(ms.PART_KINDS, r.det.part_probs) for r in rows]
    return (np.array([deg.hard_replace(t, r.kind) for t, r in zip(types, rows, strict=True)], dtype=bool),
            np.array([deg.hard_rule_probability(t, p) for t, p in zip(types, parts, strict=True)]))


def old_rule(rows: list[Matched]) -> dict[str, float]:
    old = [deg.rule_decide(deg.as_dict(ms.DAMAGE_TYPES, r.det.type_probs),
                           deg.as_dict(ms.SEVERITIES, r.det.severity_probs), r.kind) for r in rows]
    y = np.array([r.truth for r in rows])
    pred = np.array([d.degree_id for d in old])
    return figures(y, pred, np.array([d.score for d in old]) / 100)


def choose_threshold(p: np.ndarray, y: np.ndarray, rows: list[Matched]) -> float:
    """The threshold on calibrated P(replace) with the best out-of-fold balanced accuracy (ties: closest to 0.5)."""
    best = (-1.0, 0.0, 0.5)
    for t in np.round(np.arange(0.02, 0.81, 0.01), 2):
        ba = balanced_accuracy(y, decide_all(p, rows, float(t))[0])
        best = max(best, (round(ba, 4), -abs(float(t) - 0.5), float(t)))
    return best[2]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classmap", type=Path, default=HERE / "classmap.yaml")
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    ap.add_argument("--models-dir", type=Path, default=REPO / "models")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/picloss_degree_cache"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=OUT_JSON)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--extract-only", action="store_true", help="only run the detector and fill the cache")
    ap.add_argument("--cached-only", action="store_true", help="cached photos only (partial; implies --no-write)")
    args = ap.parse_args(argv)

    classmap = ClassMap.load(args.classmap)
    train_s = dedupe_identical([s for s in read_split(classmap, "train", args.data_root) if s.dataset == DATASET])
    val_all = dedupe_identical([s for s in read_split(classmap, "val", args.data_root) if s.dataset == DATASET])
    val_s = without_leaked(val_all, leaked_val_files(args.data_root / "DUPLICATES.tsv", classmap))
    print(f"train photos {len(train_s)}, val photos {len(val_s)} (leaked excluded: {len(val_all) - len(val_s)})")
    val_photos = detections(val_s, args.models_dir, args.cache, args.cached_only)
    train_photos = detections(train_s, args.models_dir, args.cache, args.cached_only)
    args.no_write = args.no_write or args.cached_only
    if args.extract_only:
        return
    train, train_total = matched(train_photos)
    val, val_total = matched(val_photos)
    x, y = np.array([r.x for r in train]), np.array([r.truth for r in train])
    groups = [r.group for r in train]
    folds = group_folds(groups, args.folds)
    print(f"train: {len(train)}/{train_total} labelled boxes matched, {y.sum()} replace, {len(set(groups))} photos")

    def platt_p(model: Fitted, raw: np.ndarray) -> np.ndarray:
        a, c = model.platt
        return np.asarray(1 / (1 + np.exp(-(a * raw + c))))

    # Model choice on train folds only: class weighting and L2 strength by out-of-fold balanced accuracy
    # (ECE above 0.05 penalised). Platt and the threshold here come from the same out-of-fold scores they
    # are judged on, so the figures reported below are nested (re-chosen inside each outer fold).
    candidates = []
    for balanced in (True, False):
        for l2 in (0.1, 1.0, 10.0):
            raw = out_of_fold_raw(x, y, folds, balanced, l2)
            p = platt_p(fit(x, y, balanced, l2, raw, y), raw)
            t = choose_threshold(p, y, train)
            f = figures(y, *decide_all(p, train, t))
            ece = f["ECE (10 bins, P of chosen degree)"]
            print(f"  balanced={balanced} l2={l2}: threshold {t:.2f} BA {f['balanced accuracy']:.3f} ECE {ece:.3f}")
            candidates.append((f["balanced accuracy"] - max(0.0, ece - 0.05), balanced, l2))
    _, balanced, l2 = max(candidates)

    # Nested out-of-fold: per outer fold, inner folds give the raw scores for Platt and the threshold.
    oof_deg, oof_prob = np.zeros(len(y), int), np.zeros(len(y))
    for f_out in np.unique(folds):
        tr, te = folds != f_out, folds == f_out
        rows_tr = [r for r, m in zip(train, tr, strict=True) if m]
        rows_te = [r for r, m in zip(train, te, strict=True) if m]
        inner = group_folds([r.group for r in rows_tr], args.folds, seed=1)
        raw_in = out_of_fold_raw(x[tr], y[tr], inner, balanced, l2)
        model = fit(x[tr], y[tr], balanced, l2, raw_in, y[tr])
        t = choose_threshold(platt_p(model, raw_in), y[tr], rows_tr)
        oof_deg[te], oof_prob[te] = decide_all(platt_p(model, model.raw(x[te])), rows_te, t)
    oof = figures(y, oof_deg, oof_prob)

    # Final: fit on all train, Platt on all out-of-fold raw scores, threshold on those.
    raw = out_of_fold_raw(x, y, folds, balanced, l2)
    final = fit(x, y, balanced, l2, raw, y)
    threshold = choose_threshold(platt_p(final, raw), y, train)
    params = {
        "feature_names": list(deg.FEATURE_NAMES),
        "mean": [round(float(v), 6) for v in final.mean],
        "std": [round(float(v), 6) for v in final.std],
        "coefficients": [round(float(v), 6) for v in final.beta],
        "platt": [round(final.platt[0], 6), round(final.platt[1], 6)],
        "threshold": threshold,
    }
    model = deg.CalibratedDegree.from_dict(params)

    def service_figures(rows: list[Matched]) -> dict[str, float]:
        out = [model.decide(deg.as_dict(ms.DAMAGE_TYPES, r.det.type_probs),
                            deg.as_dict(ms.SEVERITIES, r.det.severity_probs), r.kind,
                            deg.as_dict(ms.PART_KINDS, r.det.part_probs), r.x) for r in rows]
        yy = np.array([r.truth for r in rows])
        return figures(yy, np.array([d.degree_id for d in out]), np.array([d.probability for d in out]))

    def as_called_today(rows: list[Matched]) -> dict[str, float]:
        """What detector.py passes today (type, severity, part kind only; the rest imputed at the train mean)."""
        out = [deg.decide(deg.as_dict(ms.DAMAGE_TYPES, r.det.type_probs),
                          deg.as_dict(ms.SEVERITIES, r.det.severity_probs), r.kind, calibration=model) for r in rows]
        yy = np.array([r.truth for r in rows])
        return figures(yy, np.array([d.degree_id for d in out]), np.array([d.probability for d in out]))

    val_fig = service_figures(val)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO).stdout.strip()
    record = {
        "about": "Calibrated P(replace) for picloss/engines/damage/degree.py "
                 "(python -m training.damage.calibrate_degree)",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "model": f"{ms.DAMAGE_DETECTOR.name}/{ms.DAMAGE_DETECTOR.version}",
        "model_sha256": model_sha256(args.models_dir),
        "data": {
            "fitted on": f"{DATASET} train, {len(train_s)} distinct photos ({len(set(groups))} source photos), "
                         f"{len(train)} of {train_total} labelled boxes matched (IoU >= {MATCH_IOU})",
            "held out": f"{DATASET} val minus leaked, {len(val_s)} photos, {len(val)} of {val_total} boxes matched; "
                        "never fitted on",
        },
        "method": {"logistic regression": "L2, numpy Newton", "class weighted": balanced, "l2": l2,
                   "folds": f"{args.folds}, grouped by source photo", "calibration": "Platt on out-of-fold scores",
                   "threshold": "best out-of-fold balanced accuracy"},
        "caveat": "the detector was trained on the train photos, so its train outputs are over-confident: judge by "
                  "the val figures; re-fit on photos the detector did not train on when a detector keeps some out",
        "params": params,
        "figures": {
            "train out-of-fold (nested: Platt and threshold re-chosen per fold)": oof,
            "train in-sample (final parameters)": service_figures(train),
            "val held out (final parameters)": val_fig,
            "val held out, only type/severity/part kind passed (detector.py today)": as_called_today(val),
            "val, old rule (for comparison)": old_rule(val),
            "train, old rule (for comparison)": old_rule(train),
        },
    }
    record["check"] = [{"input": case, "expected": dataclasses.asdict(deg.decide(**case, calibration=model))}
                       for case in CHECK_CASES]
    print(json.dumps(record, indent=2))
    if not args.no_write:
        args.out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
