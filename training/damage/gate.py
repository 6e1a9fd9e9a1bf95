"""Train the photo-level damage gate (issue 11, part 2): frozen EfficientNet-Lite0 + a small head, one ONNX.

    nice -n 10 .venv/bin/python -m training.damage.gate --log /tmp/logs/damage_gate.log

Steps (each cached in --cache, so a rerun resumes): list the photos; extract pooled backbone features with
onnxruntime (the backbone exported once to --cache); 5-fold grouped cross-validation on TRAIN only (groups = a
source photo with its augmentation copies and its cross-dataset duplicates) to pick the threshold; train the
head on all of train; evaluate on the held-out val photos (never used for training or the threshold); export
backbone + head + sigmoid to models/damage_gate/1/model.onnx with config.pbtxt and gate.json (threshold, figures).

Positives: damage_severity/images/train and damaged_parts/train (byte-identical copies dropped, one file per
source stem, every cross-dataset copy of a photo in the same group) plus a close-up crop around one damage box
of each damage_severity photo. Negatives: clean_cars/{plates,vehicles}/train (whole photo and a tight
licence-plate crop) and 500 photos of vin_plates/train.
Held out: damage_severity/images/val + damaged_parts/valid minus every image of DUPLICATES.tsv;
clean_cars/*/valid; vin_plates/valid.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from picloss.models.damage_gate import (
    GATE_SPEC,
    INPUT_IMAGES,
    INPUT_SIZE,
    MAX_BATCH_SIZE,
    OUTPUT_DAMAGE_PROB,
    to_input,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = Path(os.environ.get("PICLOSS_DATASETS", str(REPO.parent / "shared" / "datasets")))
FEATURES = 1280
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


# ---------------------------------------------------------------- features

class PooledBackbone(nn.Module):
    """0..255 RGB -> [N, 2 * 1280]: global average and max of the frozen Lite0 feature map."""

    def __init__(self) -> None:
        super().__init__()
        from training.documents.backbone import Backbone

        self.backbone = Backbone()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        fmap = self.backbone(images)
        return torch.cat([fmap.mean(dim=(2, 3)), fmap.amax(dim=(2, 3))], dim=1)


def cached_onnx_session(model: nn.Module, path: Path, size: int, threads: int, output: str = "features") -> object:
    """`model` (0..255 images [N,3,size,size] -> `output`) exported once to `path`, run by onnxruntime (several
    times faster than eager torch on these CPUs): the feature extraction of the training scripts."""
    import onnxruntime as ort

    if not path.exists():
        torch.onnx.export(model.eval(), (torch.rand(1, 3, size, size) * 255,), str(path),
                          input_names=["images"], output_names=[output],
                          dynamic_axes={"images": {0: "batch"}, output: {0: "batch"}}, opset_version=17,
                          dynamo=False)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def feature_session(cache: Path, threads: int) -> object:
    """The pooled backbone as ONNX."""
    return cached_onnx_session(PooledBackbone(), cache / f"pooled_backbone_{INPUT_SIZE}.onnx", INPUT_SIZE, threads)


def extract(items: list[Item], cache: Path, threads: int = 2, batch: int = 16) -> np.ndarray:
    """Features of every item; cached in cache/features_<size>.npz by item key, saved every few hundred."""
    store = cache / f"features_{INPUT_SIZE}.npz"
    feats: dict[str, np.ndarray] = {}
    if store.exists():
        with np.load(store) as z:
            feats = dict(zip(z["keys"].tolist(), z["feats"], strict=True))
    missing = [it for it in items if it.key not in feats]
    if missing:
        session = feature_session(cache, threads)
        start = time.monotonic()
        for n in range(0, len(missing), batch):
            chunk = missing[n:n + batch]
            x = np.stack([to_input(view_of(it)) for it in chunk])
            out = session.run(["features"], {"images": x})[0]  # type: ignore[attr-defined]
            feats.update((it.key, f.astype(np.float16)) for it, f in zip(chunk, out, strict=True))
            done = n + len(chunk)
            if done % (batch * 20) == 0 or done == len(missing):
                log.info("features %d/%d (%.0f s)", done, len(missing), time.monotonic() - start)
                save_features(store, feats)
    return np.stack([feats[it.key] for it in items]).astype(np.float32)


def save_features(store: Path, feats: dict[str, np.ndarray]) -> None:
    tmp = store.with_suffix(".tmp.npz")
    np.savez(tmp, keys=np.array(list(feats)), feats=np.stack(list(feats.values())))
    tmp.replace(store)


# ---------------------------------------------------------------- head, CV, metrics

class GateHead(nn.Module):
    """Standardised pooled features -> one damage logit (a linear model: robust with ~3k photos, fast to fit)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.from_numpy(mean.astype(np.float32)))
        self.register_buffer("std", torch.from_numpy(std.astype(np.float32)))
        self.linear = nn.Linear(2 * FEATURES, 1)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.linear((feats - self.mean) / self.std)


