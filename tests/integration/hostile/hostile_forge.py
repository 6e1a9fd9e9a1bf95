"""Hostile photo bytes, forged in memory (no dataset needed)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def jpeg(
    width: int, height: int, *, mode: str = "RGB", exif_orientation: int | None = None, quality: int = 85
) -> bytes:
    rng = np.random.default_rng(width * 7 + height)
    arr = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    arr[: height // 2, : width // 4] = 255  # an asymmetric mark, so a rotation shows
    img = Image.fromarray(arr).convert(mode)
    buf = io.BytesIO()
    kwargs: dict[str, object] = {"format": "JPEG", "quality": quality}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    img.save(buf, **kwargs)  # type: ignore[arg-type]
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring width x height, with a tiny compressed stream of zero rows."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1_000_000, 9)  # a decoder would inflate far more than it reads
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b"")
    )


def jpeg_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A small real JPEG whose SOF0 header is patched to declare width x height."""
    data = bytearray(jpeg(16, 16))
    sof = data.find(b"\xff\xc0")
    assert sof > 0, "baseline JPEG expected"
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def animated_gif(frames: int = 5) -> bytes:
    images = [Image.new("RGB", (32, 24), (i * 40 % 256, 80, 160)) for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buf.getvalue()


def megapixels_jpeg(megapixels: float) -> bytes:
    """A flat-colour JPEG of about `megapixels` (compresses small, decodes big)."""
    width = int((megapixels * 1e6 * 3 / 2) ** 0.5)
    height = int(megapixels * 1e6 / width) + 1
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (120, 130, 140)).save(buf, format="JPEG", quality=50)
    return buf.getvalue()
