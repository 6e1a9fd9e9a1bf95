"""Photo-level damage gate: "is there any damage on this photo?", asked before damage boxes are reported.

The model (models/damage_gate, trained by training/damage/gate_finetune.py) is ImageNet EfficientNet-Lite0 with
its last stage (blocks 11-15 and the head convolution) fine-tuned together with a linear head on mean + max
pooled features, exported with its sigmoid as one ONNX graph (docs/damage-gate.md). The photo is SQUASHED to
INPUT_SIZE x INPUT_SIZE (aspect ratio not kept, no padding), exactly as in training: the damage training photos
come in other aspect ratios than the clean-car photos, so grey letterbox bars would be a shortcut to "damage".
"""

from __future__ import annotations

import cv2
import numpy as np

from picloss.inference import ModelRunner, ModelSpec

INPUT_IMAGES = "images"  # float32 [B, 3, INPUT_SIZE, INPUT_SIZE], RGB 0..255, squashed (to_input)
OUTPUT_DAMAGE_PROB = "damage_prob"  # float32 [B, 1]: probability that the photo shows any damage
INPUT_SIZE = 320  # 320 beat 224 on out-of-fold train predictions (ROC AUC 0.925 vs 0.913)
MAX_BATCH_SIZE = 8

GATE_SPEC = ModelSpec(name="damage_gate", inputs=(INPUT_IMAGES,), outputs=(OUTPUT_DAMAGE_PROB,))

# Chosen on TRAIN photos only (training/damage/gate_finetune.py): the highest threshold whose recall on the whole
# damage photos of the selection fold (one of 5 grouped folds of train, never trained on) is >= 0.98. Never
# fitted on val.
# Recorded with the model in models/damage_gate/gate.json and the ONNX metadata (a unit test checks they agree).
DAMAGE_THRESHOLD = 0.135751


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


async def damage_probability(runner: ModelRunner, rgbs: list[np.ndarray]) -> list[float]:
    """One probability of "any damage" per photo, in the order given (batches of at most MAX_BATCH_SIZE)."""
    probs: list[float] = []
    for start in range(0, len(rgbs), MAX_BATCH_SIZE):
        batch = to_batch(rgbs[start:start + MAX_BATCH_SIZE])
        out = await runner.infer({INPUT_IMAGES: batch})
        probs.extend(float(p) for p in np.asarray(out[OUTPUT_DAMAGE_PROB]).reshape(len(batch)))
    return probs


def is_damaged(prob: float, threshold: float = DAMAGE_THRESHOLD) -> bool:
    return prob >= threshold
