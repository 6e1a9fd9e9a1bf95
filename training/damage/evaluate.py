"""Evaluate the committed damage model on the val splits without leaked images (`make eval-damage`).

Prints the figures and writes them to docs/benchmarks.md under `## Damage (make eval-damage)`.
Runs the ONNX file with onnxruntime (2 threads) through the service's own pre/post-processing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from picloss.inference import OnnxRunner
from picloss.registration import extract
from services.aggregator.rules import Sighting, adopt_from_wider, aggregate
from services.damage import components as comp
from services.damage import degree as deg
from services.damage import model_spec as ms
from services.damage.detector import (
    DEFAULT_SCORE_THRESHOLD,
    Detection,
    PhotoDetections,
    decode,
    postprocess,
    reported,
)
from services.damage.preprocess import Letterbox, letterbox, to_batch
from training.damage.datasets import (
    DEFAULT_DATA_ROOT,
    ClassMap,
    Sample,
    dedupe_identical,
    leaked_val_files,
    read_split,
    without_leaked,
)
from training.damage.metrics import SetScore, average_precision, box_iou

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
    service: list[Detection]  # what the service reports (its thresholds)
    seconds: float

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
    for r in results:
        for i, gt_box in enumerate(r.sample.boxes.astype(np.float64)):
            t, s, p = (int(r.sample.labels[h][i]) for h in ("damage_type", "severity", "part_kind"))
            if t >= 0 and s >= 0:
                deg_gt += 1
                d = matched_detection(gt_box, r.all_dets)
                if d is not None:
                    deg_truth.append(deg.label_degree(ms.DAMAGE_TYPES[t], ms.SEVERITIES[s]))
                    deg_pred.append(d.degree_id)
            if p >= 0:
                part_gt += 1
                d = matched_detection(gt_box, r.all_dets)
                if d is not None:
                    part_total += 1
                    part_hits += int(np.argmax(d.part_probs)) == p
    truth, pred = np.array(deg_truth), np.array(deg_pred)
    recall_per_class = [float((pred[truth == c] == c).mean()) for c in (0, 1) if (truth == c).any()]
    return {
        "degree accuracy": float((truth == pred).mean()) if len(truth) else float("nan"),
        "degree balanced accuracy": float(np.mean(recall_per_class)) if recall_per_class else float("nan"),
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


def batch_vs_single(runner: OnnxRunner, samples: list[Sample], threshold: float) -> dict[str, float]:
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
            out, geo, _ = run_model(runner, photo)
            found = decode(out, 0, geo, threshold)
            for d in reported(found, threshold):
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
            counts["part unknown (40)"] += cid == comp.UNKNOWN_PART
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


def sweep(args: argparse.Namespace, classmap: ClassMap) -> None:
    """SINGLE and BATCH claim F1 per score threshold on train photos (never val), for choosing
    services/damage/detector.py DEFAULT_SCORE_THRESHOLD."""
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


def render(info: dict[str, str], sections: dict[str, dict[str, float]]) -> str:
    lines = [SECTION, "", " · ".join(f"{k}: {v}" for k, v in info.items()), ""]
    for title, figures in sections.items():
        lines += [f"**{title}**", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {fmt(v)} |" for k, v in figures.items()]
        lines.append("")
    return "\n".join(lines)


def write_section(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    start = old.find(SECTION)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        nxt = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + ("\n" + old[nxt + 1 :] if nxt >= 0 else "")
    path.write_text(new.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--classmap", type=Path, default=HERE / "classmap.yaml")
    p.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    p.add_argument("--models-dir", type=Path, default=REPO / "models")
    p.add_argument("--benchmarks", type=Path, default=REPO / "docs/benchmarks.md")
    p.add_argument("--threshold", type=float, default=DEFAULT_SCORE_THRESHOLD)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--limit", type=int, default=0, help="only the first N photos of each dataset (smoke runs)")
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
    run_model(runner, np.full((480, 640, 3), 128, np.uint8))  # warm-up
    results = []
    for s in val:
        out, geo, seconds = run_model(runner, load_rgb(s.path))
        found = decode(out, 0, geo, AP_SCORE_FLOOR, AP_SCORE_FLOOR)
        results.append(PhotoResult(s, found, postprocess(out, 0, geo, args.threshold), seconds))
    ms_per_photo = [r.seconds * 1000 for r in results]
    latency = {
        "median ms/photo (decode excluded, 2 threads)": statistics.median(ms_per_photo),
        "p90 ms/photo": float(np.percentile(ms_per_photo, 90)),
    }

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "models", "services", "training"],
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout.strip()
    commit = f"{commit} (+ uncommitted changes)" if commit and dirty else commit
    info = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "?",
        "model": f"{ms.DAMAGE_DETECTOR.name}/{ms.DAMAGE_DETECTOR.version}",
        "service score threshold": f"{args.threshold}",
    }
    parts_val = [s for s in val if s.dataset == "damaged_parts"]
    sections = {
        "Data (val splits, leaked images excluded)": data,
        "Detection AP (class-agnostic per channel; per type on damage_severity)": ap_figures(results),
        f"Degree and part kind (ground-truth boxes matched by a detection, IoU >= {MATCH_IOU})": (
            degree_and_part(results)
        ),
        "Component sides (what the service reports, all val photos)": side_rates(results),
        "BATCH vs SINGLE (damaged_parts val: wide photo + close-up crops per claim)": batch_vs_single(
            runner, parts_val, args.threshold
        ),
        "Latency (letterbox + onnxruntime + post-processing, batch 1)": latency,
    }
    text = render(info, sections)
    print(text)
    if not args.no_write:
        write_section(args.benchmarks, text)
        print(f"written to {args.benchmarks}")


if __name__ == "__main__":
    main()
