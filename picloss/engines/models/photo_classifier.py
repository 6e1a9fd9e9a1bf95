"""The photo classifier (`models/photo_classifier`): tensor names, class order, input size and pre-processing.

Shared by the classifier service, config.pbtxt, training and evaluation: the training script uses the same
`to_input` (no train/serve skew).
"""

from __future__ import annotations

import cv2
import numpy as np

from picloss.platform.inference import ModelSpec

INPUT_NAME = "images"  # float32 [N, 3, 224, 224], RGB pixel values 0..255 (normalised inside the model)
OUTPUT_NAME = "probs"  # float32 [N, 7], softmax over CLASSES
INPUT_SIZE = 224
# The order of the model's outputs (fixed by the trained weights): the §7 image classes.
CLASSES: tuple[str, ...] = (
    "IDCARD_FRONT", "IDCARD_BACK", "DRIVER_LICENSE", "DRIVING_LICENSE", "VIN", "DAMAGE", "OTHER",
)
MAX_BATCH_SIZE = 16

PHOTO_CLASSIFIER = ModelSpec(name="photo_classifier", inputs=(INPUT_NAME,), outputs=(OUTPUT_NAME,))


def to_input(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> float32 [3, INPUT_SIZE, INPUT_SIZE] of 0..255 values (whole photo, stretched)."""
    resized = cv2.resize(rgb, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32)


def to_batch(images: list[np.ndarray]) -> np.ndarray:
    return np.stack([to_input(rgb) for rgb in images]) if images else np.zeros(
        (0, 3, INPUT_SIZE, INPUT_SIZE), np.float32)
