"""Photos for load: real ones from a folder when given, else small generated JPEGs (no dataset needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from devkit.photos import PHOTO_SUFFIXES
from picloss.platform.imaging import encode_jpeg


def generated_photos(count: int, width: int = 640, height: int = 480, seed: int = 7) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    photos = {}
    for i in range(count):
        yy, xx = np.mgrid[0:height, 0:width]
        base = np.stack([(xx * (i + 1)) % 256, (yy * 3) % 256, ((xx + yy) * 2) % 256], axis=-1)
        noise = rng.integers(0, 40, size=(height, width, 3))
        photos[f"gen-{i:03d}.jpg"] = encode_jpeg(np.clip(base + noise, 0, 255).astype(np.uint8), quality=85)
    return photos


def folder_photos(folder: Path, limit: int) -> dict[str, bytes]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)[:limit]
    return {f"{i:03d}-{p.name}": p.read_bytes() for i, p in enumerate(files)}


DATASETS = Path("/work/shared/datasets")
# damage photos plus a quarter of VIN plates, so classify, damage *and* OCR all get work (read, never copied)
DEFAULT_MIX = (DATASETS / "damage_severity/images/val", DATASETS / "vin_plates/valid/images")


def default_photos_arg() -> str | None:
    """The dataset mix when it is there, else None (generated photos)."""
    return ",".join(str(p) for p in DEFAULT_MIX) if all(p.is_dir() for p in DEFAULT_MIX) else None


def load_photos(folders: str | None, limit: int = 32) -> dict[str, bytes]:
    """`folders`: one folder or several, comma-separated (the first gets three quarters of `limit`, the
    others share the rest); None: generated JPEGs."""
    if not folders:
        return generated_photos(limit)
    paths = [Path(f) for f in folders.split(",") if f]
    shares = (
        [limit]
        if len(paths) == 1
        else [limit - limit // 4] + [max(1, limit // 4 // (len(paths) - 1))] * (len(paths) - 1)
    )
    photos: dict[str, bytes] = {}
    for i, (path, share) in enumerate(zip(paths, shares, strict=True)):
        found = folder_photos(path, share)
        if not found:
            raise SystemExit(f"no photos under {path}")
        photos.update({f"set{i}-{k}": v for k, v in found.items()})
    return photos
