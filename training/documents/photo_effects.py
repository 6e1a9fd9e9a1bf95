"""Turn a flat card into a photo: background, perspective, rotation, lighting, blur, noise, JPEG."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Realism:
    """How hard the photo is. `mild` is the default evaluation setting; `hard` adds strong blur."""

    max_rotation_deg: float = 8.0
    max_perspective: float = 0.06
    blur_sigma: tuple[float, float] = (0.0, 1.0)
    noise_sigma: tuple[float, float] = (0.0, 6.0)
    jpeg_quality: tuple[int, int] = (60, 95)
    fill: tuple[float, float] = (0.55, 0.85)  # card width / photo width


MILD = Realism()
HARD = Realism(max_rotation_deg=12.0, max_perspective=0.1, blur_sigma=(1.5, 2.5), noise_sigma=(4.0, 10.0),
               jpeg_quality=(40, 70), fill=(0.45, 0.7))


def background(rng: random.Random, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    np_rng = np.random.default_rng(rng.randrange(2**32))
    base = np.array([rng.randrange(40, 220) for _ in range(3)], dtype=np.float32)
    gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
    gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None, None]
    img = base + 30 * rng.uniform(-1, 1) * gx + 30 * rng.uniform(-1, 1) * gy
    texture = cv2.resize(np_rng.normal(0, 18, (h // 16 + 1, w // 16 + 1, 3)).astype(np.float32), (w, h))
    return np.clip(img + texture, 0, 255).astype(np.uint8)


def to_photo(card: Image.Image, rng: random.Random, realism: Realism = MILD,
             size: tuple[int, int] | None = None) -> np.ndarray:
    """The card photographed on a random background, as an RGB uint8 array."""
    w, h = size or rng.choice(((1280, 960), (1024, 768), (1200, 900), (960, 1280)))
    photo = background(rng, (w, h)).astype(np.float32)
    card_rgb = np.asarray(card.convert("RGB"))
    ch, cw = card_rgb.shape[:2]
    scale = rng.uniform(*realism.fill) * w / cw
    if ch * scale > 0.9 * h:
        scale = 0.9 * h / ch
    tw, th = cw * scale, ch * scale
    cx = rng.uniform(tw / 2 + 0.03 * w, w - tw / 2 - 0.03 * w) if w > tw * 1.06 else w / 2
    cy = rng.uniform(th / 2 + 0.03 * h, h - th / 2 - 0.03 * h) if h > th * 1.06 else h / 2
    corners = np.array([[-tw / 2, -th / 2], [tw / 2, -th / 2], [tw / 2, th / 2], [-tw / 2, th / 2]])
    angle = np.deg2rad(rng.uniform(-realism.max_rotation_deg, realism.max_rotation_deg))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    jitter = np.array([[rng.uniform(-1, 1) * realism.max_perspective * tw,
                        rng.uniform(-1, 1) * realism.max_perspective * th] for _ in range(4)])
    dst = (corners + jitter) @ rot.T + [cx, cy]
    src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(card_rgb, matrix, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones((ch, cw), np.float32), matrix, (w, h))[..., None]
    photo = photo * (1 - mask) + warped.astype(np.float32) * mask
    # Lighting: a soft directional gradient and overall brightness.
    lx, ly = rng.uniform(-1, 1), rng.uniform(-1, 1)
    gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    light = rng.uniform(0.8, 1.1) + 0.15 * (lx * gx + ly * gy)
    photo *= light[..., None]
    sigma = rng.uniform(*realism.blur_sigma)
    if sigma > 0.3:
        photo = cv2.GaussianBlur(photo, (0, 0), sigma)
    np_rng = np.random.default_rng(rng.randrange(2**32))
    photo += np_rng.normal(0, rng.uniform(*realism.noise_sigma), photo.shape).astype(np.float32)
    out = np.clip(photo, 0, 255).astype(np.uint8)
    return jpeg_roundtrip(out, rng.randrange(*realism.jpeg_quality))


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(encode_jpeg(rgb, quality))).convert("RGB"))


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
