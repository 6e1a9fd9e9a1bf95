"""The photo-level damage gate's shared parts: its photo sets (train views and held-out photos, grouped by source
photo), its figures per source and its export to the model repository. Used by gate_finetune.py (the gate in
service: fine-tuned Lite0 tail) and gate.py (the superseded first gate: frozen backbone + linear head, kept as an
experiment that still runs)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from picloss.engines.models.damage_gate import (
    GATE_SPEC,
    INPUT_IMAGES,
    INPUT_SIZE,
    MAX_BATCH_SIZE,
    OUTPUT_DAMAGE_PROB,
)
from training.damage.common import onnx_vs_torch, roc_auc, share
from training.triton_config import config_pbtxt as triton_config

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = Path(os.environ.get("PICLOSS_DATASETS", str(REPO.parent / "shared" / "datasets")))
FEATURES = 1280  # channels of the Lite0 feature map; both gates pool its mean and max
TARGET_RECALL = 0.98
FOLDS = 5
# Views of the train photos that are used. Also built, and dropped because they did not help on out-of-fold
# train predictions (224 px: ROC AUC 0.906 with them, 0.913 without): "lowres" (a clean photo at 256 px),
# "vehicle_crop" (the vehicle box) and "panel_crop" (a panel-sized crop inside the vehicle box).
VIEWS = ("full", "damage_crop", "plate_crop")
log = logging.getLogger("damage_gate")

Box = tuple[float, float, float, float]  # normalised x0, y0, x1, y1


@dataclass(frozen=True)
class Item:
    path: Path
    label: int  # 1 = damage on the photo
    group: str  # items of one group never sit in different folds
    source: str  # e.g. "damage_severity/train"
    view: str  # "full", "lowres" or a crop name
    box: Box | None = None

    @property
    def key(self) -> str:
        box = "" if self.box is None else ",".join(f"{v:.4f}" for v in self.box)
        return f"{self.source}/{self.path.name}#{self.view}#{box}"




# ---------------------------------------------------------------- listing

def source_stem(name: str) -> str:
    """Roboflow augmentation copies share the part of the file name before `.rf.`."""
    return name.split(".rf.")[0] if ".rf." in name else Path(name).stem


def yolo_boxes(label: Path) -> list[tuple[int, Box]]:
    """YOLO boxes and polygons (min/max of the points), normalised xyxy."""
    out: list[tuple[int, Box]] = []
    if not label.exists():
        return out
    for line in label.read_text().splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        cls, vals = int(float(parts[0])), [float(v) for v in parts[1:]]
        if len(vals) == 4:
            cx, cy, w, h = vals
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        else:
            xs, ys = vals[0::2], vals[1::2]
            box = (min(xs), min(ys), max(xs), max(ys))
        out.append((cls, tuple(float(np.clip(v, 0, 1)) for v in box)))  # type: ignore[misc]
    return out


def expand(box: Box, factor: float, min_side: float, rng: random.Random | None = None) -> Box:
    """A square-ish crop around `box`, `factor` times its size (at least min_side), jittered, inside the photo."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side_w = min(1.0, max((box[2] - box[0]) * factor, min_side))
    side_h = min(1.0, max((box[3] - box[1]) * factor, min_side))
    if rng is not None:
        cx += rng.uniform(-0.25, 0.25) * side_w
        cy += rng.uniform(-0.25, 0.25) * side_h
    x0 = float(np.clip(cx - side_w / 2, 0, 1 - side_w))
    y0 = float(np.clip(cy - side_h / 2, 0, 1 - side_h))
    return (x0, y0, x0 + side_w, y0 + side_h)


def duplicates_listed(data: Path) -> tuple[set[tuple[str, str]], list[tuple[tuple[str, str], tuple[str, str]]]]:
    """Every (split, file) named in DUPLICATES.tsv, and the pairs."""
    names: set[tuple[str, str]] = set()
    pairs = []
    for line in (data / "DUPLICATES.tsv").read_text().splitlines():
        if line.startswith("#") or line.startswith("split_a"):
            continue
        a_split, a_file, b_split, b_file = line.split("\t")[:4]
        names |= {(a_split, a_file), (b_split, b_file)}
        pairs.append(((a_split, a_file), (b_split, b_file)))
    return names, pairs


