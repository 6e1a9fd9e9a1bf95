"""The photo-level damage gate (`models/damage_gate`): tensor names, input size and pre-processing.

The photo is SQUASHED to INPUT_SIZE x INPUT_SIZE (aspect ratio not kept, no padding), exactly as in training
(training/damage/gate_finetune.py): the damage training photos come in other aspect ratios than the clean-car
photos, so grey letterbox bars would be a shortcut to "damage". The decision threshold is the service's
(picloss/engines/damage/gate.py).
"""

from __future__ import annotations

import cv2
import numpy as np

from picloss.platform.inference import ModelSpec

INPUT_IMAGES = "images"  # float32 [B, 3, INPUT_SIZE, INPUT_SIZE], RGB 0..255, squashed (to_input)
OUTPUT_DAMAGE_PROB = "damage_prob"  # float32 [B, 1]: probability that the photo shows any damage
INPUT_SIZE = 320  # 320 beat 224 on out-of-fold train predictions (ROC AUC 0.925 vs 0.913)
MAX_BATCH_SIZE = 8

GATE_SPEC = ModelSpec(name="damage_gate", inputs=(INPUT_IMAGES,), outputs=(OUTPUT_DAMAGE_PROB,))


def to_input(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> float32 [3, INPUT_SIZE, INPUT_SIZE] of 0..255 values (whole photo, squashed)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB photo, got shape {rgb.shape}")
    resized = cv2.resize(rgb, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32)


def to_batch(rgbs: list[np.ndarray]) -> np.ndarray:
    if not rgbs:
        return np.zeros((0, 3, INPUT_SIZE, INPUT_SIZE), np.float32)
    return np.stack([to_input(rgb) for rgb in rgbs])
