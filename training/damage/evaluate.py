"""Evaluate the committed damage model on the val splits without leaked images (`make eval-damage`).

Prints the figures and writes them to docs/benchmarks.md under `## Damage (make eval-damage)`.
Runs the ONNX file with onnxruntime (2 threads) through the service's own pre/post-processing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import statistics
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from picloss.engines.aggregator.rules import Sighting, adopt_from_wider, aggregate
from picloss.engines.damage import components as comp
from picloss.engines.damage import degree as deg
from picloss.engines.damage import pose, verifier
from picloss.engines.damage import vehicles as veh
from picloss.engines.damage.assess import Assessment, decide, verified
from picloss.engines.damage.detector import (
    DEFAULT_SCORE_THRESHOLD,
    Detection,
    PhotoDetections,
    decode,
    reported,
)
from picloss.engines.models import car_detector, damage_gate, damage_verifier, view_classifier
from picloss.engines.models import damage_detector as ms
from picloss.engines.models.damage_detector import Letterbox, letterbox, to_batch
from picloss.engines.registration import extract
from picloss.platform.inference import OnnxRunner
from picloss.protocol.components import UNKNOWN_PART_ID
from training.damage.calibration import balanced_accuracy, expected_calibration_error
from training.damage.datasets import (
    DEFAULT_DATA_ROOT,
    ClassMap,
    CleanCar,
    Sample,
    dedupe_identical,
    leaked_val_files,
    read_clean_cars,
    read_split,
    without_leaked,
)
from training.damage.metrics import BoxF1, SetScore, average_precision, box_iou
from training.damage.verifier_data import HELD_OUT_CLEAN_SUBSET

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SECTION = "## Damage (make eval-damage)"
AP_SCORE_FLOOR = 0.01
MATCH_IOU = 0.3
CROP_PAD = 1.8


@dataclass
class PhotoResult:
    sample: Sample
    found: PhotoDetections  # both channels, score >= AP_SCORE_FLOOR, for AP
    service: list[Detection]  # what the service reports (its thresholds and gates)
    seconds: float
    seen: Seen | None = None

    @property
    def all_dets(self) -> list[Detection]:
        """The channel this photo's labels measure: damages on damage_severity, damaged parts on damaged_parts."""
        return self.found.damages if self.sample.dataset == "damage_severity" else self.found.parts


def load_rgb(path: Path | io.BytesIO) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def run_model(runner: OnnxRunner, rgb: np.ndarray) -> tuple[dict[str, np.ndarray], Letterbox, float]:
    """The model's raw outputs for one photo, its letterbox geometry and the seconds it took."""
    start = time.perf_counter()
    img, geo = letterbox(rgb)
    out = runner.infer_sync({ms.INPUT_IMAGES: to_batch([img])})
    return out, geo, time.perf_counter() - start


class Gates:
    """The damage service's two gates, run here exactly as services/damage/__main__.py wires them."""

    def __init__(self, models_dir: Path, use_gate: bool = True, use_cars: bool = True,
                 threshold: float | None = None, use_view: bool = True, use_verifier: bool = True) -> None:
        from picloss.engines.damage import gate as gate_mod

        self.gate_runner = OnnxRunner(damage_gate.GATE_SPEC, models_dir, threads=2) if use_gate else None
        self.car_runner = OnnxRunner(car_detector.CAR_DETECTOR, models_dir, threads=2) if use_cars else None
        view_path = view_classifier.VIEW_SPEC.onnx_path(models_dir)
        self.view_runner = (OnnxRunner(view_classifier.VIEW_SPEC, models_dir, threads=2)
                            if use_cars and use_view and view_path.exists() else None)
        gate_path = models_dir / damage_gate.GATE_SPEC.name / "gate.json"  # a candidate gate's own record
        gate_record = json.loads(gate_path.read_text()) if gate_path.exists() else {}
        self.threshold = threshold if threshold is not None else float(
            gate_record.get("threshold", gate_mod.DAMAGE_THRESHOLD))
        # whether the gate trained on the held-out clean source (the shipped gate does, the leave-source-out one not)
        self.trained_on_held_out = "train_counts" not in gate_record or any(
            k.startswith(f"clean_cars/{HELD_OUT_CLEAN_SUBSET}/") for k in gate_record["train_counts"])
        self._gate_mod = gate_mod
        verifier_path = damage_verifier.VERIFIER_SPEC.onnx_path(models_dir)
        self.verifier_runner = (OnnxRunner(damage_verifier.VERIFIER_SPEC, models_dir, threads=2)
                                if use_verifier and verifier_path.exists() else None)
        # The combinations and operating point recorded with the verifier in --models-dir (a candidate model is
        # measured with its own), else the service's constants.
        record_path = verifier_path.parent.parent / "verifier.json"
        record = json.loads(record_path.read_text()) if record_path.exists() else {}
        self.combination = (verifier.combination_from_record(record["combination"]) if "combination" in record
                            else verifier.COMBINATION)
        self.combination_without_gate = (
            verifier.combination_from_record(record["combination_without_gate"])
            if "combination_without_gate" in record else
            self.combination if not self.combination.gate_weight else verifier.COMBINATION_WITHOUT_GATE)
        self.min_confidence = float(record.get("threshold", verifier.DEFAULT_MIN_CONFIDENCE))

    def verify(self, rgb: np.ndarray, damages: list[Detection]) -> tuple[list[float], float]:
        """The verifier's probability for each candidate damage (empty without a verifier), and the seconds."""
        if self.verifier_runner is None or not damages:
            return [], 0.0
        start = time.perf_counter()
        probs = asyncio.run(verifier.verifier_probabilities(self.verifier_runner, rgb, [d.box for d in damages]))
        return probs, time.perf_counter() - start

    def run(self, rgb: np.ndarray) -> tuple[float | None, list[veh.Vehicle] | None, float]:
        """(damage probability, vehicles, seconds) for one photo."""
        start = time.perf_counter()
        prob = (asyncio.run(self._gate_mod.damage_probability(self.gate_runner, [rgb]))[0]
                if self.gate_runner else None)
        cars = asyncio.run(veh.find_vehicles(self.car_runner, [rgb]))[0] if self.car_runner else None
        return prob, cars, time.perf_counter() - start

    def view(self, rgb: np.ndarray, target: veh.Vehicle | None) -> tuple[np.ndarray | None, float]:
        """The pose probabilities of the vehicle of interest (picloss/engines/damage/pose.py), and the seconds taken."""
        if self.view_runner is None or target is None:
            return None, 0.0
        start = time.perf_counter()
        probs = asyncio.run(pose.pose_probabilities(self.view_runner, [rgb], [target.box]))[0]
        return probs, time.perf_counter() - start


