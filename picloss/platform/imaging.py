"""Photo decoding with limits, shared by the orchestrator and the model services."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

DEFAULT_MAX_PIXELS = 60_000_000


class ImageRejected(ValueError):
    """A photo that cannot be processed: code 1003 (undecodable) or 1004 (too large)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class DecodedImage:
    rgb: np.ndarray  # HxWx3 uint8, EXIF orientation applied
    format: str
    shown_width: int  # the displayed photo's size (EXIF applied); larger than rgb's when decoded reduced
    shown_height: int

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def scale_x(self) -> float:
        """rgb's x -> the displayed photo's x (1 when decoded in full)."""
        return self.shown_width / self.width

    @property
    def scale_y(self) -> float:
        return self.shown_height / self.height


def probe_size(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int, str]:
    """Read only the header: (width, height, format). Rejects bombs before decoding."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            fmt = img.format or "?"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # PIL refuses headers declaring more than 2 x MAX_IMAGE_PIXELS itself: too large, not undecodable
        raise ImageRejected(1004, "image declares too many pixels") from exc
    except Exception as exc:
        raise ImageRejected(1003, f"not a decodable image: {type(exc).__name__}") from exc
    if width <= 0 or height <= 0:
        raise ImageRejected(1003, "image has no pixels")
    if width * height > max_pixels:
        raise ImageRejected(1004, f"image has {width}x{height} pixels, over the limit of {max_pixels}")
    return width, height, fmt


def validate_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Check that the whole image decodes and return its displayed size (EXIF orientation applied), without
    a full-resolution decode: a JPEG is decoded at 1/8 scale, which still reads every byte, so a truncated
    file is still caught (12 MP: ~6 ms instead of ~110 ms and no 36 MB array)."""
    width, height, _ = probe_size(data, max_pixels)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            img.load()
            orientation = img.getexif().get(0x0112, 1)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(1004, "image too large to decode") from exc
    except Exception as exc:
        raise ImageRejected(1003, f"not a decodable image: {type(exc).__name__}") from exc
    if orientation in (5, 6, 7, 8):  # rotated by 90 or 270 degrees when displayed
        width, height = height, width
    return width, height


def reduction(width: int, height: int, min_short_side: int = 0, min_long_side: int = 0) -> int:
    """The largest JPEG decoding reduction (8, 4, 2 or 1) that keeps the short side at least `min_short_side` and
    the long side at least `min_long_side` pixels."""
    short, long = min(width, height), max(width, height)
    for k in (8, 4, 2):
        if short // k >= max(1, min_short_side) and long // k >= max(1, min_long_side):
            return k
    return 1


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, *, min_short_side: int = 0,
                 min_long_side: int = 0) -> DecodedImage:
    """Decode to RGB with EXIF rotation applied; first frame of animations; CMYK converted.

    With `min_short_side` / `min_long_side` (the size the caller's models need), a JPEG is decoded reduced by
    1/2, 1/4 or 1/8 in its DCT (libjpeg scaling: about that share of the work and memory) while still at least
    that size; `scale_x` / `scale_y` map its pixels back to the displayed photo's. Without them, or for other
    formats, the full photo is decoded (scale 1)."""
    # The pixel limit is enforced from the header by probe_size; no process-wide warning filters here
    # (they are not thread-safe, and several photos are decoded at once).
    width, height, _ = probe_size(data, max_pixels)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.seek(0)
            fmt = img.format or "?"
            k = reduction(width, height, min_short_side, min_long_side) if min_short_side or min_long_side else 1
            if k > 1 and fmt == "JPEG":
                img.draft("RGB", (width // k, height // k))  # picks exactly 1/k (width // (width // k) < 2k)
            turned = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # displayed rotated by 90 or 270 degrees
            upright = ImageOps.exif_transpose(img) or img
            rgb = np.asarray(upright.convert("RGB"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(1004, "image too large to decode") from exc
    except Exception as exc:
        raise ImageRejected(1003, f"not a decodable image: {type(exc).__name__}") from exc
    if width_height_pixels(rgb) > max_pixels:
        raise ImageRejected(1004, "image too large after orientation")
    shown_w, shown_h = (height, width) if turned else (width, height)
    return DecodedImage(rgb=rgb, format=fmt, shown_width=shown_w, shown_height=shown_h)


def width_height_pixels(rgb: np.ndarray) -> int:
    return int(rgb.shape[0]) * int(rgb.shape[1])


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
