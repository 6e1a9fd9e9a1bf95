"""Photo -> damages: letterbox, run the detector (any ModelRunner), map boxes, parts and degree.

Used by the gRPC servicer and by training/damage/evaluate.py, so both see the same logic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from picloss.engines.boxes import box_iou
from picloss.engines.damage import components as comp
from picloss.engines.damage import degree as deg
from picloss.engines.models import damage_detector as ms
from picloss.engines.models.damage_detector import Letterbox, letterbox, to_batch
from picloss.platform.inference import ModelRunner

DEFAULT_SCORE_THRESHOLD = 0.3  # best claim-level F1 on 150 train photos (make damage-threshold; docs/models.md)
PART_SCORE_THRESHOLD = 0.3  # damaged parts used as context and reported when no damage lies on them
NMS_IOU = 0.6
MAX_DAMAGES = 20
ALT_PART_PROB = 0.2  # a second component is listed when its kind is at least this likely


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # xyxy in photo pixels, xmax/ymax exclusive
    score: float
    damage_type: str
    damage_type_score: int
    part_kind: str | None  # None: no recognisable part
    components: tuple[tuple[int, int], ...]  # (component id, 0..100), best first
    degree_id: int
    degree_score: int
    type_probs: tuple[float, ...]
    severity_probs: tuple[float, ...]
    part_probs: tuple[float, ...]
    from_part: bool = False  # a damaged part reported as a damage of its own (no damage centre on it)
    # P(real damage) after the verifier (picloss/engines/damage/verifier.py); None: none ran
    existence: float | None = None


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU) -> list[int]:
    order = list(np.argsort(-scores))
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(i)
        if order:
            overlaps = box_iou(boxes[i][None], boxes[order])[0]
            order = [j for j, o in zip(order, overlaps, strict=True) if o < iou_threshold]
    return keep


def _kept(boxes: np.ndarray, scores: np.ndarray, threshold: float, limit: int) -> list[int]:
    """Indices above `threshold` with a real extent, after NMS, best first, at most `limit`."""
    candidates = [
        k
        for k in range(len(scores))
        if scores[k] >= threshold and boxes[k, 2] - boxes[k, 0] >= 1 and boxes[k, 3] - boxes[k, 1] >= 1
    ]
    if not candidates:
        return []
    return [candidates[i] for i in nms(boxes[candidates], scores[candidates])][:limit]


def _inside(box: np.ndarray, x: float, y: float) -> bool:
    return bool(box[0] <= x <= box[2] and box[1] <= y <= box[3])


@dataclass(frozen=True)
class PhotoDetections:
    """One photo's decoded model output: damages (damage channel) and damaged parts (part channel)."""

    damages: list[Detection]
    parts: list[Detection]
    covered: frozenset[int]  # indices of parts that hold a damage's centre


def decode(
    out: dict[str, np.ndarray],
    index: int,
    geo: Letterbox,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    part_threshold: float = PART_SCORE_THRESHOLD,
) -> PhotoDetections:
    """Both channels of image `index` of a model output batch, in photo pixels, after NMS.

    Damaged parts give the photo's part context (view and sides, picloss/engines/damage/components.py);
    a damage whose centre lies in a part box takes the mean of its own part-kind probabilities
    and the best such part's.
    """
    boxes = geo.to_photo(out[ms.OUTPUT_BOXES][index].astype(np.float64))
    scores = out[ms.OUTPUT_SCORES][index]
    p_boxes = geo.to_photo(out[ms.OUTPUT_PART_BOXES][index].astype(np.float64))
    p_scores = out[ms.OUTPUT_PART_SCORES][index]
    p_kinds = out[ms.OUTPUT_PART_KIND_PROBS][index]
    parts = _kept(p_boxes, p_scores, part_threshold, MAX_DAMAGES)
    context = [
        comp.PartSighting(ms.PART_KINDS[int(p_kinds[k].argmax())], float(p_scores[k]), float(p_boxes[k, [0, 2]].mean()))
        for k in parts
    ]
    damages, covered = [], set()
    for k in _kept(boxes, scores, score_threshold, MAX_DAMAGES):
        cx, cy = float(boxes[k, [0, 2]].mean()), float(boxes[k, [1, 3]].mean())
        part_probs = out[ms.OUTPUT_PART_PROBS][index][k]
        holders = [n for n, j in enumerate(parts) if _inside(p_boxes[j], cx, cy)]
        if holders:
            best = max(holders, key=lambda n: float(p_scores[parts[n]]))
            covered.update(holders)
            part_probs = (part_probs + p_kinds[parts[best]]) / 2
        damages.append(
            _detection(
                boxes[k],
                float(scores[k]),
                out[ms.OUTPUT_TYPE_PROBS][index][k],
                out[ms.OUTPUT_SEVERITY_PROBS][index][k],
                part_probs,
                geo.width,
                geo.height,
                context,
            )
        )
    part_dets = [
        _detection(
            p_boxes[j],
            float(p_scores[j]),
            out[ms.OUTPUT_PART_TYPE_PROBS][index][j],
            out[ms.OUTPUT_PART_SEVERITY_PROBS][index][j],
            p_kinds[j],
            geo.width,
            geo.height,
            context,
        )
        for j in parts
    ]
    return PhotoDetections(damages, part_dets, frozenset(covered))