@dataclass
class Seen:
    """Everything the service computes on one photo, so that each gate variant is decided from one pass."""

    out: dict[str, np.ndarray]
    geo: Letterbox
    service: PhotoDetections  # the detector's reported damages and damaged parts (no gates)
    prob: float | None
    cars: list[veh.Vehicle] | None
    detector_seconds: float
    gate_seconds: float
    width: int
    height: int
    pose_probs: np.ndarray | None = None  # view model on the vehicle of interest (None: no view model or no car)
    candidates: PhotoDetections | None = None  # the detector at the verifier's candidate threshold
    scored: list[Detection] | None = None  # every candidate with its existence confidence (None: no verifier)
    scored_without_gate: list[Detection] | None = None  # the same, the combination without the damage gate
    verifier_seconds: float = 0.0
    min_confidence: float = verifier.DEFAULT_MIN_CONFIDENCE  # the verifier's recorded operating point

    def verdict(self, variant: str, gate_threshold: float, min_confidence: float | None = None) -> Assessment:
        """variant: detector (no gates, detector threshold), damage_gate, car_gate, both (both gates, then the
        sides from the pose of the vehicle of interest: the service before issue 21), verified (both gates on the
        verifier's candidates, then the verifier at `min_confidence`: the service now), car_verified (the car gate
        and the verifier, no damage gate)."""
        if variant in ("verified", "car_verified"):
            assert self.candidates is not None and self.scored is not None
            prob = self.prob if variant == "verified" else None
            base = decide(self.candidates, self.width, self.height, self.cars, prob, gate_threshold)
            kept = {d.box for d in base.damages}
            every = self.scored if variant == "verified" or self.scored_without_gate is None else (
                self.scored_without_gate)
            scored = [d for d in every if d.box in kept]
            threshold = self.min_confidence if min_confidence is None else min_confidence
            return pose.side_assessment(verified(base, scored, threshold), self.pose_probs, self.width)
        prob = self.prob if variant in ("damage_gate", "both") else None
        cars = self.cars if variant in ("car_gate", "both") else None
        assessment = decide(self.service, self.width, self.height, cars, prob, gate_threshold)
        if variant == "both":
            assessment = pose.side_assessment(assessment, self.pose_probs, self.width)
        return assessment


VARIANTS = ("detector", "damage_gate", "car_gate", "both")
VERIFIED_VARIANTS = ("car_verified", "verified")
SERVICE_VARIANT = "verified"


def see(runner: OnnxRunner, gates: Gates | None, rgb: np.ndarray, threshold: float) -> Seen:
    out, geo, seconds = run_model(runner, rgb)
    found = decode(out, 0, geo, threshold)
    service = PhotoDetections(reported(found, threshold), found.parts, found.covered)
    prob, cars, gate_seconds = gates.run(rgb) if gates else (None, None, 0.0)
    seen = Seen(out, geo, service, prob, cars, seconds, gate_seconds, rgb.shape[1], rgb.shape[0])
    if gates is not None and gates.verifier_runner is not None:
        floor = decode(out, 0, geo, verifier.CANDIDATE_THRESHOLD)
        seen.candidates = PhotoDetections(reported(floor, verifier.CANDIDATE_THRESHOLD), floor.parts, floor.covered)
        # The service verifies only what passes the gates; here every candidate is scored once, so that each
        # variant and operating point is decided from one pass (the latency counts the service's share).
        probs, verify_seconds = gates.verify(rgb, seen.candidates.damages)
        with_gate = gates.combination if prob is not None else gates.combination_without_gate
        seen.scored = verifier.with_existence(seen.candidates.damages, probs, prob, with_gate)
        seen.scored_without_gate = verifier.with_existence(seen.candidates.damages, probs, None,
                                                           gates.combination_without_gate)
        seen.min_confidence = gates.min_confidence
        gated = decide(seen.candidates, seen.width, seen.height, cars, prob, gates.threshold).damages
        seen.verifier_seconds = verify_seconds * len(gated) / max(len(seen.candidates.damages), 1)
    if gates is not None:  # as the service: the gated verdict first, then the pose where it can matter
        for variant in ("both", *(VERIFIED_VARIANTS if seen.scored is not None else ())):
            first = seen.verdict(variant, gates.threshold)  # pose_probs still None: the gates alone
            if pose.wants_pose(first):
                seen.pose_probs, view_seconds = gates.view(rgb, first.of_interest)
                seen.gate_seconds += view_seconds
                break
    return seen


