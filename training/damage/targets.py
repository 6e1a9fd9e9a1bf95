"""CenterNet targets, augmentation and losses for DamageNet."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from picloss.engines.models.damage_detector import PAD_VALUE
from training.damage.datasets import HEADS
from training.damage.model import STRIDE


def gaussian_radius(h: float, w: float, min_overlap: float = 0.7) -> float:
    """The CenterNet radius so a box shifted by it keeps IoU >= min_overlap (cells)."""
    a1, b1, c1 = 1, h + w, w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2, c2 = 4, 2 * (h + w), (1 - min_overlap) * w * h
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * (h + w), (min_overlap - 1) * w * h
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return max(0.0, min(r1, r2, r3))


def _affine(
    img: np.ndarray, boxes: np.ndarray, scale: float, x0: float, y0: float, out_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Output pixel (u, v) samples input (x0 + u / scale, y0 + v / scale). Returns (img, boxes, kept)."""
    pil = Image.fromarray(np.ascontiguousarray(img))
    out = pil.transform(
        (out_size, out_size),
        Image.Transform.AFFINE,
        (1 / scale, 0, x0, 0, 1 / scale, y0),
        resample=Image.Resampling.BILINEAR,
        fillcolor=(PAD_VALUE,) * 3,
    )
    new = (boxes - np.array([x0, y0, x0, y0], dtype=np.float32)) * scale
    clipped = np.clip(new, 0, out_size)
    area = np.prod(np.maximum(new[:, 2:] - new[:, :2], 1e-3), axis=1)
    kept_area = np.prod(np.maximum(clipped[:, 2:] - clipped[:, :2], 0), axis=1)
    keep = (kept_area / area > 0.4) & ((clipped[:, 2:] - clipped[:, :2]).min(axis=1) > 1)
    return np.asarray(out), clipped.astype(np.float32), keep


