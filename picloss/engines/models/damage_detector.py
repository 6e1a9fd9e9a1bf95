"""The damage detector (`models/damage_detector`): tensor names, label order and the letterbox pre-processing.

Shared by the damage service, export (config.pbtxt), training and evaluation (one place).

Letterbox: the photo is resized to fit INPUT_SIZE x INPUT_SIZE with its aspect ratio kept and padded with grey at
the right/bottom; the model normalises pixels itself (inside the ONNX graph).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from picloss.platform.inference import ModelSpec

INPUT_IMAGES = "images"  # float32 [B, 3, 640, 640], RGB 0..255, letterboxed (`letterbox` below)
# Damages (the scratch, dent or break itself), from the full-resolution pass, best first.
OUTPUT_BOXES = "boxes"  # float32 [B, K, 4] xyxy in model-input pixels
OUTPUT_SCORES = "scores"  # float32 [B, K] damage confidence 0..1, best first
OUTPUT_TYPE_PROBS = "type_probs"  # float32 [B, K, len(DAMAGE_TYPES)]
OUTPUT_SEVERITY_PROBS = "severity_probs"  # float32 [B, K, len(SEVERITIES)]
OUTPUT_PART_PROBS = "part_probs"  # float32 [B, K, len(PART_KINDS)]: the part under the damage's centre
# Damaged parts (the whole damaged bumper, door...), from the half-resolution pass, best first.
OUTPUT_PART_BOXES = "part_boxes"  # float32 [B, P, 4] xyxy in model-input pixels
OUTPUT_PART_SCORES = "part_scores"  # float32 [B, P] damaged-part confidence 0..1
OUTPUT_PART_KIND_PROBS = "part_kind_probs"  # float32 [B, P, len(PART_KINDS)]
OUTPUT_PART_TYPE_PROBS = "part_type_probs"  # float32 [B, P, len(DAMAGE_TYPES)] at the part's centre
OUTPUT_PART_SEVERITY_PROBS = "part_severity_probs"  # float32 [B, P, len(SEVERITIES)] at the part's centre

DAMAGE_DETECTOR = ModelSpec(
    name="damage_detector",
    inputs=(INPUT_IMAGES,),
    outputs=(
        OUTPUT_BOXES,
        OUTPUT_SCORES,
        OUTPUT_TYPE_PROBS,
        OUTPUT_SEVERITY_PROBS,
        OUTPUT_PART_PROBS,
        OUTPUT_PART_BOXES,
        OUTPUT_PART_SCORES,
        OUTPUT_PART_KIND_PROBS,
        OUTPUT_PART_TYPE_PROBS,
        OUTPUT_PART_SEVERITY_PROBS,
    ),
)
MAX_BATCH_SIZE = 8

# Same order as training/damage/classmap.yaml `heads` (the export checks it).
DAMAGE_TYPES = ("scratch", "dent", "broken")
SEVERITIES = ("minor", "moderate", "severe")
PART_KINDS = ("bonnet", "bumper", "trunk", "door", "fender", "lamp", "windshield")

INPUT_SIZE = 640  # the damage pass; damaged parts are read on a half-resolution (320) pass
PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    scale: float  # model pixels per photo pixel
    width: int  # photo width
    height: int  # photo height

    def to_photo(self, boxes: np.ndarray) -> np.ndarray:
        """Model-input xyxy boxes -> photo pixels, clipped to the photo."""
        out = boxes / self.scale
        out[..., [0, 2]] = np.clip(out[..., [0, 2]], 0, self.width)
        out[..., [1, 3]] = np.clip(out[..., [1, 3]], 0, self.height)
        return out

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        """Photo-pixel xyxy boxes -> model-input pixels."""
        return np.asarray(boxes, np.float64) * self.scale


def letterbox(rgb: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, Letterbox]:
    """HxWx3 uint8 -> (size x size x 3 uint8, geometry), aspect ratio kept, pasted top-left on grey."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB photo, got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = np.asarray(Image.fromarray(rgb).resize((new_w, new_h), Image.Resampling.BILINEAR))
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    canvas[:new_h, :new_w] = resized
    return canvas, Letterbox(scale=scale, width=width, height=height)


def to_batch(images: list[np.ndarray]) -> np.ndarray:
    """List of size x size x 3 uint8 -> float32 NCHW in 0..255 (the model's input)."""
    return np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2).astype(np.float32))