def service_variant(gates: Gates | None) -> str:
    """What the service does with these models: the verifier when there is one, else the gates."""
    if gates is None:
        return "detector"
    return SERVICE_VARIANT if gates.verifier_runner is not None else "both"


def as_arrays(dets: list[Detection]) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.array([d.box for d in dets], dtype=np.float64).reshape(-1, 4)
    return boxes, np.array([d.score for d in dets])


def matched_detection(gt_box: np.ndarray, dets: list[Detection]) -> Detection | None:
    """The highest-IoU detection (IoU >= MATCH_IOU) of a ground-truth box."""
    if not dets:
        return None
    ious = box_iou(gt_box[None], as_arrays(dets)[0])[0]
    best = int(np.argmax(ious))
    return dets[best] if ious[best] >= MATCH_IOU else None


def ap_figures(results: list[PhotoResult]) -> dict[str, float]:
    figures: dict[str, float] = {}
    for name, subset in (
        ("damage (damage_severity)", [r for r in results if r.sample.dataset == "damage_severity"]),
        ("damaged part (damaged_parts)", [r for r in results if r.sample.dataset == "damaged_parts"]),
    ):
        preds = [as_arrays(r.all_dets) for r in subset]
        gts = [r.sample.boxes.astype(np.float64) for r in subset]
        figures[f"AP50 {name}"] = average_precision(preds, gts, 0.5)
        figures[f"AP30 {name}"] = average_precision(preds, gts, 0.3)
        figures[f"AP50 {name}, small boxes (< 32x32 px)"] = average_precision(preds, gts, 0.5, (0, 32**2))
        figures[f"AP50 {name}, medium and large boxes (>= 32x32 px)"] = average_precision(
            preds, gts, 0.5, (32**2, float("inf"))
        )
    severity = [r for r in results if r.sample.dataset == "damage_severity"]
    for t_index, t_name in enumerate(ms.DAMAGE_TYPES):
        preds, gts = [], []
        for r in severity:
            dets = [d for d in r.all_dets if d.damage_type == t_name]
            preds.append(as_arrays(dets))
            gts.append(r.sample.boxes[r.sample.labels["damage_type"] == t_index].astype(np.float64))
        figures[f"AP50 {t_name}"] = average_precision(preds, gts, 0.5)
        figures[f"AP30 {t_name}"] = average_precision(preds, gts, 0.3)
        figures[f"ground-truth boxes {t_name}"] = sum(len(g) for g in gts)
    return figures


def degree_and_part(results: list[PhotoResult]) -> dict[str, float]:
    deg_truth, deg_pred, part_hits, part_total, part_gt, deg_gt = [], [], 0, 0, 0, 0
    deg_score: list[float] = []
    for r in results:
        for i, gt_box in enumerate(r.sample.boxes.astype(np.float64)):
            t, s, p = (int(r.sample.labels[h][i]) for h in ("damage_type", "severity", "part_kind"))
            if t >= 0 and s >= 0:
                deg_gt += 1
                d = matched_detection(gt_box, r.all_dets)
                if d is not None:
                    deg_truth.append(deg.label_degree(ms.DAMAGE_TYPES[t], ms.SEVERITIES[s]))
                    deg_pred.append(d.degree_id)
                    deg_score.append(d.degree_score / 100)
            if p >= 0:
                part_gt += 1
                d = matched_detection(gt_box, r.all_dets)
                if d is not None:
                    part_total += 1
                    part_hits += int(np.argmax(d.part_probs)) == p
    truth, pred = np.array(deg_truth), np.array(deg_pred)
    return {
        "degree accuracy": float((truth == pred).mean()) if len(truth) else float("nan"),
        "degree balanced accuracy": balanced_accuracy(truth, pred) if len(truth) else float("nan"),
        "degree expected calibration error (10 bins, score of the chosen degree)": (
            expected_calibration_error(np.array(deg_score), truth == pred) if len(truth) else float("nan")),
        "degree scores of exactly 100": int(sum(sc >= 1.0 for sc in deg_score)),
        "degree boxes matched": len(truth),
        "degree boxes total": deg_gt,
        "degree replace share (truth)": float(truth.mean()) if len(truth) else float("nan"),
        "part top-1": part_hits / max(part_total, 1),
        "part boxes matched": part_total,
        "part boxes total": part_gt,
    }


def truth_components(sample: Sample) -> set[int]:
    """Component ids the photo's own labels support, by the same side rule as the service."""
    kinds = [ms.PART_KINDS[int(k)] for k in sample.labels["part_kind"]]
    sightings = [comp.PartSighting(k, 1.0, float(b[[0, 2]].mean())) for k, b in zip(kinds, sample.boxes, strict=True)]
    with Image.open(sample.path) as im:
        width = im.size[0]
    return {comp.component_id(k, 1.0, s.cx, width, sightings) for k, s in zip(kinds, sightings, strict=True)}