def _flip_and_jitter(img: np.ndarray, boxes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    boxes = boxes.copy()
    if rng.random() < 0.5:
        img = img[:, ::-1]
        boxes[:, [0, 2]] = img.shape[1] - boxes[:, [2, 0]]
    return img, boxes


def _colour(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    arr = img.astype(np.float32) * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20)
    return np.clip(arr, 0, 255).astype(np.uint8)


def augment(
    img: np.ndarray, boxes: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole-photo view (damaged parts): flip, zoom in/out, colour jitter on a letterboxed square."""
    size = img.shape[0]
    img, boxes = _flip_and_jitter(img, boxes, rng)
    scale = float(np.exp(rng.uniform(np.log(0.7), np.log(2.0))))
    crop = size / scale
    x0 = rng.uniform(min(0.0, size - crop), max(0.0, size - crop))
    y0 = rng.uniform(min(0.0, size - crop), max(0.0, size - crop))
    out, clipped, keep = _affine(img, boxes, scale, x0, y0, size)
    return _colour(out, rng), clipped, keep


def augment_crop(
    img: np.ndarray, boxes: np.ndarray, rng: np.random.Generator, out_size: int, focus: float = 0.8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Native-resolution crop (damages): flip, scale 0.7-1.4, an out_size window centred near a
    random damage (probability `focus`) or anywhere, colour jitter."""
    img, boxes = _flip_and_jitter(img, boxes, rng)
    scale = float(np.exp(rng.uniform(np.log(0.7), np.log(1.4))))
    crop = out_size / scale
    h, w = img.shape[:2]
    if len(boxes) and rng.random() < focus:
        bx = boxes[rng.integers(len(boxes))]
        cx = (bx[0] + bx[2]) / 2 + rng.uniform(-crop / 3, crop / 3)
        cy = (bx[1] + bx[3]) / 2 + rng.uniform(-crop / 3, crop / 3)
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    x0 = float(np.clip(cx - crop / 2, min(0.0, w - crop), max(0.0, w - crop)))
    y0 = float(np.clip(cy - crop / 2, min(0.0, h - crop), max(0.0, h - crop)))
    out, clipped, keep = _affine(img, boxes, scale, x0, y0, out_size)
    return _colour(out, rng), clipped, keep


def build_targets(
    boxes: np.ndarray, labels: dict[str, np.ndarray], grid: int, channel: int
) -> dict[str, np.ndarray]:
    """Dense stride-8 targets for one image whose boxes are of object `channel` (DAMAGE or PART).

    Only that channel's heatmap is supervised (`heat_mask`). Damage type and severity are
    supervised on the 3x3 cells around each centre; part kind over the inner half of each
    part box (at least its centre cell), so it can be read under any damage on the part.
    """
    heat = np.zeros((2, grid, grid), dtype=np.float32)
    heat_mask = np.zeros(2, dtype=np.float32)
    heat_mask[channel] = 1
    size = np.zeros((4, grid, grid), dtype=np.float32)
    offset = np.zeros((4, grid, grid), dtype=np.float32)
    reg_mask = np.zeros((2, grid, grid), dtype=np.float32)
    cls = {head: np.full((grid, grid), -1, dtype=np.int64) for head in HEADS}
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))  # small boxes win
    ys, xs = np.mgrid[0:grid, 0:grid]
    c2 = slice(2 * channel, 2 * channel + 2)
    for i in order:
        x0, y0, x1, y1 = boxes[i] / STRIDE
        w, h = max(x1 - x0, 0.25), max(y1 - y0, 0.25)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        ix, iy = min(int(cx), grid - 1), min(int(cy), grid - 1)
        radius = max(0.0, gaussian_radius(h, w))
        sigma = (2 * int(radius) + 1) / 6
        g = np.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2))
        heat[channel] = np.maximum(heat[channel], g)
        size[c2, iy, ix] = np.log([w, h])
        offset[c2, iy, ix] = [cx - ix, cy - iy]
        reg_mask[channel, iy, ix] = 1
        for head in HEADS:
            label = labels[head][i]
            if label < 0:
                continue
            if head == "part_kind":
                ax0, ax1 = int(cx - w / 4), int(np.ceil(cx + w / 4))
                ay0, ay1 = int(cy - h / 4), int(np.ceil(cy + h / 4))
                cls[head][max(min(ay0, iy), 0) : max(ay1, iy + 1), max(min(ax0, ix), 0) : max(ax1, ix + 1)] = label
            else:
                cls[head][max(iy - 1, 0) : iy + 2, max(ix - 1, 0) : ix + 2] = label
    return {
        "heat": heat,
        "heat_mask": heat_mask,
        "size": size,
        "offset": offset,
        "reg_mask": reg_mask,
        **{f"cls_{h}": cls[h] for h in HEADS},
    }


def focal_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """CenterNet penalty-reduced focal loss; logits and target (B,C,H,W), mask (B,C): supervised
    channels of each image (the others contribute nothing)."""
    pred = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    m = mask[:, :, None, None]
    pos = target.eq(1).float() * m
    neg_weight = torch.pow(1 - target, 4) * m
    pos_loss = torch.log(pred) * torch.pow(1 - pred, 2) * pos
    neg_loss = torch.log(1 - pred) * torch.pow(pred, 2) * neg_weight * (1 - pos)
    n_pos = pos.sum().clamp(min=1)
    return -(pos_loss.sum() + neg_loss.sum()) / n_pos


def detection_loss(out: dict[str, torch.Tensor], tgt: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    mask = tgt["reg_mask"].repeat_interleave(2, dim=1)  # (B, 4, H, W): w/h or dx/dy of each channel
    n = tgt["reg_mask"].sum().clamp(min=1)
    losses = {
        "heat": focal_loss(out["heatmap"], tgt["heat"], tgt["heat_mask"]),
        "size": (F.l1_loss(out["size"], tgt["size"], reduction="none") * mask).sum() / n * 0.5,
        "offset": (F.l1_loss(out["offset"], tgt["offset"], reduction="none") * mask).sum() / n,
    }
    for head in HEADS:
        target = tgt[f"cls_{head}"]
        if (target >= 0).any():
            losses[head] = F.cross_entropy(out[head], target, ignore_index=-1) * 0.5
        else:
            losses[head] = out[head].sum() * 0.0
    return losses