def reported(found: PhotoDetections, score_threshold: float = DEFAULT_SCORE_THRESHOLD) -> list[Detection]:
    """The damages the service reports: every damage above the threshold, and every damaged part
    above max(threshold, PART_SCORE_THRESHOLD) that holds no damage's centre (the model saw the
    part damaged but no single damage on it: the whole part is the box)."""
    extra = [
        replace(d, from_part=True)
        for n, d in enumerate(found.parts)
        if n not in found.covered and d.score >= max(score_threshold, PART_SCORE_THRESHOLD)
    ]
    return sorted(found.damages + extra, key=lambda d: -d.score)[:MAX_DAMAGES]


def postprocess(
    out: dict[str, np.ndarray], index: int, geo: Letterbox, score_threshold: float = DEFAULT_SCORE_THRESHOLD
) -> list[Detection]:
    """The damages the service reports for image `index` of a model output batch."""
    return reported(decode(out, index, geo, score_threshold), score_threshold)


def _detection(
    box: np.ndarray,
    score: float,
    types: np.ndarray,
    sevs: np.ndarray,
    parts: np.ndarray,
    width: int,
    height: int,
    context: list[comp.PartSighting],
) -> Detection:
    cx = float(box[[0, 2]].mean())
    ranked = [int(i) for i in np.argsort(-parts)]
    best = ranked[0]
    kind = ms.PART_KINDS[best] if parts[best] >= comp.MIN_PART_PROB else None
    primary = comp.component_id(kind, float(parts[best]), cx, width, context)
    components = [(primary, round(100 * float(parts[best])))]
    for alt in ranked[1:2]:
        if parts[alt] >= ALT_PART_PROB:
            alt_id = comp.component_id(ms.PART_KINDS[alt], float(parts[alt]), cx, width, context)
            if alt_id != primary:
                components.append((alt_id, round(100 * float(parts[alt]))))
    degree = deg.decide(deg.as_dict(ms.DAMAGE_TYPES, types), deg.as_dict(ms.SEVERITIES, sevs), kind,
                        part_probs=deg.as_dict(ms.PART_KINDS, parts), score=score,
                        box_fraction=float((box[2] - box[0]) * (box[3] - box[1])) / max(width * height, 1))
    t = int(types.argmax())
    return Detection(
        box=(int(np.floor(box[0])), int(np.floor(box[1])), int(np.ceil(box[2])), int(np.ceil(box[3]))),
        score=score,
        damage_type=ms.DAMAGE_TYPES[t],
        damage_type_score=round(100 * float(types[t])),
        part_kind=kind,
        components=tuple(components),
        degree_id=degree.degree_id,
        degree_score=degree.score,
        type_probs=tuple(map(float, types)),
        severity_probs=tuple(map(float, sevs)),
        part_probs=tuple(map(float, parts)),
    )


class DamageDetector:
    """Runs the damage model over photos, MAX_BATCH_SIZE at a time."""

    def __init__(self, runner: ModelRunner, score_threshold: float = DEFAULT_SCORE_THRESHOLD) -> None:
        self._runner = runner
        self._threshold = score_threshold

    async def detect(self, photos: list[np.ndarray]) -> list[PhotoDetections]:
        """Per photo: the damages the service reports (`reported`) and the damaged parts seen."""
        results: list[PhotoDetections] = []
        for start in range(0, len(photos), ms.MAX_BATCH_SIZE):
            chunk = [letterbox(rgb) for rgb in photos[start : start + ms.MAX_BATCH_SIZE]]
            out = await self._runner.infer({ms.INPUT_IMAGES: to_batch([img for img, _ in chunk])})
            for i, (_, geo) in enumerate(chunk):
                found = decode(out, i, geo, self._threshold)
                results.append(PhotoDetections(reported(found, self._threshold), found.parts, found.covered))
        return results
