"""Dataset readers (COCO, YOLO with mixed box/polygon lines) through the class-mapping file.

A `Sample` is one photo with its damage boxes in photo pixels (xyxy) and, per head, one
label index per box (-1 where the source dataset does not supervise that head).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

log = logging.getLogger(__name__)

DEFAULT_DATA_ROOT = Path("/work/shared/datasets")
HEADS = ("damage_type", "severity", "part_kind")
OBJECTS = ("damage", "part")  # what a dataset's boxes outline: the damage itself, or the damaged part


@dataclass
class Sample:
    path: Path
    dataset: str
    boxes: np.ndarray  # (N, 4) float32 xyxy, photo pixels
    labels: dict[str, np.ndarray] = field(default_factory=dict)  # head -> (N,) int64, -1 = unknown


@dataclass(frozen=True)
class ClassMap:
    heads: dict[str, list[str]]
    datasets: list[dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> ClassMap:
        raw = yaml.safe_load(path.read_text())
        heads = {name: list(values) for name, values in raw["heads"].items()}
        if tuple(heads) != HEADS:
            raise ValueError(f"classmap heads must be {HEADS}, got {tuple(heads)}")
        return cls(heads=heads, datasets=list(raw["datasets"]))

    def channel(self, dataset: str) -> int:
        """The object channel a dataset's boxes train: 0 damage (the damage itself), 1 damaged part."""
        for ds in self.datasets:
            if ds["name"] == dataset:
                kind = ds.get("object", "damage")
                if kind not in OBJECTS:
                    raise ValueError(f"dataset {dataset}: object must be one of {OBJECTS}, got {kind!r}")
                return OBJECTS.index(kind)
        raise KeyError(dataset)

    def label_indices(self, mapping: dict[str, str]) -> dict[str, int]:
        return {head: self.heads[head].index(value) for head, value in mapping.items()}


def _empty_labels(n: int) -> dict[str, np.ndarray]:
    return {head: np.full(n, -1, dtype=np.int64) for head in HEADS}