def train_head(x: np.ndarray, y: np.ndarray, seed: int = 0, l2: float = 0.1, iterations: int = 200) -> GateHead:
    """Class-balanced L2-regularised logistic regression, full batch, L-BFGS."""
    torch.manual_seed(seed)
    head = GateHead(x.mean(0), x.std(0) + 1e-3)
    pos = max(1, int(y.sum()))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - pos) / pos))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    opt = torch.optim.LBFGS(head.linear.parameters(), lr=1.0, max_iter=iterations, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn(head(xt).squeeze(1), yt) + l2 * head.linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return head.eval()


def predict(head: GateHead, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(head(torch.from_numpy(x))).squeeze(1).numpy()


def group_folds(groups: list[str], folds: int, seed: int) -> np.ndarray:
    names = sorted(set(groups))
    random.Random(seed).shuffle(names)
    fold_of = {g: i % folds for i, g in enumerate(names)}
    return np.array([fold_of[g] for g in groups])


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos, neg = p[y == 1], p[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    values = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(values):  # average ranks of ties
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def threshold_for_recall(p_pos: np.ndarray, recall: float) -> float:
    """The highest threshold t with share(p_pos >= t) >= recall."""
    ordered = np.sort(p_pos)[::-1]
    k = int(np.ceil(recall * len(ordered)))
    return float(ordered[max(0, k - 1)])


def share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else float("nan")


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


def cross_validate(items: list[Item], x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    folds = group_folds([it.group for it in items], FOLDS, seed)
    oof = np.zeros(len(y), np.float32)
    for k in range(FOLDS):
        train, test = folds != k, folds == k
        oof[test] = predict(train_head(x[train], y[train], seed=seed + k), x[test])
    full_pos = np.array([it.view == "full" and it.label == 1 for it in items])
    return oof, threshold_for_recall(oof[full_pos], TARGET_RECALL)


# ---------------------------------------------------------------- export

class DamageGate(nn.Module):
    """The exported graph: 0..255 RGB [N,3,S,S] -> damage probability [N,1]."""

    def __init__(self, head: GateHead) -> None:
        super().__init__()
        self.features = PooledBackbone()
        self.head = head

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.features(images)))


def config_pbtxt() -> str:
    return f"""# Written by training/damage/gate.py; tensor names: picloss/models/damage_gate.py.
name: "{GATE_SPEC.name}"
platform: "onnxruntime_onnx"
max_batch_size: {MAX_BATCH_SIZE}
input [
  {{ name: "{INPUT_IMAGES}" data_type: TYPE_FP32 dims: [ 3, {INPUT_SIZE}, {INPUT_SIZE} ] }}
]
output [
  {{ name: "{OUTPUT_DAMAGE_PROB}" data_type: TYPE_FP32 dims: [ 1 ] }}
]
dynamic_batching {{
  max_queue_delay_microseconds: 2000
}}
instance_group [
  {{ count: 1 kind: KIND_CPU }}
]
"""


def export(model: nn.Module, models_dir: Path, record: dict[str, object], samples: list[np.ndarray]) -> Path:
    """Write the gate (0..255 images -> damage_prob) as ONNX with its threshold in the metadata, config.pbtxt and
    gate.json; checks onnxruntime against torch on a random image and `samples`."""
    import onnx
    import onnxruntime as ort

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
    with torch.no_grad():
        expected = model(batch).numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        [OUTPUT_DAMAGE_PROB], {INPUT_IMAGES: batch.numpy()})[0]
    diff = float(np.abs(expected - got).max())
    if diff > 1e-4:
        raise RuntimeError(f"ONNX and torch disagree by {diff}")
    record["onnx_vs_torch_max_abs_diff"] = diff
    (path.parent.parent / "config.pbtxt").write_text(config_pbtxt())
    (path.parent.parent / "gate.json").write_text(json.dumps(record, indent=2) + "\n")
    log.info("exported %s (%.1f MB), ONNX vs torch max |diff| %.2e", path, path.stat().st_size / 1e6, diff)
    return path


# ---------------------------------------------------------------- main

def setup_run(log_file: Path | None, threads: int, cache: Path) -> None:
    """Logging to stderr (and `log_file`), torch threads, the cache folder: the set-up of the training scripts."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", handlers=handlers)
    torch.set_num_threads(threads)
    cache.mkdir(parents=True, exist_ok=True)


def counts(items: Iterable[Item]) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in items:
        key = f"{it.source}:{it.view}:{'damage' if it.label else 'clean'}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared/datasets folder")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/picloss-gate"), help="feature cache folder")
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--vin", type=int, default=500, help="VIN photos of vin_plates/train used as negatives")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-export", action="store_true", help="cross-validate and evaluate only")
    parser.add_argument("--scores", type=Path, default=None, help="write per-photo val scores (TSV) here")
    parser.add_argument("--log", type=Path, default=None)
    args = parser.parse_args(argv)
    setup_run(args.log, args.threads, args.cache)

    train = train_items(args.data, seed=args.seed, vin_count=args.vin)
    held = eval_items(args.data, seed=args.seed)
    log.info("train items %s", json.dumps(counts(train)))
    log.info("held-out items %s", json.dumps(counts(held)))
    x_train = extract(train, args.cache, args.threads)
    x_held = extract(held, args.cache, args.threads)
    y_train = np.array([it.label for it in train])

    oof, threshold = cross_validate(train, x_train, y_train, args.seed)
    cv = figures(train, oof, threshold)
    log.info("threshold %.4f (out-of-fold recall >= %.2f on whole train damage photos)", threshold, TARGET_RECALL)
    log.info("train out-of-fold figures %s", json.dumps(cv))

    head = train_head(x_train, y_train, seed=args.seed)
    probs = predict(head, x_held)
    held_figures = figures(held, probs, threshold)
    full_pos = np.array([it.view == "full" and it.label == 1 for it in train])
    operating_points = []  # other out-of-fold recall targets, each threshold still fitted on train only
    for recall in (0.90, 0.95, 0.97, TARGET_RECALL):
        t = threshold_for_recall(oof[full_pos], recall)
        point = {"oof_recall_target": recall, "threshold": round(t, 6),
                 "train_oof": {k: cv_k["value"] for k, cv_k in figures(train, oof, t).items() if "value" in cv_k},
                 "held_out": {k: h_k["value"] for k, h_k in figures(held, probs, t).items() if "value" in h_k}}
        operating_points.append(point)
        log.info("operating point %s", json.dumps(point))
    log.info("HELD-OUT figures (never trained on, threshold not fitted here) %s", json.dumps(held_figures))
    if args.scores:
        args.scores.write_text("".join(f"{it.source}\t{it.path}\t{it.label}\t{p:.4f}\n"
                                       for it, p in zip(held, probs, strict=True)))
    record: dict[str, object] = {
        "threshold": round(threshold, 6), "input_size": INPUT_SIZE, "resize": "squash",
        "threshold_rule": f"highest t with out-of-fold recall >= {TARGET_RECALL} on whole train damage photos, "
                          f"{FOLDS}-fold grouped CV",
        "train_counts": counts(train), "train_out_of_fold": cv, "held_out": held_figures,
        "operating_points": operating_points}
    if not args.no_export:
        samples = [to_input(view_of(it)) for it in held[:2]]
        export(DamageGate(head), args.models_dir, record, samples)
    print(json.dumps({"threshold": threshold, "train_out_of_fold": cv, "held_out": held_figures}, indent=2))


if __name__ == "__main__":
    main()
