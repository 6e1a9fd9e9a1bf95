"""Where the photo classifier's examples come from, split so evaluation never sees a training image.

- documents: rendered (training seeds and evaluation seeds differ);
- DAMAGE: damage_severity/train + damaged_parts/train for training; their val/valid splits for evaluation,
  minus every image DUPLICATES.tsv lists (leakage across splits);
- VIN: vin_plates has only a valid split: sorted by file name, even positions train, odd positions evaluate;
- OTHER: rendered text pages, receipts and abstract scenes (no document, no car).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from training.documents.other_scenes import other_photo
from training.documents.photo_effects import HARD, MILD
from training.documents.render import DOCUMENT_CLASSES, render_document

DATASETS = Path("/work/shared/datasets")


@dataclass(frozen=True)
class Example:
    label: str
    source: str  # a path, or "rendered:<seed>:<i>"
    load: Callable[[], np.ndarray]


def _load_file(path: Path) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        with Image.open(path) as img:
            return np.asarray((ImageOps.exif_transpose(img) or img).convert("RGB"))
    return load


def _duplicated_names(datasets: Path) -> set[str]:
    names: set[str] = set()
    for line in (datasets / "DUPLICATES.tsv").read_text().splitlines():
        if line.startswith("#") or line.startswith("split_a"):
            continue
        parts = line.split("\t")
        if len(parts) >= 4:
            names.update((parts[1], parts[3]))
    return names


def _distinct(paths: list[Path]) -> list[Path]:
    """Drop byte-identical copies (the augmented train splits hold many)."""
    seen, out = set(), []
    for path in paths:
        digest = hashlib.md5(path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            out.append(path)
    return out


def damage_paths(split: str, datasets: Path = DATASETS) -> list[Path]:
    if split == "train":
        dirs = [datasets / "damage_severity/images/train", datasets / "damaged_parts/train/images"]
        return _distinct(sorted(p for d in dirs for p in d.glob("*.jpg")))
    dirs = [datasets / "damage_severity/images/val", datasets / "damaged_parts/valid/images"]
    leaked = _duplicated_names(datasets)
    return _distinct(sorted(p for d in dirs for p in d.glob("*.jpg") if p.name not in leaked))


def vin_paths(split: str, datasets: Path = DATASETS) -> list[Path]:
    files = sorted((datasets / "vin_plates/valid/images").glob("*.jpg"))
    return files[0::2] if split == "train" else files[1::2]


def _rendered(label: str, count: int, seed: int) -> Iterator[Example]:
    for i in range(count):
        def load(i: int = i) -> np.ndarray:
            rng = random.Random(seed * 1_000_003 + i)
            if label == "OTHER":
                return other_photo(rng)
            return render_document(label, rng, HARD if i % 4 == 3 else MILD).rgb
        yield Example(label, f"rendered:{seed}:{i}", load)


def examples(split: str, per_document_class: int, other_count: int, max_damage: int | None = None,
             datasets: Path = DATASETS) -> list[Example]:
    seed = 101 if split == "train" else 202
    out: list[Example] = []
    for k, label in enumerate((*DOCUMENT_CLASSES, "OTHER")):
        count = other_count if label == "OTHER" else per_document_class
        out.extend(_rendered(label, count, seed + k))
    damage = damage_paths(split, datasets)
    if max_damage is not None and len(damage) > max_damage:
        damage = random.Random(seed).sample(damage, max_damage)
    out.extend(Example("DAMAGE", str(p), _load_file(p)) for p in damage)
    out.extend(Example("VIN", str(p), _load_file(p)) for p in vin_paths(split, datasets))
    return out
