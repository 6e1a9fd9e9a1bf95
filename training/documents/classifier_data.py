"""Where the photo classifier's examples come from, split so evaluation never sees a training image.

- documents: rendered from the TRAINING layout families only (`layouts.py` = A, `layouts_b.py` = B) with every
  degradation of `degrade.py` (levels, frame-filling scans and crops, 90/180/270 degree turns, glare,
  occlusion); the held-back family (`heldout_layouts.py`) is never imported here;
- DAMAGE: damage_severity/train + damaged_parts/train + clean_cars/*/train (whole cars are DAMAGE-class photos)
  for training; damage_severity/val + damaged_parts/valid minus every DUPLICATES.tsv entry, and
  clean_cars/*/valid, for evaluation;
- VIN: vin_plates/train (2797 real photos) for training, vin_plates/valid (494) for evaluation;
- OTHER: rendered text pages, receipts and abstract scenes (no document, no car), some frame-filling.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from training.documents import layouts, layouts_b
from training.documents.degrade import degrade, random_degradation, rotate
from training.documents.other_scenes import other_photo, receipt, text_page
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
    folder = "train" if split == "train" else "valid"
    return _distinct(sorted((datasets / f"vin_plates/{folder}/images").glob("*.jpg")))


def clean_car_paths(split: str, datasets: Path = DATASETS) -> list[Path]:
    folder = "train" if split == "train" else "valid"
    return _distinct(sorted(p for d in ("vehicles", "plates")
                            for p in (datasets / f"clean_cars/{d}/{folder}/images").glob("*.jpg")))


TRAIN_SCALE = 0.5  # frame-filling training photos are rendered at half size (see degrade.degrade)
TRAINING_FAMILIES = {"A": layouts.RENDERERS, "B": layouts_b.RENDERERS}


def rendered_training(label: str, count: int, seed: int) -> Iterator[Example]:
    """Documents of both training families, every degradation; OTHER scenes, a third of them frame-filling."""
    for i in range(count):
        family = "AB"[i % 2]

        how = random_degradation(random.Random(seed * 1_000_003 + i))
        # Photos on a background render at full size: at half size their blur/noise/texture differ from real
        # photos after the 224 thumbnail (measured: photo-framed documents were classed far worse).
        scale = 1.0 if how.framing == "photo" else TRAIN_SCALE
        full = ":full" if label != "OTHER" and scale == 1.0 else ""

        def load(i: int = i, family: str = family, scale: float = scale) -> np.ndarray:
            rng = random.Random(seed * 1_000_003 + i)
            how = random_degradation(rng)
            if label == "OTHER":
                if how.framing == "photo":
                    return rotate(other_photo(rng), how.orientation)
                page = text_page(rng) if rng.random() < 0.6 else receipt(rng)
                return degrade(page, rng, how, scale)
            return degrade(TRAINING_FAMILIES[family][label](rng).image, rng, how, scale)
        yield Example(label, f"rendered:{family}:{seed}:{i}{full}", load)


def training_examples(per_document_class: int, other_count: int, max_damage: int | None,
                      max_vin: int | None = None, datasets: Path = DATASETS) -> list[Example]:
    """The retraining set (issue 10): both training families, real VIN/damage/clean-car train splits."""
    seed = 111
    out: list[Example] = []
    for k, label in enumerate((*DOCUMENT_CLASSES, "OTHER")):
        out.extend(rendered_training(label, other_count if label == "OTHER" else per_document_class, seed + k))
    damage = damage_paths("train", datasets)
    if max_damage is not None and len(damage) > max_damage:
        damage = random.Random(seed).sample(damage, max_damage)
    out.extend(Example("DAMAGE", str(p), _load_file(p)) for p in damage + clean_car_paths("train", datasets))
    vins = vin_paths("train", datasets)
    if max_vin is not None and len(vins) > max_vin:
        vins = random.Random(seed).sample(vins, max_vin)
    out.extend(Example("VIN", str(p), _load_file(p)) for p in vins)
    return out


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