def read_coco(
    images_dir: Path, annotations: Path, name: str, classes: dict[str, dict[str, str]], classmap: ClassMap
) -> list[Sample]:
    data = json.loads(annotations.read_text())
    cat_names = {c["id"]: c["name"] for c in data["categories"]}
    per_image: dict[int, list[dict[str, Any]]] = {img["id"]: [] for img in data["images"]}
    for ann in data["annotations"]:
        per_image[ann["image_id"]].append(ann)
    samples = []
    for img in data["images"]:
        anns = [a for a in per_image[img["id"]] if cat_names[a["category_id"]] in classes]
        boxes = np.array(
            [
                [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                for a in anns
            ],
            dtype=np.float32,
        ).reshape(-1, 4)
        labels = _empty_labels(len(anns))
        for i, ann in enumerate(anns):
            for head, idx in classmap.label_indices(classes[cat_names[ann["category_id"]]]).items():
                labels[head][i] = idx
        samples.append(Sample(images_dir / img["file_name"], name, boxes, labels))
    return samples


def parse_yolo_line(line: str) -> tuple[int, tuple[float, float, float, float]] | None:
    """`cls cx cy w h` or `cls x1 y1 x2 y2 ...` (polygon) -> (cls, normalised xyxy)."""
    parts = line.split()
    if len(parts) < 5:
        return None
    cls = int(float(parts[0]))
    values = [float(v) for v in parts[1:]]
    if len(values) == 4:
        cx, cy, w, h = values
        return cls, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    xs, ys = values[0::2], values[1::2]
    return cls, (min(xs), min(ys), max(xs), max(ys))


def read_yolo(
    images_dir: Path, labels_dir: Path, name: str, classes: dict[Any, dict[str, str]], classmap: ClassMap
) -> list[Sample]:
    classes = {int(k): v for k, v in classes.items()}
    samples = []
    for image_path in sorted(images_dir.glob("*.jpg")) + sorted(images_dir.glob("*.png")):
        label_path = labels_dir / (image_path.stem + ".txt")
        lines = label_path.read_text().splitlines() if label_path.exists() else []
        parsed = [p for p in (parse_yolo_line(line) for line in lines) if p and p[0] in classes]
        with Image.open(image_path) as im:
            width, height = im.size
        boxes = np.array(
            [[x0 * width, y0 * height, x1 * width, y1 * height] for _, (x0, y0, x1, y1) in parsed],
            dtype=np.float32,
        ).reshape(-1, 4)
        labels = _empty_labels(len(parsed))
        for i, (cls, _) in enumerate(parsed):
            for head, idx in classmap.label_indices(classes[cls]).items():
                labels[head][i] = idx
        samples.append(Sample(image_path, name, boxes, labels))
    return samples


def read_split(classmap: ClassMap, split: str, data_root: Path = DEFAULT_DATA_ROOT) -> list[Sample]:
    samples: list[Sample] = []
    for ds in classmap.datasets:
        root = Path(ds["root"]) if Path(ds["root"]).is_absolute() else data_root / ds["root"]
        spec = ds["splits"].get(split)
        if spec is None:
            continue
        if ds["format"] == "coco":
            samples += read_coco(
                root / spec["images"], root / spec["annotations"], ds["name"], ds["classes"], classmap
            )
        elif ds["format"] == "yolo":
            samples += read_yolo(
                root / spec["images"], root / spec["labels"], ds["name"], ds["classes"], classmap
            )
        else:
            raise ValueError(f"unknown dataset format {ds['format']!r}")
    return samples


def dedupe_identical(samples: list[Sample]) -> list[Sample]:
    """Keep the first of byte-identical files within one dataset (augmentation copies)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for s in samples:
        key = (s.dataset, hashlib.sha256(s.path.read_bytes()).hexdigest())
        if key not in seen:
            seen.add(key)
            kept.append(s)
    return kept


def leaked_val_files(duplicates_tsv: Path, classmap: ClassMap) -> set[str]:
    """`dataset/file` of val images that are (near-)copies of any train image, per DUPLICATES.tsv."""
    train_names = {ds["leak_split_names"]["train"] for ds in classmap.datasets if "leak_split_names" in ds}
    val_names = {
        ds["leak_split_names"]["val"]: ds["name"] for ds in classmap.datasets if "leak_split_names" in ds
    }
    leaked: set[str] = set()
    if not duplicates_tsv.exists():
        log.warning("no %s: val leakage not excluded", duplicates_tsv)
        return leaked
    for line in duplicates_tsv.read_text().splitlines():
        cols = line.split("\t")
        if line.startswith("#") or len(cols) < 4 or cols[0] == "split_a":
            continue
        pairs = [(cols[0], cols[1], cols[2]), (cols[2], cols[3], cols[0])]
        for split, file, other in pairs:
            if split in val_names and other in train_names:
                leaked.add(f"{val_names[split]}/{file}")
    return leaked


def without_leaked(samples: list[Sample], leaked: set[str]) -> list[Sample]:
    return [s for s in samples if f"{s.dataset}/{s.path.name}" not in leaked]


@dataclass(frozen=True)
class CleanCar:
    """A photo of a whole, undamaged vehicle (`clean_cars/`): no damage may be reported on it."""

    path: Path
    subset: str  # plates | vehicles
    plates: np.ndarray  # (N, 4) xyxy pixels, licence plates (plates subset only)
    vehicles: np.ndarray  # (M, 4) xyxy pixels


CLEAN_CAR_SUBSETS = {"plates": {"plate": (0,), "vehicle": (1,)}, "vehicles": {"plate": (), "vehicle": (0, 1, 2, 3, 4)}}


def read_clean_cars(split: str, data_root: Path = DEFAULT_DATA_ROOT) -> list[CleanCar]:
    """`clean_cars/{plates,vehicles}/{split}`: class 0 of `plates` is the licence plate, 1 the vehicle; every
    class of `vehicles` (Ambulance, Bus, Car, Motorcycle, Truck) is a vehicle. Polygons become their boxes."""
    out = []
    for subset, classes in CLEAN_CAR_SUBSETS.items():
        root = data_root / "clean_cars" / subset / split
        for image_path in sorted((root / "images").glob("*.jpg")):
            label_path = root / "labels" / (image_path.stem + ".txt")
            lines = label_path.read_text().splitlines() if label_path.exists() else []
            parsed = [p for p in (parse_yolo_line(line) for line in lines) if p]
            with Image.open(image_path) as im:
                width, height = im.size

            def boxes(keep: tuple[int, ...], parsed: list = parsed, w: int = width, h: int = height) -> np.ndarray:
                return np.array([[x0 * w, y0 * h, x1 * w, y1 * h] for c, (x0, y0, x1, y1) in parsed if c in keep],
                                dtype=np.float32).reshape(-1, 4)

            out.append(CleanCar(image_path, subset, boxes(classes["plate"]), boxes(classes["vehicle"])))
    return out