class Groups:
    """Union-find over group names."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def distinct_files(folder: Path) -> list[Path]:
    """The images of a folder, byte-identical copies dropped (the first name in sorted order is kept)."""
    seen: set[str] = set()
    out = []
    for path in sorted(folder.glob("*.jpg")):
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            out.append(path)
    return out


def damage_severity_boxes(data: Path, split: str) -> dict[str, list[Box]]:
    coco = json.loads((data / "damage_severity" / "annotations" / f"instances_{split}.json").read_text())
    size = {im["id"]: (im["file_name"], im["width"], im["height"]) for im in coco["images"]}
    boxes: dict[str, list[Box]] = {}
    for ann in coco["annotations"]:
        name, w, h = size[ann["image_id"]]
        x, y, bw, bh = ann["bbox"]
        boxes.setdefault(name, []).append((x / w, y / h, (x + bw) / w, (y + bh) / h))
    return boxes


def train_items(data: Path, seed: int = 0, vin_count: int = 500, per_stem: int = 1,
                views: tuple[str, ...] = VIEWS) -> list[Item]:
    rng = random.Random(seed)
    _, pairs = duplicates_listed(data)
    groups = Groups()
    for (a_split, a_file), (b_split, b_file) in pairs:
        if a_split.endswith("/train") and b_split.endswith("/train"):  # cross-dataset copies of one photo
            groups.union(f"{a_split}:{source_stem(a_file)}", f"{b_split}:{source_stem(b_file)}")
    raw: list[tuple[Path, int, str, str, str, Box | None]] = []

    sev_boxes = damage_severity_boxes(data, "train")
    for source, folder in (("damage_severity/train", data / "damage_severity/images/train"),
                           ("damaged_parts/train", data / "damaged_parts/train/images")):
        by_stem: dict[str, list[Path]] = {}
        for path in distinct_files(folder):
            by_stem.setdefault(source_stem(path.name), []).append(path)
        for stem, paths in by_stem.items():
            group = f"{source}:{stem}"
            for path in paths[:per_stem]:
                if source.startswith("damaged_parts"):
                    boxes = [b for _, b in yolo_boxes(path.parent.parent / "labels" / f"{path.stem}.txt")]
                else:
                    boxes = sev_boxes.get(path.name, [])
                if not boxes:
                    continue  # an unlabelled "damage" photo may show none
                raw.append((path, 1, group, source, "full", None))
                if source.startswith("damage_severity"):  # 640-px photos with small damages: close-ups
                    box = rng.choice(boxes)
                    raw.append((path, 1, group, source, "damage_crop", expand(box, 4.0, 0.3, rng)))

    for name in ("plates", "vehicles"):
        source = f"clean_cars/{name}/train"
        for path in sorted((data / "clean_cars" / name / "train" / "images").glob("*.jpg")):
            group = f"{source}:{source_stem(path.name)}"
            raw.append((path, 0, group, source, "full", None))
            raw.append((path, 0, group, source, "lowres", None))
            labels = yolo_boxes(path.parent.parent / "labels" / f"{path.stem}.txt")
            vehicles = [b for c, b in labels if (name == "vehicles" or c == 1)]
            plates = [b for c, b in labels if name == "plates" and c == 0]
            if vehicles:
                vehicle = max(vehicles, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
                raw.append((path, 0, group, source, "vehicle_crop", expand(vehicle, 1.1, 0.0)))
                w, h = vehicle[2] - vehicle[0], vehicle[3] - vehicle[1]
                cx, cy = rng.uniform(vehicle[0] + w / 4, vehicle[2] - w / 4), rng.uniform(
                    vehicle[1] + h / 4, vehicle[3] - h / 4)
                raw.append((path, 0, group, source, "panel_crop",
                            expand((cx, cy, cx, cy), 1.0, max(0.2, 0.45 * max(w, h)))))
            if plates:
                raw.append((path, 0, group, source, "plate_crop", expand(rng.choice(plates), 2.5, 0.15, rng)))

    vin = sorted((data / "vin_plates" / "train" / "images").glob("*.jpg"))
    for path in rng.sample(vin, min(vin_count, len(vin))):
        raw.append((path, 0, f"vin_plates/train:{path.stem}", "vin_plates/train", "full", None))
    return [Item(path, label, groups.find(group), source, view, box)
            for path, label, group, source, view, box in raw if view in views]


def eval_items(data: Path, vin_count: int = 200, seed: int = 0) -> list[Item]:
    """Held-out photos: damage val minus every image named in DUPLICATES.tsv, clean and VIN valid."""
    listed, _ = duplicates_listed(data)
    items: list[Item] = []
    for source, folder in (("damage_severity/val", data / "damage_severity/images/val"),
                           ("damaged_parts/valid", data / "damaged_parts/valid/images")):
        for path in distinct_files(folder):
            if (source, path.name) not in listed:
                items.append(Item(path, 1, path.name, source, "full"))
    for name in ("plates", "vehicles"):
        source = f"clean_cars/{name}/valid"
        for path in sorted((data / "clean_cars" / name / "valid" / "images").glob("*.jpg")):
            items.append(Item(path, 0, path.name, source, "full"))
    vin = sorted((data / "vin_plates" / "valid" / "images").glob("*.jpg"))
    for path in random.Random(seed).sample(vin, min(vin_count, len(vin))):
        items.append(Item(path, 0, path.name, "vin_plates/valid", "full"))
    return items


def load_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def view_of(item: Item) -> np.ndarray:
    """The photo (or crop) as the gate would receive it, before to_input."""
    rgb = load_rgb(item.path)
    h, w = rgb.shape[:2]
    if item.box is not None:
        x0, y0, x1, y1 = item.box
        rgb = rgb[int(y0 * h):max(int(y0 * h) + 1, int(y1 * h)), int(x0 * w):max(int(x0 * w) + 1, int(x1 * w))]
    if item.view == "lowres":  # the damaged_parts photos are <= 256 px: negatives at that resolution too
        scale = 256 / max(h, w)
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return rgb


def figures(items: list[Item], probs: np.ndarray, threshold: float) -> dict[str, dict[str, float | int]]:
    """Per source (whole photos only): count, share flagged as damage; plus all damage vs all clean cars."""
    full = [i for i, it in enumerate(items) if it.view == "full"]
    out: dict[str, dict[str, float | int]] = {}
    for source in sorted({items[i].source for i in full}):
        idx = [i for i in full if items[i].source == source]
        out[source] = {"photos": len(idx), "flagged_damage": share(probs[idx] >= threshold)}
    dmg = [i for i in full if items[i].label == 1]
    clean = [i for i in full if items[i].source.startswith("clean_cars")]
    y = np.array([1] * len(dmg) + [0] * len(clean))
    p = np.concatenate([probs[dmg], probs[clean]])
    out["damage_recall"] = {"photos": len(dmg), "value": share(probs[dmg] >= threshold)}
    out["clean_cars_false_damage"] = {"photos": len(clean), "value": share(probs[clean] >= threshold)}
    out["roc_auc_damage_vs_clean_cars"] = {"photos": len(y), "value": roc_auc(y, p)}
    return out


def counts(items: Iterable[Item]) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in items:
        key = f"{it.source}:{it.view}:{'damage' if it.label else 'clean'}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


# ---------------------------------------------------------------- export

def config_pbtxt() -> str:
    # The comment still names gate.py, which first wrote the file: the committed config stays byte-identical.
    return triton_config(GATE_SPEC, MAX_BATCH_SIZE,
                         {INPUT_IMAGES: (3, INPUT_SIZE, INPUT_SIZE), OUTPUT_DAMAGE_PROB: (1,)},
                         "Written by training/damage/gate.py; tensor names: picloss/engines/models/damage_gate.py.")


def export(model: nn.Module, models_dir: Path, record: dict[str, object], samples: list[np.ndarray]) -> Path:
    """Write the gate (0..255 images -> damage_prob) as ONNX with its threshold in the metadata, config.pbtxt and
    gate.json; checks onnxruntime against torch on a random image and `samples`."""
    import onnx

    model = model.eval()
    path = GATE_SPEC.onnx_path(models_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.rand(2, 3, INPUT_SIZE, INPUT_SIZE) * 255
    torch.onnx.export(model, (dummy,), str(path), input_names=[INPUT_IMAGES], output_names=[OUTPUT_DAMAGE_PROB],
                      dynamic_axes={INPUT_IMAGES: {0: "batch"}, OUTPUT_DAMAGE_PROB: {0: "batch"}}, opset_version=17,
                      dynamo=False)
    proto = onnx.load(str(path))
    for key in ("threshold", "input_size", "resize"):
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"damage_gate.{key}", str(record[key])
    onnx.save(proto, str(path))
    batch = torch.from_numpy(np.stack([dummy[0].numpy(), *samples]))
    diff = onnx_vs_torch(model, path, batch, INPUT_IMAGES, OUTPUT_DAMAGE_PROB)
    record["onnx_vs_torch_max_abs_diff"] = diff
    (path.parent.parent / "config.pbtxt").write_text(config_pbtxt())
    (path.parent.parent / "gate.json").write_text(json.dumps(record, indent=2) + "\n")
    log.info("exported %s (%.1f MB), ONNX vs torch max |diff| %.2e", path, path.stat().st_size / 1e6, diff)
    return path
