"""Serves photos over HTTP on 127.0.0.1 for the demo, the tests and the load test."""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from picloss.platform.httpserver import serve_app

if TYPE_CHECKING:
    import numpy as np

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def rendered_document(image_class: str, rng: random.Random) -> tuple[bytes, dict[str, str]]:
    """A rendered document photo of `image_class` with invented contents, and the values printed on it: the
    training renderer (training/documents/render.py), the one place the dev kit reaches into training."""
    from training.documents.render import render_document

    doc = render_document(image_class, rng)
    return doc.jpeg(), dict(doc.truth)


def document_jpeg(image_class: str, rng: random.Random) -> bytes:
    return rendered_document(image_class, rng)[0]


def noise_jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A small generated photo of random pixels: a valid image that shows nothing in particular."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def polygon_texture(seed: int, width: int = 640, height: int = 480) -> np.ndarray:
    """HxWx3 uint8 of irregular coloured polygons: unique corners, like the edges and marks on a car,
    so a crop of it can be registered back into it (picloss/engines/registration.py tests)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (width, height), (90, 100, 110))
    draw = ImageDraw.Draw(im)
    for _ in range(220):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(8, 45)
        n = int(rng.integers(3, 7))
        angles, radii = np.sort(rng.uniform(0, 2 * np.pi, n)), rng.uniform(0.4, 1, n) * r
        points = [(float(cx + a * np.cos(t)), float(cy + a * np.sin(t))) for a, t in zip(radii, angles, strict=True)]
        draw.polygon(points, fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return np.asarray(im)


def drawn_car_jpeg(seed: int = 1, color: tuple[int, int, int] = (30, 60, 160)) -> bytes:
    """A side view of a car, drawn: body, windows, wheels, a scratch and a dent-like patch on a road.
    The photo classifier takes it for a damage photo (a car), so tests and the demo can send one through
    the damage path without any dataset photo."""
    import io

    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (640, 480), (120, 125, 130))
    draw = ImageDraw.Draw(img)
    shade = tuple(int(c * 0.8) for c in color)
    draw.rectangle((0, 330, 640, 480), fill=(70, 70, 72))
    draw.rounded_rectangle((60, 170, 580, 360), radius=60, fill=color)
    draw.polygon([(170, 170), (230, 90), (430, 90), (500, 170)], fill=shade)
    draw.polygon([(190, 165), (240, 100), (330, 100), (330, 165)], fill=(150, 180, 200))
    draw.polygon([(345, 165), (345, 100), (420, 100), (480, 165)], fill=(150, 180, 200))
    for x in (160, 480):
        draw.ellipse((x - 55, 300, x + 55, 410), fill=(20, 20, 20))
        draw.ellipse((x - 25, 330, x + 25, 380), fill=(160, 160, 160))
    draw.line([(250, 230), (380, 260)], fill=(230, 230, 230), width=4)
    draw.polygon([(420, 220), (470, 240), (455, 280), (410, 262)], fill=tuple(int(c * 0.5) for c in color))
    pixels = np.asarray(img.filter(ImageFilter.GaussianBlur(1.2))).astype(np.int16)
    pixels = np.clip(pixels + rng.normal(0, 6, pixels.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@dataclass
class PhotoServer:
    host: str = "127.0.0.1"
    port: int = 0
    photos: dict[str, bytes] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)  # seconds before a photo's response starts
    _runner: web.AppRunner | None = None

    def add(self, name: str, data: bytes) -> str:
        self.photos[name] = data
        return self.url(name)

    def add_dir(self, folder: Path) -> list[str]:
        return [self.add(p.name, p.read_bytes()) for p in sorted(folder.iterdir())
                if p.suffix.lower() in PHOTO_SUFFIXES]

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.port}/photos/{name}"

    def file_desc(self, name: str, with_md5: bool = True) -> dict[str, str]:
        desc = {"fileurl": self.url(name)}
        if with_md5:
            desc["filemd5"] = hashlib.md5(self.photos[name], usedforsecurity=False).hexdigest()
        return desc

    async def start(self) -> PhotoServer:
        app = web.Application()
        app.router.add_get("/photos/{name}", self._get)
        self._runner, self.port = await serve_app(app, self.host, self.port)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _get(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        data = self.photos.get(name)
        if name in self.delays:
            await asyncio.sleep(self.delays[name])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/jpeg")
