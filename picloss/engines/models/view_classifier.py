"""The view classifier (`models/view_classifier`): tensor names, pose classes, the vehicle crop and pre-processing.

The model is the frozen ImageNet EfficientNet-Lite0 with a linear head on its feature map pooled to a 2 x 3 grid
(trained by training/damage/view_classifier.py, card in models/view_classifier/README.md). It sees the vehicle's box
grown by CROP_MARGIN, SQUASHED to INPUT_SIZE x INPUT_SIZE, and returns the probabilities of POSES, averaged with those
of the mirrored crop. The decision (thresholds, sides) is the damage service's (picloss/engines/damage/pose.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from picloss.platform.inference import ModelSpec

INPUT_IMAGES = "images"  # float32 [B, 3, INPUT_SIZE, INPUT_SIZE], RGB 0..255, the vehicle's crop squashed (to_input)
OUTPUT_POSE_PROBS = "pose_probs"  # float32 [B, len(POSES)], mirror-averaged
INPUT_SIZE = 224
MAX_BATCH_SIZE = 8
CROP_MARGIN = 0.05  # the vehicle box is grown by this share of its width / height on every side

VIEW_SPEC = ModelSpec(name="view_classifier", inputs=(INPUT_IMAGES,), outputs=(OUTPUT_POSE_PROBS,))

# The class order of the model's output. `_left` / `_right`: the way the nose points (= the flank seen).
POSES = ("front", "rear", "front_left", "front_right", "rear_left", "rear_right")
MIRROR = (0, 1, 3, 2, 5, 4)  # the class a horizontally mirrored photo of each class belongs to


def crop_box(box: Sequence[float], width: int, height: int, margin: float = CROP_MARGIN) -> tuple[int, int, int, int]:
    """The vehicle box grown by `margin` on every side, in integer photo pixels inside the photo (never empty)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    a = int(np.clip(np.floor(x0 - mx), 0, width - 1))
    b = int(np.clip(np.floor(y0 - my), 0, height - 1))
    c = int(np.clip(np.ceil(x1 + mx), a + 1, width))
    d = int(np.clip(np.ceil(y1 + my), b + 1, height))
    return a, b, c, d


def to_input(rgb: np.ndarray, box: Sequence[float] | None) -> np.ndarray:
    """HxWx3 uint8 RGB and the vehicle box (None: the whole photo) -> float32 [3, INPUT_SIZE, INPUT_SIZE], 0..255."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB photo, got shape {rgb.shape}")
    h, w = rgb.shape[:2]
    a, b, c, d = crop_box(box, w, h) if box is not None else (0, 0, w, h)
    crop = cv2.resize(rgb[b:d, a:c], (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32)
