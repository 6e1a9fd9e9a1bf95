"""Letterbox pre-processing shared by training, export, evaluation and the service (one place).

The photo is resized to fit INPUT_SIZE x INPUT_SIZE with its aspect ratio kept and padded
with grey at the right/bottom; the model normalises pixels itself (inside the ONNX graph).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

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
