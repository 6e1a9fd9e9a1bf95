"""Detection and set metrics for the damage evaluation (pure numpy)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from picloss.engines.boxes import box_iou

__all__ = ["BoxF1", "SetScore", "average_precision", "box_iou"]


def _area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def average_precision(
    preds: Sequence[tuple[np.ndarray, np.ndarray]],
    gts: Sequence[np.ndarray],
    iou_threshold: float,
    area_range: tuple[float, float] = (0.0, float("inf")),
) -> float:
    """All-point interpolated AP over images. preds[i] = (boxes (N,4), scores (N,)), gts[i] = (M,4).

    `area_range` works as in COCO: ground truths outside it are ignored (a detection matching
    one counts neither way), and so are unmatched detections outside it.
    """
    lo, hi = area_range
    n_gt = sum(int(((_area(g) >= lo) & (_area(g) < hi)).sum()) for g in gts if len(g))
    if n_gt == 0:
        return float("nan")
    records = []  # (score, is_tp)
    for (boxes, scores), gt in zip(preds, gts, strict=True):
        order = np.argsort(-scores)
        matched = np.zeros(len(gt), dtype=bool)
        ignored = ~((_area(gt) >= lo) & (_area(gt) < hi)) if len(gt) else np.zeros(0, dtype=bool)
        ious = box_iou(boxes[order], gt)
        pred_area = _area(boxes[order]) if len(boxes) else np.zeros(0)
        for row, k in enumerate(order):
            tp, skip = False, False
            if len(gt):
                for pool in (~ignored, ignored):  # real ground truths first, then ignored ones
                    candidates = np.where(~matched & pool & (ious[row] >= iou_threshold))[0]
                    if len(candidates):
                        best = candidates[np.argmax(ious[row, candidates])]
                        matched[best] = True
                        tp, skip = not ignored[best], bool(ignored[best])
                        break
            if not tp and not skip and not lo <= pred_area[row] < hi:
                skip = True
            if not skip:
                records.append((float(scores[k]), tp))
    if not records:
        return 0.0
    records.sort(key=lambda r: -r[0])
    tps = np.cumsum([r[1] for r in records])
    fps = np.cumsum([not r[1] for r in records])
    recall = tps / n_gt
    precision = tps / np.maximum(tps + fps, 1e-9)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[1.0], precision, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    steps = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


@dataclass
class SetScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: set[int], truth: set[int]) -> None:
        self.tp += len(predicted & truth)
        self.fp += len(predicted - truth)
        self.fn += len(truth - predicted)

    @property
    def precision(self) -> float:
        return self.tp / max(self.tp + self.fp, 1)

    @property
    def recall(self) -> float:
        return self.tp / max(self.tp + self.fn, 1)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / max(p + r, 1e-9)


@dataclass
class BoxF1(SetScore):
    """Black-box detection score of what the service reports: each ground-truth box matched at most once,
    greedily by descending IoU (>= the threshold); unmatched reports are false alarms."""

    iou_threshold: float = 0.5

    def add(self, predicted: np.ndarray, truth: np.ndarray) -> None:  # type: ignore[override]
        predicted, truth = predicted.reshape(-1, 4), truth.reshape(-1, 4)
        if not len(predicted) or not len(truth):
            self.fp += len(predicted)
            self.fn += len(truth)
            return
        ious = box_iou(predicted.astype(np.float64), truth.astype(np.float64))
        pairs = sorted(((ious[i, j], i, j) for i in range(len(predicted)) for j in range(len(truth))
                        if ious[i, j] >= self.iou_threshold), reverse=True)
        used_p: set[int] = set()
        used_t: set[int] = set()
        for _, i, j in pairs:
            if i not in used_p and j not in used_t:
                used_p.add(i)
                used_t.add(j)
        self.tp += len(used_t)
        self.fp += len(predicted) - len(used_p)
        self.fn += len(truth) - len(used_t)