def reshoot(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Make a crop look more like a separate photo: turned by up to 5 degrees, different light,
    recompressed as JPEG. (Not zoomed: upscaling a crop of a <= 256 px photo only blurs it, while
    a real close-up has more detail. The unit tests register sharp 1-3x zoomed close-ups.)"""
    im = Image.fromarray(crop).rotate(
        rng.uniform(-5, 5), resample=Image.Resampling.BICUBIC, fillcolor=tuple(int(v) for v in crop.mean((0, 1)))
    )
    arr = np.asarray(im).astype(np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-15, 15)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=85)
    return load_rgb(buf)


def closeups(rgb: np.ndarray, boxes: np.ndarray, n: int = 2, seed: int = 0) -> list[np.ndarray]:
    """Close-up photos around the (up to n largest) damage boxes, like a second and third photo."""
    h, w = rgb.shape[:2]
    rng = np.random.default_rng(seed)
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[:n]
    crops = []
    for x0, y0, x1, y1 in boxes[order]:
        side = max(x1 - x0, y1 - y0) * CROP_PAD
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        a, b = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        c, d = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        if c - a >= 16 and d - b >= 16 and (c - a) * (d - b) < 0.8 * w * h:
            crops.append(reshoot(rgb[b:d, a:c], rng))
    return crops


def batch_vs_single(runner: OnnxRunner, samples: list[Sample], threshold: float, gates: Gates | None = None
                    ) -> dict[str, float]:
    single, batch, kind_only = SetScore(), SetScore(), SetScore()
    n_claims = n_photos = n_registered = 0
    for number, s in enumerate(samples):
        if len(s.boxes) == 0:
            continue
        rgb = load_rgb(s.path)
        photos = [rgb, *closeups(rgb, s.boxes, seed=number)]
        if len(photos) < 2:
            continue
        truth = truth_components(s)
        sightings, single_ids, parts = [], set(), {}
        for i, photo in enumerate(photos):
            found = see(runner, gates, photo, threshold).verdict(service_variant(gates),
                                                                  gates.threshold if gates else 0.5)
            for d in found.damages:
                single_ids.add(d.components[0][0])
                sightings.append(
                    Sighting(f"p{i}", d.components[0][0], d.degree_id, d.degree_score, d.box, d.components[0][1])
                )
            parts[f"p{i}"] = [
                Sighting(f"p{i}", d.components[0][0], d.degree_id, d.degree_score, d.box) for d in found.parts
            ]
        order = [f"p{i}" for i in range(len(photos))]
        features = {f"p{i}": extract(photo) for i, photo in enumerate(photos)}
        adopted, links = adopt_from_wider(sightings, features, parts)  # rule 0, once
        n_registered += len(links)
        batch_ids = {e.component_id for e in aggregate(adopted, order)}
        kind_only_ids = {e.component_id for e in aggregate(sightings, order)}
        single.add(single_ids, truth)
        batch.add(batch_ids, truth)
        kind_only.add(kind_only_ids, truth)
        n_claims += 1
        n_photos += len(photos)
    return {
        "claims": n_claims,
        "claim photos": n_photos,
        "SINGLE precision": single.precision,
        "SINGLE recall": single.recall,
        "SINGLE F1": single.f1,
        "BATCH precision": batch.precision,
        "BATCH recall": batch.recall,
        "BATCH F1": batch.f1,
        "BATCH F1 without registration (side/kind rules only)": kind_only.f1,
        "close-ups registered into the wide photo": n_registered,
        "close-ups": n_photos - n_claims,
    }


def side_rates(results: list[PhotoResult]) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for r in results:
        for d in r.service:
            cid = d.components[0][0]
            counts["damages"] += 1
            counts["part unknown (40)"] += cid == UNKNOWN_PART_ID
            if d.part_kind in ("bumper", "lamp"):
                counts["bumper/lamp"] += 1
                counts["bumper/lamp sided"] += comp.side_decided(cid)
            if d.part_kind in ("bumper", "lamp", "door", "fender"):
                counts["sideable"] += 1
                counts["sideable sided"] += comp.side_decided(cid)
    return {
        "damages at service threshold": counts["damages"],
        "share with no recognisable part (40)": counts["part unknown (40)"] / max(counts["damages"], 1),
        "side decided, bumper+lamp": counts["bumper/lamp sided"] / max(counts["bumper/lamp"], 1),
        "side decided, bumper+lamp+door+fender": counts["sideable sided"] / max(counts["sideable"], 1),
    }


def labelled_sides(results: list[PhotoResult]) -> dict[str, float]:
    """Issue 11 item 6: of the reported sideable damages on the hand-labelled damaged_parts val photos, the share
    given a side and the share right among those (training/damage/eval_sides.py judges each against its box)."""
    from training.damage.eval_sides import Reported, side_figures

    parts = [r for r in results if r.sample.dataset == "damaged_parts" and r.seen is not None]
    reported = {r.sample.path.name: [Reported(d.components[0][0], tuple(d.box)) for d in r.service] for r in parts}
    sizes = {r.sample.path.name: (r.seen.width, r.seen.height) for r in parts}  # type: ignore[union-attr]
    return side_figures(reported, sizes)


def black_box(results: list[PhotoResult], gate_threshold: float, variants: tuple[str, ...] = VARIANTS
              ) -> dict[str, float]:
    """What an adjuster gets, per gate variant: F1 of the reported damage boxes against damage_severity val,
    damaged-part recall on damaged_parts val (IoU >= 0.5; 'right kind': the reported box's part kind is the
    labelled one), and the share of damage photos with at least one reported damage."""
    figures: dict[str, float] = {}
    for variant in variants:
        f50, f30 = BoxF1(iou_threshold=0.5), BoxF1(iou_threshold=0.3)
        part_gt = part_hit = part_kind_hit = photos = photos_hit = 0
        for r in results:
            if r.seen is None:
                continue
            reported_dets = r.seen.verdict(variant, gate_threshold).damages
            boxes = as_arrays(reported_dets)[0]
            gt = r.sample.boxes.astype(np.float64)
            if len(gt):
                photos += 1
                photos_hit += bool(reported_dets)
            if r.sample.dataset == "damage_severity":
                f50.add(boxes, gt)
                f30.add(boxes, gt)
                continue
            for i, g in enumerate(gt):
                part_gt += 1
                if not len(boxes):
                    continue
                ious = box_iou(g[None], boxes)[0]
                hits = [d for d, iou in zip(reported_dets, ious, strict=True) if iou >= 0.5]
                part_hit += bool(hits)
                kind = int(r.sample.labels["part_kind"][i])
                part_kind_hit += any(kind >= 0 and d.part_kind == ms.PART_KINDS[kind] for d in hits)
        figures[f"{variant}: damage F1 @IoU0.5"] = f50.f1
        figures[f"{variant}: damage precision / recall @IoU0.5"] = f"{f50.precision:.3f} / {f50.recall:.3f}"
        figures[f"{variant}: damage F1 @IoU0.3"] = f30.f1
        figures[f"{variant}: damaged-part recall @IoU0.5"] = part_hit / max(part_gt, 1)
        figures[f"{variant}: damaged-part recall with the right kind"] = part_kind_hit / max(part_gt, 1)
        figures[f"{variant}: damage photos with a reported damage"] = photos_hit / max(photos, 1)
    return figures


def on_plate(d: Detection, plates: np.ndarray) -> bool:
    cx, cy = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2
    inside = any(p[0] <= cx <= p[2] and p[1] <= cy <= p[3] for p in plates)
    return inside or (len(plates) > 0 and float(box_iou(np.array([d.box], float), plates.astype(float)).max()) > 0.3)


# Whether the damage gate of the evaluated models trained on clean_cars/vehicles/train (the shipped gate does; the
# leave-source-out gate of `make eval-damage-unseen-source` does not): set by main() from `Gates`.
GATE_TRAINED_ON_HELD_OUT = True


def clean_source(c: CleanCar) -> str:
    """plates valid: the val split of a source every damage model trained on; vehicles valid: photos no model trained
    on; vehicles train: held out from the detector and the verifier, and from the gate unless it trained on it (the
    service's figure there is then optimistic)."""
    split = c.path.parent.parent.name
    if c.subset == HELD_OUT_CLEAN_SUBSET and split == "train" and GATE_TRAINED_ON_HELD_OUT:
        return "vehicles train (gate trained on it)"
    return f"{c.subset} {split}"


def clean_car_figures(runner: OnnxRunner, gates: Gates | None, cars: list[CleanCar], threshold: float,
                      gate_threshold: float, variants: tuple[str, ...] = VARIANTS
                      ) -> tuple[dict[str, float], list[Seen]]:
    """False damage on photos of clean, undamaged cars (clean_cars valid: never trained on, no threshold chosen
    on them), per gate variant: share of photos with any reported damage, with a 'replace' damage, and (plates
    subset) with a damage on a licence plate."""
    seen = [see(runner, gates, load_rgb(c.path), threshold) for c in cars]
    figures: dict[str, float] = {"clean photos": len(cars), "of which with plate boxes": sum(len(c.plates) > 0
                                                                                         for c in cars)}
    for variant in variants:
        verdicts = [s.verdict(variant, gate_threshold) for s in seen]
        any_damage = [bool(v.damages) for v in verdicts]
        figures[f"{variant}: photos with false damage"] = float(np.mean(any_damage)) if cars else float("nan")
        for subset in dict.fromkeys(clean_source(c) for c in cars):
            flags = [a for a, c in zip(any_damage, cars, strict=True) if clean_source(c) == subset]
            figures[f"{variant}: photos with false damage, {subset}"] = float(np.mean(flags)) if flags else float("nan")
        figures[f"{variant}: photos with a false 'replace'"] = float(np.mean(
            [any(d.degree_id == 1 for d in v.damages) for v in verdicts])) if cars else float("nan")
        with_plates = [(v, c) for v, c in zip(verdicts, cars, strict=True) if len(c.plates)]
        figures[f"{variant}: plate photos with damage on the plate"] = float(np.mean(
            [any(on_plate(d, c.plates) for d in v.damages) for v, c in with_plates])) if with_plates else float("nan")
    return figures, seen


CURVE_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def operating_curve(results: list[PhotoResult], clean: list[tuple[CleanCar, Seen]], gate_threshold: float,
                    variant: str = SERVICE_VARIANT, default: float = verifier.DEFAULT_MIN_CONFIDENCE
                    ) -> list[dict[str, object]]:
    """The service's precision-recall trade-off along DAMAGE_MIN_CONFIDENCE (held-out photos only): damage boxes
    at IoU 0.3 and 0.5 on damage_severity val, damage photos with a reported damage (both val sets), clean-car
    photos with false damage per source; the default operating point marked."""
    thresholds = sorted({*CURVE_THRESHOLDS, round(default, 3)})
    sources = list(dict.fromkeys(clean_source(c) for c, _ in clean))
    rows: list[dict[str, object]] = []
    for t in thresholds:
        f30, f50 = BoxF1(iou_threshold=0.3), BoxF1(iou_threshold=0.5)
        photos = hit = 0
        for r in results:
            if r.seen is None:
                continue
            dets = r.seen.verdict(variant, gate_threshold, t).damages
            gt = r.sample.boxes.astype(np.float64)
            if len(gt):
                photos += 1
                hit += bool(dets)
            if r.sample.dataset == "damage_severity":
                f30.add(as_arrays(dets)[0], gt)
                f50.add(as_arrays(dets)[0], gt)
        row: dict[str, object] = {
            "min confidence": (f"**{t:g} (default)**" if abs(t - round(default, 3)) < 1e-9
                               else f"{t:.2f}"),
            "P @IoU0.3": f30.precision, "R @IoU0.3": f30.recall, "F1 @IoU0.3": f30.f1,
            "P @IoU0.5": f50.precision, "R @IoU0.5": f50.recall, "F1 @IoU0.5": f50.f1,
            "damage photos with a damage": hit / max(photos, 1)}
        for source in sources:
            flags = [bool(seen.verdict(variant, gate_threshold, t).damages) for c, seen in clean
                     if clean_source(c) == source]
            row[f"clean {source}: false damage"] = float(np.mean(flags)) if flags else float("nan")
        rows.append(row)
    return rows


def contact_sheet(results: list[PhotoResult], clean: list[tuple[CleanCar, Seen]], gate_threshold: float,
                  path: Path, tile: int = 320) -> Path:
    """24 held-out photos (8 damage_severity, 4 damaged_parts val; 6 clean plates val, 6 clean held-out vehicles),
    every candidate box drawn with its existence confidence: green reported, orange verified below the operating
    point, grey cut by a gate; true boxes blue."""
    import cv2

    picks: list[tuple[Path, np.ndarray, Seen]] = []
    for name, n in (("damage_severity", 8), ("damaged_parts", 4)):
        subset = [r for r in results if r.sample.dataset == name and r.seen is not None and len(r.sample.boxes)]
        step = max(1, len(subset) // n)
        picks += [(r.sample.path, r.sample.boxes, r.seen) for r in subset[::step][:n]]  # type: ignore[misc]
    for source in dict.fromkeys(clean_source(c) for c, _ in clean):
        subset = [(c, seen) for c, seen in clean if clean_source(c) == source]
        step = max(1, len(subset) // 6)
        picks += [(c.path, np.zeros((0, 4)), seen) for c, seen in subset[::step][:6]]
    tiles = []
    for photo, truth, seen in picks:
        rgb = load_rgb(photo).copy()
        scale = tile / max(rgb.shape[:2])
        img = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)))
        canvas = np.full((tile, tile, 3), 255, np.uint8)
        canvas[:img.shape[0], :img.shape[1]] = img
        for b in truth:
            x0, y0, x1, y1 = (int(v * scale) for v in b)
            cv2.rectangle(canvas, (x0, y0), (x1, y1), (40, 90, 255), 1)
        service = seen.verdict(SERVICE_VARIANT, gate_threshold) if seen.scored is not None else None
        reported_boxes = {d.box for d in service.damages} if service else set()
        gated = ({d.box for d in decide(seen.candidates, seen.width, seen.height, seen.cars, seen.prob,
                                        gate_threshold).damages} if seen.candidates is not None else set())
        for d in seen.scored or []:
            colour = (0, 170, 0) if d.box in reported_boxes else (255, 140, 0) if d.box in gated else (150, 150, 150)
            x0, y0, x1, y1 = (int(v * scale) for v in d.box)
            cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, 2 if d.box in reported_boxes else 1)
            cv2.putText(canvas, f"{round(100 * (d.existence or 0))}", (x0, max(9, y0 - 2)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.35, colour, 1, cv2.LINE_AA)
        cv2.putText(canvas, photo.parent.parent.name[:18] + "/" + photo.name[:14], (3, tile - 5),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(canvas)
    while len(tiles) % 6:
        tiles.append(np.full((tile, tile, 3), 255, np.uint8))
    sheet = np.concatenate([np.concatenate(tiles[i:i + 6], 1) for i in range(0, len(tiles), 6)], 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sheet[:, :, ::-1])
    return path


def sweep(args: argparse.Namespace, classmap: ClassMap) -> None:
    """SINGLE and BATCH claim F1 per score threshold on train photos (never val), for choosing
    picloss/engines/damage/detector.py DEFAULT_SCORE_THRESHOLD."""
    train = dedupe_identical([s for s in read_split(classmap, "train", args.data_root) if s.dataset == "damaged_parts"])
    rng = np.random.default_rng(0)
    chosen = [train[i] for i in sorted(rng.choice(len(train), size=min(args.sweep, len(train)), replace=False))]
    runner = OnnxRunner(ms.DAMAGE_DETECTOR, args.models_dir, threads=2)
    print("| threshold | SINGLE F1 | BATCH F1 |\n|---|---|---|")
    for threshold in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4):
        figures = batch_vs_single(runner, chosen, threshold)
        print(f"| {threshold} | {figures['SINGLE F1']:.3f} | {figures['BATCH F1']:.3f} |", flush=True)


def fmt(v: float | int) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def render(info: dict[str, str], sections: dict[str, Any], section: str = SECTION) -> str:
    lines = [section, "", " · ".join(f"{k}: {v}" for k, v in info.items()), ""]
    for title, figures in sections.items():
        if isinstance(figures, list):  # a curve: one row per operating point
            columns = list(figures[0]) if figures else []
            lines += [f"**{title}**", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(fmt(row[c]) if not isinstance(row[c], str) else row[c] for c in columns)
                      + " |" for row in figures]
            lines.append("")
            continue
        lines += [f"**{title}**", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {fmt(v)} |" for k, v in figures.items()]
        lines.append("")
    return "\n".join(lines)


def write_section(path: Path, text: str, section: str = SECTION) -> None:
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    start = old.find(section + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        nxt = old.find("\n## ", start + len(section))
        new = old[:start] + text + ("\n" + old[nxt + 1 :] if nxt >= 0 else "")
    path.write_text(new.rstrip("\n") + "\n")


def reduced_decode_figures(runner: OnnxRunner, gates: Gates | None, samples: list[Sample], threshold: float,
                           gate_threshold: float, long_side: int = 2560) -> dict[str, float]:
    """The damage service decodes a large photo reduced to its models' size (picloss.engines.damage.assess.decode) and
    maps
    the verdict's boxes back (in_photo_pixels). On val photos upscaled to a phone-like long side (JPEG q90): does
    that give the verdict a full decode gives? Boxes compared in the large photo's pixels."""
    from picloss.engines.boxes import box_iou
    from picloss.engines.damage.assess import decode as damage_decode
    from picloss.engines.damage.assess import in_photo_pixels
    from picloss.platform.imaging import decode_image, encode_jpeg

    same_verdict, counts_equal, matched, reported, reduced_px, full_px = 0, 0, 0, 0, [], []
    f1_full, f1_reduced = BoxF1(), BoxF1()  # against the val boxes, scaled with the photo
    for s in samples:
        rgb = load_rgb(s.path)
        scale = long_side / max(rgb.shape[:2])
        big = np.asarray(Image.fromarray(rgb).resize((round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
                                                     Image.Resampling.BICUBIC))
        data = encode_jpeg(big, quality=90)
        full_px.append(big.shape[0] * big.shape[1])
        full = see(runner, gates, decode_image(data).rgb, threshold).verdict(service_variant(gates),
                                                                              gate_threshold).damages
        small = damage_decode(data)
        reduced_px.append(small.rgb.shape[0] * small.rgb.shape[1])
        verdict = see(runner, gates, small.rgb, threshold).verdict(service_variant(gates), gate_threshold)
        served = in_photo_pixels(verdict, small).damages
        if s.dataset == "damage_severity":  # its boxes are damages (damaged_parts: parts)
            truth = s.boxes.reshape(-1, 4) * scale
            f1_full.add(np.array([d.box for d in full], float), truth)
            f1_reduced.add(np.array([d.box for d in served], float), truth)
        same_verdict += bool(full) == bool(served)
        counts_equal += len(full) == len(served)
        if full and served:
            iou = box_iou(np.array([d.box for d in full], float), np.array([d.box for d in served], float))
            matched += int((iou.max(axis=1) >= 0.5).sum())
        reported += len(full)
    n = len(samples)
    return {
        "photos (the first 60 damage_severity and 30 damaged_parts val photos, upscaled)": n,
        "long side of the photo sent (px)": long_side,
        "median pixels of the photo sent": float(statistics.median(full_px)) if full_px else 0.0,
        "median pixels the service decodes": float(statistics.median(reduced_px)) if reduced_px else 0.0,
        "same verdict (damage / no damage) as a full decode": same_verdict / n if n else 0.0,
        "same number of damages as a full decode": counts_equal / n if n else 0.0,
        "full-decode damages matched by the reduced decode's (IoU >= 0.5)": matched / reported if reported else 0.0,
        "damage box F1 against the damage_severity val boxes, full decode": f1_full.f1,
        "damage box F1 against the damage_severity val boxes, the service's reduced decode": f1_reduced.f1,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--classmap", type=Path, default=HERE / "classmap.yaml")
    p.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    p.add_argument("--models-dir", type=Path, default=REPO / "models")
    p.add_argument("--benchmarks", type=Path, default=REPO / "docs/benchmarks.md")
    p.add_argument("--threshold", type=float, default=DEFAULT_SCORE_THRESHOLD)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--section", default=SECTION, help="the docs/benchmarks.md section written (a heading line)")
    p.add_argument("--no-gates", action="store_true", help="the detector alone (no damage gate, no car gate)")
    p.add_argument("--gate-threshold", type=float, default=None,
                   help="damage-gate threshold (default: the service's DAMAGE_THRESHOLD); for candidate gates")
    p.add_argument("--limit", type=int, default=0, help="only the first N photos of each dataset (smoke runs)")
    p.add_argument("--sheet", type=Path, default=REPO / "training/runs/eval-damage/contact_sheet.png",
                   help="where the contact sheet of 24 held-out photos goes (not committed: dataset photos)")
    p.add_argument(
        "--sweep",
        type=int,
        default=0,
        help="choose the score threshold instead: claim F1 on the first N *train* damaged_parts photos",
    )
    args = p.parse_args(argv)

    classmap = ClassMap.load(args.classmap)
    if args.sweep:
        sweep(args, classmap)
        return
    val_all = read_split(classmap, "val", args.data_root)
    val_distinct = dedupe_identical(val_all)
    leaked = leaked_val_files(args.data_root / "DUPLICATES.tsv", classmap)
    val = without_leaked(val_distinct, leaked)
    data = {
        "val photos (files)": len(val_all),
        "distinct": len(val_distinct),
        "leaked excluded": len(val_distinct) - len(val),
        "evaluated": len(val),
    }
    for name in ("damage_severity", "damaged_parts"):
        data[f"evaluated {name}"] = sum(s.dataset == name for s in val)
    if args.limit:
        val = [
            s for d in dict.fromkeys(x.dataset for x in val) for s in [x for x in val if x.dataset == d][: args.limit]
        ]
        data["smoke run: photos per dataset"] = args.limit

    runner = OnnxRunner(ms.DAMAGE_DETECTOR, args.models_dir, threads=2)
    gates = None if args.no_gates else Gates(args.models_dir, threshold=args.gate_threshold)
    global GATE_TRAINED_ON_HELD_OUT
    GATE_TRAINED_ON_HELD_OUT = gates.trained_on_held_out if gates else True
    gate_threshold = gates.threshold if gates else 0.5
    warm = np.full((480, 640, 3), 128, np.uint8)
    see(runner, gates, warm, args.threshold)  # warm-up
    results = []
    for s in val:
        seen = see(runner, gates, load_rgb(s.path), args.threshold)
        found = decode(seen.out, 0, seen.geo, AP_SCORE_FLOOR, AP_SCORE_FLOOR)
        service = seen.verdict(service_variant(gates), gate_threshold).damages
        results.append(PhotoResult(s, found, service, seen.detector_seconds, seen))
    clean = read_clean_cars("valid", args.data_root) + [  # the held-out clean source: its train split too
        c for c in read_clean_cars("train", args.data_root) if c.subset == HELD_OUT_CLEAN_SUBSET]
    if args.limit:
        clean = [c for sub in ("plates", "vehicles") for c in [x for x in clean if x.subset == sub][: args.limit]]
    variants = VARIANTS if gates else ("detector",)
    if gates is not None and gates.verifier_runner is not None:
        variants = (*variants, *VERIFIED_VARIANTS)
    clean_figures, clean_seen = clean_car_figures(runner, gates, clean, args.threshold, gate_threshold, variants)
    every = [r.seen for r in results if r.seen] + clean_seen
    detector_ms = [x.detector_seconds * 1000 for x in every]
    total_ms = [(x.detector_seconds + x.gate_seconds) * 1000 for x in every]
    path_ms = [(x.detector_seconds + x.gate_seconds + x.verifier_seconds) * 1000 for x in every]
    latency = {
        "detector median ms/photo (decode excluded, 2 threads)": statistics.median(detector_ms),
        "detector + damage gate + car gate + view model median ms/photo": statistics.median(total_ms),
        "detector + gates + view model p90 ms/photo": float(np.percentile(total_ms, 90)),
        "damage path (detector + gates + view model + verifier of the gated candidates) median ms/photo":
            statistics.median(path_ms),
        "damage path p90 ms/photo": float(np.percentile(path_ms, 90)),
        "verifier median ms/photo (photos with a gated candidate)":
            statistics.median([x.verifier_seconds * 1000 for x in every if x.verifier_seconds > 0] or [0.0]),
    }
    clean_pairs = list(zip(clean, clean_seen, strict=True))
    curve = (operating_curve(results, clean_pairs, gate_threshold, default=gates.min_confidence)
             if gates and gates.verifier_runner else [])
    if gates is not None and gates.verifier_runner is not None:
        sheet = contact_sheet(results, clean_pairs, gate_threshold, args.sheet)
        print(f"contact sheet: {sheet}")

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "models", "picloss", "services", "training"],
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout.strip()
    commit = f"{commit} (+ uncommitted changes)" if commit and dirty else commit
    info = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "?",
        "model": f"{ms.DAMAGE_DETECTOR.name}/{ms.DAMAGE_DETECTOR.version}"
                 + ("" if args.models_dir.resolve() == (REPO / "models").resolve() else f" (from {args.models_dir})"),
        "service score threshold": f"{args.threshold}",
        "gates": "none (--no-gates)" if gates is None else f"damage gate (threshold {gate_threshold}) + car gate",
        "verifier": (f"{damage_verifier.VERIFIER_SPEC.name} (candidates from detector score "
                     f"{verifier.CANDIDATE_THRESHOLD}, operating point DAMAGE_MIN_CONFIDENCE "
                     f"{gates.min_confidence}; existence from the verifier, the detector"
                     f"{' and the damage gate' if gates.combination.gate_weight else ''})"
                     if gates and gates.verifier_runner else "none"),
    }
    parts_val = [s for s in val if s.dataset == "damaged_parts"]
    sections = {
        "Data (val splits, leaked images excluded)": data,
        "Detection AP (class-agnostic per channel; per type on damage_severity)": ap_figures(results),
        f"Degree and part kind (ground-truth boxes matched by a detection, IoU >= {MATCH_IOU})": (
            degree_and_part(results)
        ),
        "What the service reports, per gate variant (damage_severity val boxes; damaged_parts val parts)": (
            black_box(results, gate_threshold, variants)
        ),
        "False damage on clean cars (clean_cars/*/valid, never trained on; clean_cars/vehicles train+valid: a "
        "source no model, threshold or rule was fitted to), per variant": clean_figures,
        "Operating points of the service (variant verified: gates, then the verifier; held-out photos only)": curve,
        "Component sides (what the service reports, all val photos)": side_rates(results),
        "Sides right on the hand-labelled val photos (training/damage/sides_labels.csv, evaluation only)": (
            labelled_sides(results)
        ),
        "BATCH vs SINGLE (damaged_parts val: wide photo + close-up crops per claim)": batch_vs_single(
            runner, parts_val, args.threshold, gates
        ),
        "Latency (letterbox + onnxruntime + post-processing, batch 1)": latency,
        "The service's reduced decode of large photos (val photos upscaled to 2560 px, JPEG q90)":
            reduced_decode_figures(runner, gates, [s for d, n in (("damage_severity", 60), ("damaged_parts", 30))
                                                   for s in [x for x in val if x.dataset == d][:n]],
                                   args.threshold, gate_threshold),
    }
    text = render(info, sections, args.section)
    print(text)
    if not args.no_write:
        write_section(args.benchmarks, text, args.section)
        print(f"written to {args.benchmarks}")


if __name__ == "__main__":
    main()
