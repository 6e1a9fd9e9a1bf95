"""Train the view (pose) classifier of the vehicle of interest (issue 11, item 6): frozen Lite0, linear head, ONNX.

    nice -n 10 .venv/bin/python -m training.damage.view_classifier --log /tmp/logs/view_classifier.log

Data: training/damage/view_labels.csv only: TRAIN photos (clean_cars/{plates,vehicles}/train, damaged_parts/train),
each with the pose of its vehicle and that vehicle's box, labelled by looking at them. Never a val photo: the
labelled val set (training/damage/sides_labels.csv) is for training/damage/eval_sides.py alone.

Steps (features cached in --cache, so a rerun is quick):
1. views of each photo: the vehicle box grown by pose.CROP_MARGIN (as the service crops it) and two jittered crops
   (margin 0-15 %, shifted by up to 5 %), each also mirrored with its class mirrored (pose.MIRROR): a flip turns a
   front-left view into a front-right one, so left and right are learned from the same photos;
2. features: the frozen ImageNet EfficientNet-Lite0 (224 px), the output of each of its stages from the 40-channel
   one on and of its last 1 x 1 conv, each average-pooled to a 2 x 3 grid (the grid keeps left from right: where
   the end face sits in the box tells which way the nose points) plus its global maximum: 14,168 values;
3. a linear head (multinomial logistic regression on the standardised features' first PCA_DIM principal
   components); 5-fold cross-validation grouped by photo on those TRAIN photos picks the L2 weight (out-of-fold
   log loss of the mirror-averaged prediction of the service's crop) and the END/NOSE thresholds (the lowest at
   which >= TARGET_ACCURACY (95 %) of the out-of-fold decisions are right). Tried first, on the same folds, and weaker:
   the last feature map alone pooled to 2 x 3 with a linear head (end accuracy 0.75, nose direction 0.69), or with
   a small conv head on the whole 7 x 7 map (0.75, 0.69); the multi-stage features reach 0.83 and 0.75; 320 px
   crops did not help (0.83, 0.74);
4. the head trained on every photo; exported with the backbone, the mirror averaging and the softmax to
   models/view_classifier/1/model.onnx with config.pbtxt and view.json (classes, thresholds, figures).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import logging
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from picloss.engines.models import view_classifier as pose
from training.damage import common
from training.triton_config import config_pbtxt as triton_config

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "datasets"
LABELS = Path(__file__).resolve().parent / "view_labels.csv"
OUT = REPO / "models" / "view_classifier"
CODE_TO_POSE = {"F": "front", "B": "rear", "FL": "front_left", "FR": "front_right", "BL": "rear_left",
                "BR": "rear_right"}  # SL/SR (side views: too few) and X (no pose) are not trained on
TARGET_ACCURACY = 0.95
FOLDS = 5
L2_GRID = (0.001, 0.003, 0.01)
PCA_DIM = 256
log = logging.getLogger("view_classifier")


@dataclass(frozen=True)
class Photo:
    source: str  # e.g. clean_cars/plates/train
    file: str
    label: int  # index in pose.POSES
    box: tuple[float, float, float, float]  # the labelled vehicle, normalised xyxy

    def image(self, data: Path) -> Path:
        return data / self.source / "images" / self.file


@dataclass(frozen=True)
class View:
    photo: int  # index into the photo list (the CV group)
    box: tuple[float, float, float, float]  # normalised crop box, before pose.crop_box's margin
    mirrored: bool
    kind: str  # "service" (the service's crop) or "jitter"

    def label(self, photos: list[Photo]) -> int:
        base = photos[self.photo].label
        return pose.MIRROR[base] if self.mirrored else base

    def key(self, photos: list[Photo]) -> str:
        p = photos[self.photo]
        return f"{p.source}/{p.file}#{','.join(f'{v:.4f}' for v in self.box)}#{int(self.mirrored)}"


def read_labels(path: Path = LABELS) -> list[Photo]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    photos = []
    for row in csv.DictReader(lines):
        if row["pose"] in CODE_TO_POSE and "/train" in row["source"]:
            box = tuple(float(row[k]) for k in ("x0", "y0", "x1", "y1"))
            photos.append(Photo(row["source"], row["file"], pose.POSES.index(CODE_TO_POSE[row["pose"]]),
                                box))  # type: ignore[arg-type]
    return photos


def views_of(photos: list[Photo], seed: int = 0) -> list[View]:
    rng = random.Random(seed)
    views = []
    for n, p in enumerate(photos):
        boxes = [(p.box, "service")]
        x0, y0, x1, y1 = p.box
        w, h = x1 - x0, y1 - y0
        for _ in range(2):
            grow = rng.uniform(0.0, 0.10)
            dx, dy = rng.uniform(-0.05, 0.05) * w, rng.uniform(-0.05, 0.05) * h
            boxes.append(((max(0.0, x0 - grow * w + dx), max(0.0, y0 - grow * h + dy),
                           min(1.0, x1 + grow * w + dx), min(1.0, y1 + grow * h + dy)), "jitter"))
        for box, kind in boxes:
            views += [View(n, box, False, kind), View(n, box, True, kind)]  # type: ignore[arg-type]
    return views


def view_input(data: Path, photos: list[Photo], v: View) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(str(photos[v.photo].image(data)), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    if v.mirrored:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
        x0, y0, x1, y1 = v.box
        box = (1 - x1, y0, 1 - x0, y1)
    else:
        box = v.box
    return pose.to_input(rgb, (box[0] * w, box[1] * h, box[2] * w, box[3] * h))


# ---------------------------------------------------------------- network

class MultiScaleBackbone(nn.Module):
    """0..255 RGB [N, 3, 224, 224] -> [N, FEATURES]: every Lite0 stage output from 40 channels on and the last
    conv's output, each average-pooled to a 2 x 3 grid and max-pooled globally (frozen ImageNet weights)."""

    def __init__(self) -> None:
        super().__init__()
        from training.documents.backbone import Backbone

        self.backbone = Backbone()
        blocks = self.backbone.net._blocks
        self.taps = [i for i, b in enumerate(blocks)
                     if (i + 1 == len(blocks) or blocks[i + 1]._block_args.output_filters
                         != b._block_args.output_filters) and b._block_args.output_filters >= 40]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        net = self.backbone.net
        x = (images - self.backbone.mean) / self.backbone.std
        x = net._swish(net._bn0(net._conv_stem(x)))
        maps = []
        for i, block in enumerate(net._blocks):
            x = block(x)
            if i in self.taps:
                maps.append(x)
        maps.append(net._swish(net._bn1(net._conv_head(x))))
        feats = []
        for m in maps:  # adaptive 2 x 3 average pooling written out (ONNX cannot export adaptive_avg_pool2d here)
            h, w = int(m.shape[2]), int(m.shape[3])
            rows = ((0, (h + 1) // 2), (h // 2, h))
            cols = [(i * w // 3, -(-(i + 1) * w // 3)) for i in range(3)]
            feats += [m[:, :, r0:r1, c0:c1].mean(dim=(2, 3)) for r0, r1 in rows for c0, c1 in cols]
            feats.append(m.amax(dim=(2, 3)))
        return torch.cat(feats, dim=1)


class Head(nn.Module):
    """Features -> pose logits: one linear layer (standardisation, PCA and the logistic regression folded in)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(features, len(pose.POSES))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.linear(feats)


class ViewClassifier(nn.Module):
    """The exported graph: mirror-averaged pose probabilities."""

    def __init__(self, backbone: MultiScaleBackbone, head: Head) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.register_buffer("mirror", torch.tensor(pose.MIRROR))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        both = torch.cat([images, torch.flip(images, dims=[3])])
        probs = torch.softmax(self.head(self.backbone(both)), dim=1)
        n = images.shape[0]
        return (probs[:n] + probs[n:][:, self.mirror]) / 2


def feature_session(cache: Path, threads: int) -> object:
    return common.cached_onnx_session(MultiScaleBackbone(), cache / "multiscale_backbone_224.onnx", pose.INPUT_SIZE,
                                    threads)


def extract(data: Path, photos: list[Photo], views: list[View], cache: Path, threads: int, batch: int = 16
            ) -> np.ndarray:
    """[N, FEATURES] features of every crop; cached in cache/view_features_ms.npz by crop key."""
    store = cache / "view_features_ms.npz"
    feats: dict[str, np.ndarray] = {}
    if store.exists():
        with np.load(store) as z:
            feats = dict(zip(z["keys"].tolist(), z["feats"], strict=True))
    missing = [v for v in views if v.key(photos) not in feats]
    if missing:
        session = feature_session(cache, threads)
        start = time.monotonic()
        for n in range(0, len(missing), batch):
            chunk = missing[n:n + batch]
            x = np.stack([view_input(data, photos, v) for v in chunk])
            out = session.run(["features"], {"images": x})[0]  # type: ignore[attr-defined]
            feats.update((v.key(photos), f.astype(np.float16)) for v, f in zip(chunk, out, strict=True))
            if (n // batch) % 20 == 0:
                log.info("features %d/%d (%.0f s)", n + len(chunk), len(missing), time.monotonic() - start)
        tmp = store.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(feats)), feats=np.stack(list(feats.values())))
        tmp.replace(store)
    return np.stack([feats[v.key(photos)] for v in views]).astype(np.float32)


# ---------------------------------------------------------------- fitting and choosing

@dataclass
class Linear:
    """x -> logits = x @ weight + bias, the standardisation and PCA folded in."""

    weight: np.ndarray  # [FEATURES, classes]
    bias: np.ndarray  # [classes]

    def probs(self, x: np.ndarray) -> np.ndarray:
        logits = x @ self.weight + self.bias
        logits -= logits.max(1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(1, keepdims=True)


def fit_linear(x: np.ndarray, y: np.ndarray, l2: float, dim: int = 0, steps: int = 150) -> Linear:
    """Standardise, project on the first `dim` principal components (whitened), L2-regularised multinomial
    logistic regression (LBFGS); returned as one linear map of the raw features."""
    dim = dim or PCA_DIM
    mu, sd = x.mean(0), x.std(0) + 1e-3
    xs = (x - mu) / sd
    sub = xs[::2]
    _, s, vt = np.linalg.svd(sub, full_matrices=False)
    proj = (vt[:dim].T / (s[:dim] / np.sqrt(len(sub)))).astype(np.float32)  # [FEATURES, dim]
    torch.manual_seed(0)
    w = torch.zeros(dim, len(pose.POSES), requires_grad=True)
    b = torch.zeros(len(pose.POSES), requires_grad=True)
    xt, yt = torch.from_numpy(xs @ proj).float(), torch.from_numpy(y).long()
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(xt @ w + b, yt) + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w_np, b_np = w.detach().numpy().astype(np.float64), b.detach().numpy().astype(np.float64)
    full = (proj / sd[:, None]) @ w_np  # [FEATURES, classes]
    return Linear(full.astype(np.float32), (b_np - (mu / sd) @ proj @ w_np).astype(np.float32))


def mirror_average(probs: np.ndarray, views: list[View], photos: list[Photo]) -> dict[tuple[int, tuple], np.ndarray]:
    """(photo, crop box) -> the mirror-averaged probabilities in the unmirrored crop's frame (as the ONNX graph)."""
    acc: dict[tuple[int, tuple], list[np.ndarray]] = {}
    for v, p in zip(views, probs, strict=True):
        acc.setdefault((v.photo, v.box), []).append(p[list(pose.MIRROR)] if v.mirrored else p)
    return {k: np.mean(ps, axis=0) for k, ps in acc.items()}


def decisions(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(end probability, end is front, nose probability, nose class 0 left / 1 right / 2 straight) per row."""
    front = probs[:, [0, 2, 3]].sum(1)
    nose = np.stack([probs[:, [2, 4]].sum(1), probs[:, [3, 5]].sum(1), probs[:, [0, 1]].sum(1)], 1)
    return np.maximum(front, 1 - front), front >= 0.5, nose.max(1), nose.argmax(1)


def truth_of(label: int) -> tuple[bool, int]:
    name = pose.POSES[label]
    return name.startswith("front"), (0 if name.endswith("left") else 1 if name.endswith("right") else 2)


def lowest_threshold(conf: np.ndarray, right: np.ndarray, target: float = TARGET_ACCURACY) -> float:
    """The lowest threshold (of 0.50..0.99) whose decided rows are right at least `target` of the time."""
    for t in np.arange(0.50, 0.995, 0.01):
        keep = conf >= t
        if keep.sum() >= 10 and right[keep].mean() >= target:
            return round(float(t), 2)
    return 0.99


def cross_validate(x: np.ndarray, views: list[View], photos: list[Photo], l2: float) -> np.ndarray:
    """Out-of-fold probabilities, folds grouped by photo (a photo's crops and mirrors stay together)."""
    y = np.array([v.label(photos) for v in views])
    groups = np.array([v.photo for v in views])
    order = list(range(len(photos)))
    random.Random(0).shuffle(order)
    fold_of = {p: n % FOLDS for n, p in enumerate(order)}
    folds = np.array([fold_of[g] for g in groups])
    oof = np.zeros((len(views), len(pose.POSES)))
    for f in range(FOLDS):
        train, test = folds != f, folds == f
        oof[test] = fit_linear(x[train], y[train], l2).probs(x[test])
    return oof


def figures(oof: np.ndarray, views: list[View], photos: list[Photo], end_t: float, nose_t: float) -> dict[str, float]:
    avg = mirror_average(oof, views, photos)
    keys = [(v.photo, v.box) for v in views if v.kind == "service" and not v.mirrored]
    probs = np.stack([avg[k] for k in keys])
    labels = [photos[k[0]].label for k in keys]
    end_p, is_front, nose_p, nose_c = decisions(probs)
    true_front = np.array([truth_of(lab)[0] for lab in labels])
    true_nose = np.array([truth_of(lab)[1] for lab in labels])
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-6, 1))))
    end_ok, nose_ok = is_front == true_front, nose_c == true_nose
    end_keep, nose_keep = end_p >= end_t, nose_p >= nose_t
    return {
        "photos": len(labels),
        "log loss": loss,
        "pose top-1": float((probs.argmax(1) == np.array(labels)).mean()),
        "end accuracy (all)": float(end_ok.mean()),
        "nose accuracy (all)": float(nose_ok.mean()),
        "end decided share": float(end_keep.mean()),
        "end accuracy when decided": float(end_ok[end_keep].mean()) if end_keep.any() else float("nan"),
        "nose decided share": float(nose_keep.mean()),
        "nose accuracy when decided": float(nose_ok[nose_keep].mean()) if nose_keep.any() else float("nan"),
    }


def choose_thresholds(oof: np.ndarray, views: list[View], photos: list[Photo]) -> tuple[float, float]:
    """On every out-of-fold crop (service crops and jittered ones), mirror-averaged."""
    avg = mirror_average(oof, views, photos)
    keys = sorted(avg)
    probs = np.stack([avg[k] for k in keys])
    labels = [photos[k[0]].label for k in keys]
    end_p, is_front, nose_p, nose_c = decisions(probs)
    true_front = np.array([truth_of(lab)[0] for lab in labels])
    true_nose = np.array([truth_of(lab)[1] for lab in labels])
    return lowest_threshold(end_p, is_front == true_front), lowest_threshold(nose_p, nose_c == true_nose)


# ---------------------------------------------------------------- export

def config_pbtxt() -> str:
    return triton_config(pose.VIEW_SPEC, pose.MAX_BATCH_SIZE,
                         {pose.INPUT_IMAGES: (3, pose.INPUT_SIZE, pose.INPUT_SIZE),
                          pose.OUTPUT_POSE_PROBS: (len(pose.POSES),)},
                         "Written by training/damage/view_classifier.py; "
                         "tensor names: picloss/engines/models/view_classifier.py.")


def export(linear: Linear, out: Path, meta: dict[str, object]) -> Path:
    head = Head(linear.weight.shape[0])
    with torch.no_grad():
        head.linear.weight.copy_(torch.from_numpy(linear.weight.T.copy()))
        head.linear.bias.copy_(torch.from_numpy(linear.bias))
    model = ViewClassifier(MultiScaleBackbone(), head).eval()
    path = out / "1" / "model.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    x = torch.rand(2, 3, pose.INPUT_SIZE, pose.INPUT_SIZE) * 255
    torch.onnx.export(model, (x,), str(path), input_names=[pose.INPUT_IMAGES], output_names=[pose.OUTPUT_POSE_PROBS],
                      dynamic_axes={pose.INPUT_IMAGES: {0: "batch"}, pose.OUTPUT_POSE_PROBS: {0: "batch"}},
                      opset_version=17, dynamo=False)
    import onnx

    proto = onnx.load(str(path))
    for k in ("classes", "end_threshold", "nose_threshold"):
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, json.dumps(meta[k])
    onnx.save(proto, str(path))
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {pose.INPUT_IMAGES: x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    assert np.abs(got - want).max() < 1e-4, "ONNX and torch disagree"
    (out / "config.pbtxt").write_text(config_pbtxt())
    meta["onnx_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (out / "view.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/view_classifier_cache"))
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log", type=Path)
    args = ap.parse_args()
    common.setup_run(args.log, args.threads, args.cache)

    photos = read_labels(args.labels)
    views = views_of(photos)
    log.info("%d TRAIN photos, %d crops; classes %s", len(photos), len(views),
             {c: sum(p.label == i for p in photos) for i, c in enumerate(pose.POSES)})
    x = extract(args.data, photos, views, args.cache, args.threads)
    y = np.array([v.label(photos) for v in views])

    results = {}
    for l2 in L2_GRID:
        oof = cross_validate(x, views, photos, l2)
        results[l2] = (figures(oof, views, photos, 0.5, 0.5)["log loss"], oof)
        log.info("l2 %g: out-of-fold log loss %.4f", l2, results[l2][0])
    l2 = min(results, key=lambda k: results[k][0])
    oof = results[l2][1]
    end_t, nose_t = choose_thresholds(oof, views, photos)
    cv = figures(oof, views, photos, end_t, nose_t)
    log.info("chosen l2 %g, end threshold %.2f, nose threshold %.2f; out-of-fold: %s", l2, end_t, nose_t, cv)

    linear = fit_linear(x, y, l2)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout
    meta: dict[str, object] = {
        "classes": list(pose.POSES), "end_threshold": end_t, "nose_threshold": nose_t,
        "l2": l2, "pca_dim": PCA_DIM, "target_accuracy": TARGET_ACCURACY,
        "input_size": pose.INPUT_SIZE, "crop_margin": pose.CROP_MARGIN,
        "train_photos": len(photos), "train_crops": len(views),
        "train_sources": sorted({p.source for p in photos}),
        "out_of_fold_train": cv, "trained": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit.strip(),
    }
    path = export(linear, args.out, meta)
    log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)


if __name__ == "__main__":
    main()
