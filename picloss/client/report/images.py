"""Photo bytes for the report: the natural size, a small thumbnail and a large view.

Pillow (in the `client` extra) makes the thumbnails and reads every format; without it the report still
works: the size of a JPEG or PNG is read from its header and the photo itself is shown at both sizes.
"""

from __future__ import annotations

import hashlib
import io
import struct
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

THUMB_PX = 360
LARGE_PX = 2048
LARGE_KEEP_BYTES = 2 * 1024 * 1024  # a photo up to this size is shown as sent, larger ones are re-encoded
FETCH_MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Photo:
    mime: str
    size: tuple[int, int]
    large: bytes
    thumb: bytes
    thumb_mime: str


def _mime(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:2] == b"BM":
        return "image/bmp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, without decoding; None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return int(w), int(h)
        i += 2 + length
    return None


def upright_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of the photo as the service sees it (EXIF orientation applied when Pillow is there, else
    the header's size); None when it is not a PNG or JPEG."""
    try:
        from PIL import Image
    except ImportError:
        return header_size(data)
    try:
        with Image.open(io.BytesIO(data)) as opened:
            w, h = opened.size
            return (h, w) if opened.getexif().get(0x0112, 1) in (5, 6, 7, 8) else (w, h)
    except Exception:
        return None


def prepare(data: bytes) -> Photo | None:
    """The report's view of one photo; None when it is not an image the report can show."""
    mime = _mime(data)
    try:
        from PIL import Image, ImageOps
    except ImportError:
        size = header_size(data)
        return Photo(mime, size, data, data, mime) if size else None
    try:
        with Image.open(io.BytesIO(data)) as opened:
            # the service's boxes are in the upright (EXIF-rotated) photo's pixels, as picloss.platform.imaging
            # decodes it
            rotated = opened.getexif().get(0x0112, 1) not in (None, 1)
            image = (ImageOps.exif_transpose(opened) or opened).convert("RGB")
            size = image.size
            thumb = _jpeg(image, THUMB_PX, quality=80)
            if len(data) <= LARGE_KEEP_BYTES and not rotated and mime != "application/octet-stream":
                large, large_mime = data, mime
            else:  # a rotated photo is re-encoded upright, so no browser applies its orientation a second time
                large, large_mime = _jpeg(image, LARGE_PX, quality=88), "image/jpeg"
    except Exception:  # not an image (the service reported it, e.g. code 1003); shown as a placeholder
        return None
    return Photo(large_mime, size, large, thumb, "image/jpeg")


def _jpeg(image: object, longest: int, quality: int) -> bytes:
    from PIL import Image

    assert isinstance(image, Image.Image)
    copy = image.copy()
    copy.thumbnail((longest, longest))
    buf = io.BytesIO()
    copy.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def find_local(folder: Path, name: str) -> Path | None:
    for candidate in (name, urllib.parse.unquote(name)):
        path = folder / candidate
        if candidate and path.is_file():
            return path
    return None


def fetch(url: str, timeout_s: float = 10.0) -> bytes | None:
    if not url.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            data: bytes = resp.read(FETCH_MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return data if len(data) <= FETCH_MAX_BYTES else None


def md5_ok(data: bytes, filemd5: str | None) -> bool:
    return not filemd5 or hashlib.md5(data, usedforsecurity=False).hexdigest() == filemd5.lower()


def collect(files: Iterable[tuple[str, str, str | None]], photos_dir: Path | None = None,
            fetch_urls: bool = False) -> tuple[dict[str, bytes], list[str]]:
    """fileid → photo bytes for (fileid, fileurl, filemd5) triples: from `photos_dir` by the URL's last
    segment, else (with `fetch_urls`) downloaded. The md5 the service computed must match, so a photo
    changed since is never shown under another photo's boxes. Also returns one note per photo missing."""
    found: dict[str, bytes] = {}
    notes: list[str] = []
    missing: list[str] = []
    for fileid, fileurl, filemd5 in files:
        name = fileurl.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        data = None
        local = find_local(photos_dir, name) if photos_dir else None
        if local is not None:
            data = local.read_bytes()
        elif fetch_urls:
            data = fetch(fileurl)
        if data is None:
            missing.append(name)
            continue
        if not md5_ok(data, filemd5):
            notes.append(f"{name}: md5 differs from the one the service computed; not shown")
            continue
        found[fileid] = data
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        where = f" in {photos_dir}" if photos_dir else ""
        hint = "" if photos_dir or fetch_urls else " (give --photos DIR or --fetch)"
        notes.append(f"{len(missing)} photo{'s' if len(missing) > 1 else ''} not found{where}{hint}: {shown}; "
                     "drawn as grey placeholders with their boxes")
    return found, notes
