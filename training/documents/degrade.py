"""Degradations shared by training and evaluation: framing, perspective, glare, blur, noise/JPEG, rotation, occlusion.

A flat card (PIL image) becomes a photo at one of three levels (`clean`, `mild`, `hard`) and one framing:

- `photo`: the card on a background, perspective and a small tilt (the existing `photo_effects` look);
- `scan`: the card fills the whole frame (a flatbed scan or a screenshot), no background at all;
- `crop`: a tight crop that cuts a few per cent off the card's edges, no background at all.

On top: an orientation (0, 90, 180 or 270 degrees), glare (a bright soft spot), partial occlusion (a finger-like
blob over a corner), blur, sensor noise and JPEG. Everything is drawn from the `rng` passed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from training.documents.photo_effects import Realism, jpeg_roundtrip, to_photo

LEVELS = ("clean", "mild", "hard")
FRAMINGS = ("photo", "scan", "crop")
FRAME_FILLING = frozenset({"scan", "crop"})
ORIENTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class Level:
    realism: Realism
    glare: float  # probability of a glare spot
    occlusion: float  # probability of a finger/object over a corner
    crop_cut: tuple[float, float]  # share of each edge cut away by a tight crop


LEVEL_PARAMS = {
    "clean": Level(Realism(max_rotation_deg=2.0, max_perspective=0.015, blur_sigma=(0.0, 0.0), noise_sigma=(0.0, 1.0),
                           jpeg_quality=(88, 96), fill=(0.6, 0.85)), 0.0, 0.0, (0.0, 0.015)),
    "mild": Level(Realism(), 0.3, 0.15, (0.0, 0.03)),
    "hard": Level(Realism(max_rotation_deg=12.0, max_perspective=0.1, blur_sigma=(1.2, 2.2), noise_sigma=(4.0, 10.0),
                          jpeg_quality=(40, 70), fill=(0.45, 0.75)), 0.6, 0.35, (0.01, 0.05)),
}


@dataclass(frozen=True)
class Degradation:
    level: str
    framing: str
    orientation: int

    @property
    def frame_filling(self) -> bool:
        return self.framing in FRAME_FILLING


def random_degradation(rng: random.Random, level: str | None = None, rotate: float = 0.25) -> Degradation:
    """A random level (unless given), framing (1/3 each) and orientation (`rotate` = share turned 90/180/270)."""
    level = level or rng.choice(LEVELS)
    orientation = rng.choice(ORIENTATIONS[1:]) if rng.random() < rotate else 0
    return Degradation(level, rng.choice(FRAMINGS), orientation)


def _frame_size(rng: random.Random, aspect: float, scale: float = 1.0) -> tuple[int, int]:
    w = int(rng.choice((1280, 1200, 1024, 960)) * scale)
    return w, max(200, round(w / aspect))


def fill_frame(card: np.ndarray, rng: random.Random, framing: str, cut: tuple[float, float],
               scale: float = 1.0) -> np.ndarray:
    """The card alone, resized to a photo: `scan` keeps every edge, `crop` cuts into the card."""
    h, w = card.shape[:2]
    if framing == "crop":
        x0, x1 = int(w * rng.uniform(*cut)), w - int(w * rng.uniform(*cut))
        y0, y1 = int(h * rng.uniform(*cut)), h - int(h * rng.uniform(*cut))
        card = card[y0:y1, x0:x1]
    ow, oh = _frame_size(rng, card.shape[1] / card.shape[0], scale)
    return cv2.resize(card, (ow, oh), interpolation=cv2.INTER_CUBIC)


def add_glare(rgb: np.ndarray, rng: random.Random, strength: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
    rx, ry = rng.uniform(0.08, 0.25) * w, rng.uniform(0.05, 0.2) * h
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    spot = np.exp(-(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2))[..., None]
    out = rgb.astype(np.float32) + spot * strength * (255 - rgb.astype(np.float32))
    return np.clip(out, 0, 255).astype(np.uint8)


def add_occlusion(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    """A finger (skin-toned rounded blob) or a dark object over one corner, at most ~8 % of the photo."""
    h, w = rgb.shape[:2]
    out = rgb.copy()
    corner_x, corner_y = rng.choice((0, w)), rng.choice((0, h))
    length, width = int(rng.uniform(0.12, 0.25) * min(w, h)), int(rng.uniform(0.06, 0.1) * min(w, h))
    if rng.random() < 0.7:
        color = (rng.randrange(190, 235), rng.randrange(140, 180), rng.randrange(110, 150))
    else:
        color = tuple(rng.randrange(20, 90) for _ in range(3))
    angle = rng.uniform(20, 70) + (90 * (corner_x > 0)) * (1 if corner_y == 0 else -1)
    cx = corner_x + (length // 2 if corner_x == 0 else -length // 2)
    cy = corner_y + (length // 3 if corner_y == 0 else -length // 3)
    cv2.ellipse(out, (int(cx), int(cy)), (length, width), angle, 0, 360, color, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(out, (0, 0), 1.0) if rng.random() < 0.5 else out


def rotate(rgb: np.ndarray, orientation: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(rgb, k=-(orientation // 90))) if orientation else rgb


def degrade(card: Image.Image, rng: random.Random, how: Degradation, scale: float = 1.0) -> np.ndarray:
    """The card as a photo, degraded as `how` says; an RGB uint8 array.

    `scale` < 1 renders a smaller photo (training uses 0.5: the classifier sees a 224 thumbnail anyway and
    rendering costs 4x less); evaluation renders full size."""
    params = LEVEL_PARAMS[how.level]
    realism = params.realism
    if how.framing == "photo":
        size = None
        if scale != 1.0:
            w, h = rng.choice(((1280, 960), (1024, 768), (1200, 900), (960, 1280)))
            size = (int(w * scale), int(h * scale))
            card = card.resize((int(card.width * scale), int(card.height * scale)), Image.Resampling.BILINEAR)
        raw = to_photo(card, rng, realism, size)  # already blurred, with noise and JPEG
    else:
        raw = fill_frame(np.asarray(card.convert("RGB")), rng, how.framing, params.crop_cut, scale)
    out = raw
    if rng.random() < params.glare:
        out = add_glare(out, rng, rng.uniform(0.35, 0.8))
    if rng.random() < params.occlusion:
        out = add_occlusion(out, rng)
    if how.framing != "photo":
        out = out.astype(np.float32)
        h, w = out.shape[:2]
        gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
        gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
        out *= (rng.uniform(0.85, 1.08) + 0.1 * (rng.uniform(-1, 1) * gx + rng.uniform(-1, 1) * gy))[..., None]
        sigma = rng.uniform(*realism.blur_sigma)
        if sigma > 0.3:
            out = cv2.GaussianBlur(out, (0, 0), sigma)
        np_rng = np.random.default_rng(rng.randrange(2**32))
        out += np_rng.normal(0, rng.uniform(*realism.noise_sigma), out.shape).astype(np.float32)
        out = jpeg_roundtrip(np.clip(out, 0, 255).astype(np.uint8), rng.randrange(*realism.jpeg_quality))
    return rotate(out, how.orientation)

