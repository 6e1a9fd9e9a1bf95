"""The damage box verifier (`models/damage_verifier`): tensor names, crop size and the crop itself.

Every candidate box of the damage detector is cut from the decoded photo (not the detector's 640-px letterbox)
as a square around the box's centre, CONTEXT times the box's longer side and at least MIN_CROP_SIDE photo pixels
(edges replicated where the square leaves the photo), and resized to INPUT_SIZE. Training
(training/damage/verifier.py) cuts its crops with this same function, so the service and the model agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from picloss.platform.inference import ModelSpec

INPUT_CROPS = "crops"  # float32 [B, 3, INPUT_SIZE, INPUT_SIZE], RGB 0..255 (`crop`)
OUTPUT_DAMAGE_PROB = "damage_prob"  # float32 [B, 1]: probability that the box holds real damage
INPUT_SIZE = 128
CONTEXT = 2.5
MIN_CROP_SIDE = 64
MAX_BATCH_SIZE = 32

VERIFIER_SPEC = ModelSpec(name="damage_verifier", inputs=(INPUT_CROPS,), outputs=(OUTPUT_DAMAGE_PROB,))


def crop_square(box: Sequence[float], context: float = CONTEXT, min_side: float = MIN_CROP_SIDE
                ) -> tuple[float, float, float]:
    """(centre x, centre y, side) of the square cut around `box` (xyxy photo pixels)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(context * max(x1 - x0, y1 - y0), min_side)
    return (x0 + x1) / 2, (y0 + y1) / 2, side


def crop(rgb: np.ndarray, box: Sequence[float], *, context: float = CONTEXT, min_side: float = MIN_CROP_SIDE,
         aspect: float = 1.0, size: int = INPUT_SIZE) -> np.ndarray:
    """HxWx3 uint8 RGB, xyxy box -> uint8 [size, size, 3]: the square (or, with `aspect` != 1, the rectangle of
    that width/height ratio and the same area, which training uses to distort) around the box, resized."""
    cx, cy, side = crop_square(box, context, min_side)
    w, h = side * np.sqrt(aspect), side / np.sqrt(aspect)
    x0, y0 = round(cx - w / 2), round(cy - h / 2)
    x1, y1 = max(x0 + 2, round(cx + w / 2)), max(y0 + 2, round(cy + h / 2))
    height, width = rgb.shape[:2]
    pad = max(0, -x0, -y0, x1 - width, y1 - height)
    src = rgb
    if pad:
        src = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    patch = src[y0:y1, x0:x1]
    interp = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def to_batch(crops: list[np.ndarray]) -> np.ndarray:
    """uint8 [size, size, 3] crops -> float32 [B, 3, size, size] 0..255."""
    if not crops:
        return np.zeros((0, 3, INPUT_SIZE, INPUT_SIZE), np.float32)
    return np.ascontiguousarray(np.stack(crops).transpose(0, 3, 1, 2), dtype=np.float32)
