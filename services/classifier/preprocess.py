"""Photo -> classifier input; the training script uses the same function (no train/serve skew)."""

from __future__ import annotations

import cv2
import numpy as np

from services.classifier.model_spec import INPUT_SIZE


def to_input(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> float32 [3, INPUT_SIZE, INPUT_SIZE] of 0..255 values (whole photo, stretched)."""
    resized = cv2.resize(rgb, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32)


def to_batch(images: list[np.ndarray]) -> np.ndarray:
    return np.stack([to_input(rgb) for rgb in images]) if images else np.zeros(
        (0, 3, INPUT_SIZE, INPUT_SIZE), np.float32)
