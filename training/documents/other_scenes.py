"""Images of class OTHER (no document, no car): text pages, receipts, screens, abstract scenes.

Also a crude synthetic car-like drawing used only by tests (real car photos train the DAMAGE class).
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw

from training.documents.layouts import font
from training.documents.photo_effects import MILD, background, to_photo

FILLER = "保险理赔报案记录客户服务中心收据金额合计日期备注说明请妥善保管本单据谢谢惠顾欢迎再次光临会员积分"


def text_page(rng: random.Random) -> Image.Image:
    img = Image.new("RGB", (700, 990), (rng.randrange(235, 256),) * 3)
    d = ImageDraw.Draw(img)
    y = 40
    while y < 940:
        n = rng.randrange(8, 24)
        d.text((40, y), "".join(rng.choice(FILLER) for _ in range(n)), font=font(rng.choice((20, 24, 28))),
               fill=(30, 30, 30))
        y += rng.randrange(32, 56)
    return img


def receipt(rng: random.Random) -> Image.Image:
    img = Image.new("RGB", (420, 900), (250, 250, 245))
    d = ImageDraw.Draw(img)
    for i in range(rng.randrange(10, 22)):
        item = "".join(rng.choice(FILLER) for _ in range(rng.randrange(3, 8)))
        d.text((20, 30 + i * 38), f"{item}  {rng.randrange(1, 999)}.{rng.randrange(100):02d}", font=font(22),
               fill=(40, 40, 40))
    return img


def abstract_scene(rng: random.Random, size: tuple[int, int]) -> np.ndarray:
    img = Image.fromarray(background(rng, size))
    d = ImageDraw.Draw(img)
    for _ in range(rng.randrange(3, 15)):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        box = (x0, y0, x0 + rng.randrange(30, 400), y0 + rng.randrange(30, 400))
        color = tuple(rng.randrange(256) for _ in range(3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)(box, fill=color)
    return np.asarray(img)


def other_photo(rng: random.Random) -> np.ndarray:
    kind = rng.random()
    if kind < 0.4:
        return to_photo(text_page(rng), rng, MILD)
    if kind < 0.6:
        return to_photo(receipt(rng), rng, MILD)
    return abstract_scene(rng, rng.choice(((1024, 768), (800, 800), (960, 1280))))


def car_like(rng: random.Random, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A crude car silhouette on a street-like background (tests only)."""
    w, h = size
    img = Image.fromarray(background(rng, size))
    d = ImageDraw.Draw(img)
    d.rectangle((0, int(h * 0.7), w, h), fill=(90, 90, 95))
    body = tuple(rng.randrange(256) for _ in range(3))
    d.rounded_rectangle((int(w * 0.1), int(h * 0.4), int(w * 0.9), int(h * 0.72)), 30, fill=body)
    d.polygon([(int(w * 0.28), int(h * 0.4)), (int(w * 0.38), int(h * 0.22)), (int(w * 0.66), int(h * 0.22)),
               (int(w * 0.76), int(h * 0.4))], fill=body)
    for cx in (0.27, 0.73):
        d.ellipse((int(w * cx) - 55, int(h * 0.62), int(w * cx) + 55, int(h * 0.62) + 110), fill=(20, 20, 20))
    return np.asarray(img)
