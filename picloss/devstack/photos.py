"""Serves photos over HTTP on 127.0.0.1 for the demo, the tests and the load test."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from picloss.devstack.httpserver import serve_app

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


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
