"""Measure the car gate (picloss/engines/damage/vehicles.py) on the shared photos and print the figures.

    python -m training.damage.eval_vehicles                 # valid splits, at DEFAULT_SCORE_THRESHOLD
    python -m training.damage.eval_vehicles --sweep         # TRAIN splits, per threshold (to choose it)
    python -m training.damage.eval_vehicles --draw /tmp/vehicles   # also draw boxes on a few photos

Figures: on `clean_cars` (YOLO vehicle boxes) the recall of labelled vehicles at IoU 0.5, the
precision of found vehicles, and the share of photos whose vehicle of interest matches the
largest labelled vehicle at IoU 0.5; on damage photos (`damage_severity`, `damaged_parts`) and
VIN-plate close-ups (`vin_plates`), which carry no vehicle boxes, the share of photos with any
vehicle found; the median latency per photo (preprocessing, model, decoding; batch 1).
The threshold is chosen on the train splits only (--sweep), never on valid.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

from picloss.engines.boxes import box_iou
from picloss.engines.damage import vehicles as v
from picloss.engines.models import car_detector
from picloss.platform.inference import OnnxRunner

DATA = Path(os.environ.get("PICLOSS_DATA_ROOT", "/work/shared/datasets"))
SWEEP_FLOOR = 0.05
SMALL_SHARE = 0.1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Collection:
    name: str
    images: Path
    labels: Path | None  # YOLO txt folder with vehicle boxes, None where the photos carry none
    vehicle_ids: frozenset[int]  # YOLO class ids that are vehicles
    limit: int = 0  # 0: every photo; else an evenly spaced subset (train splits are large)


def _vehicle_ids(data_yaml: Path, vehicle_names: set[str]) -> frozenset[int]:
    names = yaml.safe_load(data_yaml.read_text())["names"]
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    ids = frozenset(i for i, n in enumerate(names) if n.lower() in vehicle_names)
    if not ids:
        raise ValueError(f"{data_yaml}: no vehicle class among {names}")
    return ids


def collections(split: str) -> list[Collection]:
    """split 'train' or 'valid' (damage_severity calls them train/val)."""
    plates, vehicles = DATA / "clean_cars/plates", DATA / "clean_cars/vehicles"
    severity = "val" if split == "valid" else "train"
    limit = 300 if split == "train" else 0
    return [
        Collection(f"clean_cars/plates/{split}", plates / split / "images", plates / split / "labels",
                   _vehicle_ids(plates / "data.yaml", {"vehicle"})),
        Collection(f"clean_cars/vehicles/{split}", vehicles / split / "images", vehicles / split / "labels",
                   _vehicle_ids(vehicles / "data.yaml", {"ambulance", "bus", "car", "motorcycle", "truck"})),
        Collection(f"damage_severity/{severity}", DATA / "damage_severity/images" / severity, None,
                   frozenset(), limit),
        Collection(f"damaged_parts/{split}", DATA / "damaged_parts" / split / "images", None, frozenset(), limit),
        Collection(f"vin_plates/{split}", DATA / "vin_plates" / split / "images", None, frozenset(), limit),
    ]


def image_paths(c: Collection) -> list[Path]:
    paths = sorted(p for p in c.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if c.limit and len(paths) > c.limit:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, c.limit).astype(int)]
    return paths


def read_boxes(label: Path, ids: frozenset[int], width: int, height: int) -> np.ndarray:
    """Vehicle boxes (xyxy photo pixels) of a YOLO label file; polygon lines become their bounding box."""
    boxes = []
    if label.exists():
        for line in label.read_text().splitlines():
            parts = line.split()
            if len(parts) < 5 or int(parts[0]) not in ids:
                continue
            coords = np.array(parts[1:], np.float32)
            if len(coords) == 4:
                cx, cy, w, h = coords
                x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
            else:
                xs, ys = coords[0::2], coords[1::2]
                x1, y1, x2, y2 = xs.min(), ys.min(), xs.max(), ys.max()
            boxes.append([x1 * width, y1 * height, x2 * width, y2 * height])
    return np.array(boxes, np.float32).reshape(-1, 4)


def greedy_matches(found: np.ndarray, truth: np.ndarray, iou: float = 0.5) -> int:
    """Found boxes (best first) matched one-to-one to truth at IoU >= iou: the number of matches."""
    m = box_iou(found, truth)
    used: set[int] = set()
    for i in range(len(found)):
        candidates = [j for j in np.argsort(-m[i]) if m[i, j] >= iou and j not in used]
        if candidates:
            used.add(int(candidates[0]))
    return len(used)


@dataclass
class Photo:
    path: Path
    width: int
    height: int
    truth: np.ndarray
    found: list[v.Vehicle]  # at SWEEP_FLOOR, best first


async def run_collection(runner: OnnxRunner, c: Collection, latencies: list[float]) -> list[Photo]:
    photos = []
    for path in image_paths(c):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        start = time.perf_counter()
        found = (await v.find_vehicles(runner, [rgb], threshold=SWEEP_FLOOR))[0]
        latencies.append(time.perf_counter() - start)
        h, w = rgb.shape[:2]
        truth = (read_boxes(c.labels / f"{path.stem}.txt", c.vehicle_ids, w, h) if c.labels else
                 np.zeros((0, 4), np.float32))
        photos.append(Photo(path, w, h, truth, found))
    return photos


def figures(c: Collection, photos: list[Photo], threshold: float) -> dict[str, float]:
    kept = [[f for f in p.found if f.score >= threshold] for p in photos]
    out: dict[str, float] = {"photos": len(photos),
                             "any_vehicle": float(np.mean([bool(k) for k in kept])) if photos else 0.0}
    # a vehicle of interest under SMALL_SHARE of the photo: on a close-up, a car in the background
    vois = [v.vehicle_of_interest(k, p.width, p.height) for p, k in zip(photos, kept, strict=True)]
    out["voi_small"] = float(np.mean([voi is not None and voi.area < SMALL_SHARE * p.width * p.height
                                      for p, voi in zip(photos, vois, strict=True)])) if photos else 0.0
    if c.labels is None:
        return out
    n_truth = sum(len(p.truth) for p in photos)
    n_found = sum(len(k) for k in kept)
    matched = sum(greedy_matches(np.array([f.box for f in k], np.float32).reshape(-1, 4), p.truth)
                  for p, k in zip(photos, kept, strict=True))
    voi_hits, labelled = 0, 0
    for p, k in zip(photos, kept, strict=True):
        if len(p.truth) == 0:
            continue
        labelled += 1
        areas = (p.truth[:, 2] - p.truth[:, 0]) * (p.truth[:, 3] - p.truth[:, 1])
        largest = p.truth[int(np.argmax(areas))][None]
        voi = v.vehicle_of_interest(k, p.width, p.height)
        if voi is not None and box_iou(np.array([voi.box], np.float32), largest)[0, 0] >= 0.5:
            voi_hits += 1
    recall = matched / n_truth if n_truth else 0.0
    precision = matched / n_found if n_found else 0.0
    out.update(vehicles=n_truth, recall50=recall, precision50=precision,
               f1=2 * recall * precision / (recall + precision) if recall + precision else 0.0,
               voi_matches_largest=voi_hits / labelled if labelled else 0.0)
    return out


def draw(photos: list[Photo], threshold: float, out_dir: Path, per_collection: int, tag: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for p in photos[:: max(1, len(photos) // per_collection)][:per_collection]:
        image = Image.open(p.path).convert("RGB")
        pen = ImageDraw.Draw(image)
        for box in p.truth:
            pen.rectangle([float(x) for x in box], outline=(0, 255, 0), width=2)
        kept = [f for f in p.found if f.score >= threshold]
        voi = v.vehicle_of_interest(kept, p.width, p.height)
        for f in kept:
            colour = (255, 0, 0) if f is voi else (255, 200, 0)
            pen.rectangle(list(f.box), outline=colour, width=2)
            pen.text((f.box[0] + 2, f.box[1] + 2), f"{f.kind} {f.score:.2f}", fill=colour)
        image.save(out_dir / f"{tag.replace('/', '_')}_{p.path.stem[:24]}.png")


async def main_async(args: argparse.Namespace) -> None:
    runner = OnnxRunner(car_detector.CAR_DETECTOR, threads=2)
    split = "train" if args.sweep else "valid"
    latencies: list[float] = []
    results = []
    for c in collections(split):
        photos = await run_collection(runner, c, latencies)
        results.append((c, photos))
        if args.draw:
            draw(photos, args.threshold, args.draw, args.draw_per_set, c.name)
    thresholds = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5] if args.sweep else [args.threshold]
    for t in thresholds:
        print(f"## threshold {t:.2f} ({split} splits)")
        for c, photos in results:
            f = figures(c, photos, t)
            print(f"  {c.name:30s} " + " ".join(f"{k}={val:.3f}" if isinstance(val, float) else f"{k}={val}"
                                                 for k, val in f.items()))
    print(f"latency per photo (median of {len(latencies)}, 2 threads, batch 1): "
          f"{1000 * statistics.median(latencies):.0f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", action="store_true", help="train splits, figures per threshold")
    parser.add_argument("--threshold", type=float, default=v.DEFAULT_SCORE_THRESHOLD)
    parser.add_argument("--draw", type=Path, help="draw found (orange, red = vehicle of interest) and labelled "
                                                  "(green) boxes on a few photos per set into this folder")
    parser.add_argument("--draw-per-set", type=int, default=3)
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
