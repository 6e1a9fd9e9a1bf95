"""Train the damage box verifier (issue 21): is there real damage in this candidate box?

    nice -n 10 .venv/bin/python -m training.damage.verifier_data          # the detector's candidates (once)
    nice -n 10 .venv/bin/python -m training.damage.verifier --log /tmp/logs/verifier.log

A second stage after the detector: each candidate box is cut from the photo with context
(`picloss/engines/models/damage_verifier.py`: a square 2.5x the box's longer side, >= 64 px, resized to 128 px) and
scored by ImageNet EfficientNet-Lite0 whose last stage (blocks 11-15) and head convolution are fine-tuned with a
linear head on mean + max pooled features; the frozen trunk (stem + blocks 0-10) is computed once per crop view
and cached, so an epoch takes about 4 minutes on two CPU cores (`--train-from 14` trains blocks 14-15 only:
75 s an epoch, selection AUC 0.837 against 0.855). Two processes sharing the two cores made an epoch 15 times
slower (threads waiting on each other): train alone.

Crops (all from TRAIN photos; `clean_cars/vehicles` is never used):

* `cand`: the detector's own candidates, labelled by `verifier_data.py` (true damage, or boxes on undamaged
  paint of damage photos, clean cars and VIN-plate photos: the mined hard negatives), at most NEG_PER_PHOTO
  negatives per photo (the highest-scoring, i.e. the hardest); on `damaged_parts` a damage-channel box inside a
  labelled damaged region is taken as damage (`weak_label`);
* `truth`: every `damage_severity` damage box and every `damaged_parts` box (positives);
* `plate`, `detail`: licence plates and random small boxes on the vehicles of `clean_cars/plates` (badges, lamps,
  handles, wheel arches, panel gaps: negatives), and at the same place, `pasted`: a real damage polygon of a
  `damage_severity` photo of the same fold pasted on that clean car (colour-matched, feathered; positive), so
  that the same car, light and background are seen with and without damage (`--no-paste` leaves them out).

Every crop view is augmented so that neither the stretch nor the size of a photo tells damage: box position and
scale jitter, context 2-3x, aspect distortion 0.7-1.4, the photo down-scaled (0.35-1) and re-encoded as JPEG
(quality 35-95), brightness/contrast, mirror. View 0 of each crop is the crop as the service cuts it.

Split: 5 folds grouped by source photo (`verifier_data.Groups`); fold 0 is the SELECTION fold, never trained on:
the epoch, the combination of the verifier's and the detector's scores (a logistic model of both log-odds and
the part-channel flag) and the default threshold are chosen on it. The combination is fitted on the fold's
candidates of every source but `damage_severity`, whose photos the detector trained on (its scores there are
inflated). The default threshold is precision-first: the lowest one with at most --max-clean of the fold's
clean-car photos flagged and box precision at IoU 0.3 >= --min-precision on its damage_severity photos (gates
not applied: the service's gates only remove more). The val splits are not read here (`make eval-damage`
measures them).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn

from picloss.engines.damage.verifier import CANDIDATE_THRESHOLD
from picloss.engines.models import damage_verifier as vm
from training.damage import common
from training.damage.gate_finetune import SPLIT_AT, Tail, Trunk, lite0
from training.damage.verifier_data import DEFAULT_DATA_ROOT, Groups
from training.triton_config import config_pbtxt as triton_config

REPO = Path(__file__).resolve().parents[2]
VIEWS = 3
SELECTION_FOLD = 0
NEG_PER_PHOTO = 6
WEAK_PER_PHOTO = 2  # weak damaged_parts positives (`weak_label`) per training photo
log = logging.getLogger("verifier")


@dataclass
class Item:
    key: str
    path: str
    source: str
    fold: int
    box: tuple[float, float, float, float]
    label: int  # 1 damage, 0 not, -1 unknown (selection fold only: scored, not counted)
    kind: str  # cand | truth | plate | detail | pasted
    det_score: float = float("nan")  # the detector's score (cand only)
    channel: str = ""  # damage | part (cand only)
    photo: int = -1  # index of the photo in candidates.jsonl (cand only)
    paste: tuple[str, tuple[float, ...]] | None = None  # damage photo and polygon (pasted only)


# ---------------------------------------------------------------- items

def polygons(data: Path) -> dict[str, list[list[float]]]:
    """damage_severity train file name -> its damage polygons (photo pixels, x y x y ...)."""
    raw = json.loads((data / "damage_severity/annotations/instances_train.json").read_text())
    names = {img["id"]: img["file_name"] for img in raw["images"]}
    out: dict[str, list[list[float]]] = {}
    for ann in raw["annotations"]:
        for poly in ann.get("segmentation") or []:
            if len(poly) >= 6 and ann["bbox"][2] * ann["bbox"][3] >= 150:
                out.setdefault(names[ann["image_id"]], []).append(poly)
    return out


def weak_label(c: dict, photo: dict) -> int:
    """`damaged_parts` boxes outline the damaged region of a part: a damage-channel candidate that
    `verifier_data.py` left unlabelled (-1) is taken as damage when its centre lies in such a region and it is no
    larger than it. Its detector score is not inflated (the damage channel never trained on these photos), which
    is what the score combination needs."""
    if photo["source"] != "damaged_parts" or c["channel"] != "damage" or c["label"] != -1:
        return int(c["label"])
    x0, y0, x1, y1 = c["box"]
    cx, cy, area = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * (y1 - y0)
    for t in photo["truth"]:
        if t[0] <= cx <= t[2] and t[1] <= cy <= t[3] and area <= (t[2] - t[0]) * (t[3] - t[1]):
            return 1
    return -1


def build_items(photos: list[dict], data: Path, seed: int, paste: bool) -> list[Item]:
    rng = random.Random(seed)
    items: list[Item] = []
    groups = Groups(data / "DUPLICATES.tsv")
    polys = polygons(data)
    by_fold: dict[int, list[tuple[str, list[float]]]] = {}
    for name, plist in sorted(polys.items()):
        fold = groups.fold("damage_severity", name)
        by_fold.setdefault(fold, []).extend((str(data / "damage_severity/images/train" / name), p) for p in plist)
    for n, ph in enumerate(photos):
        fold, source, path = ph["fold"], ph["source"], ph["path"]
        cands = [dict(c, label=weak_label(c, ph)) for c in ph["candidates"]]
        negs = [c for c in cands if c["label"] == 0]
        per_photo = NEG_PER_PHOTO if source != "damaged_parts" else NEG_PER_PHOTO - 2  # 3,400 photos of it
        keep = {id(c) for c in sorted(negs, key=lambda c: -c["score"])[:per_photo]}
        weak = [c for c, raw in zip(cands, ph["candidates"], strict=True) if c["label"] == 1 and raw["label"] == -1]
        keep |= {id(c) for c in sorted(weak, key=lambda c: -c["score"])[:WEAK_PER_PHOTO]}
        strong = {id(c) for c, raw in zip(cands, ph["candidates"], strict=True) if raw["label"] == 1}
        for k, c in enumerate(cands):
            if fold != SELECTION_FOLD and not (id(c) in strong or id(c) in keep):
                continue
            if fold == SELECTION_FOLD and c["score"] < CANDIDATE_THRESHOLD:  # what the service would verify
                continue
            items.append(Item(f"{path}#c{k}", path, source, fold, tuple(c["box"]), c["label"], "cand",
                              c["score"], c["channel"], n))
        if source in ("damage_severity", "damaged_parts"):
            for k, b in enumerate(ph["truth"]):
                if (b[2] - b[0]) >= 3 and (b[3] - b[1]) >= 3:
                    items.append(Item(f"{path}#t{k}", path, source, fold, tuple(b), 1, "truth"))
        if source.startswith("clean_cars"):
            for k, b in enumerate(ph["plates"]):
                items.append(Item(f"{path}#p{k}", path, source, fold, tuple(b), 0, "plate"))
            for v, vb in enumerate(ph["truth"][:2]):
                vw, vh = vb[2] - vb[0], vb[3] - vb[1]
                if vw < 40 or vh < 30:
                    continue
                for k in range(3):
                    w = vw * rng.uniform(0.04, 0.2)
                    h = w * math.exp(rng.uniform(-0.7, 0.7))
                    x0 = rng.uniform(vb[0], vb[2] - w)
                    y0 = rng.uniform(vb[1] + 0.2 * vh, max(vb[1] + 0.2 * vh, vb[3] - h))
                    box = (x0, y0, x0 + w, y0 + h)
                    items.append(Item(f"{path}#d{v}.{k}", path, source, fold, box, 0, "detail"))
                    pool = by_fold.get(fold) or []
                    if paste and pool and k < 2:
                        src, poly = pool[rng.randrange(len(pool))]
                        items.append(Item(f"{path}#x{v}.{k}", path, source, fold, box, 1, "pasted",
                                          paste=(src, tuple(poly))))
    return items


# ---------------------------------------------------------------- views

_rgb_cache: dict[str, np.ndarray] = {}


def load_rgb(path: str) -> np.ndarray:
    if path not in _rgb_cache:
        if len(_rgb_cache) > 64:
            _rgb_cache.clear()
        with Image.open(path) as im:
            _rgb_cache[path] = np.asarray(im.convert("RGB"))
    return _rgb_cache[path]


def paste_damage(rgb: np.ndarray, box: tuple[float, ...], src_path: str, poly: tuple[float, ...],
                 rng: random.Random) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """`rgb` with the damage inside `poly` of `src_path` pasted into `box` (scaled to fit, its colour shifted to
    the paint under it, edges feathered); returns the photo and the pasted damage's box."""
    src = load_rgb(src_path)
    pts = np.array(poly, np.float32).reshape(-1, 2)
    x0, y0 = np.floor(pts.min(0)).astype(int)
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
    x0, y0 = max(0, x0), max(0, y0)
    patch = src[y0:y1, x0:x1].astype(np.float32)
    mask = np.zeros(patch.shape[:2], np.float32)
    cv2.fillPoly(mask, [np.round(pts - [x0, y0]).astype(np.int32)], 1.0)
    bw, bh = box[2] - box[0], box[3] - box[1]
    scale = min(bw / patch.shape[1], bh / patch.shape[0]) * rng.uniform(0.7, 1.0)
    tw, th = max(4, round(patch.shape[1] * scale)), max(4, round(patch.shape[0] * scale))
    patch = cv2.resize(patch, (tw, th), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    mask = cv2.resize(mask, (tw, th), interpolation=cv2.INTER_LINEAR)
    k = max(1, round(min(tw, th) * 0.08)) * 2 + 1
    mask = cv2.GaussianBlur(mask, (k, k), 0)
    px, py = round(box[0] + (bw - tw) / 2), round(box[1] + (bh - th) / 2)
    out = rgb.astype(np.float32).copy()
    H, W = out.shape[:2]
    cx0, cy0, cx1, cy1 = max(0, px), max(0, py), min(W, px + tw), min(H, py + th)
    if cx1 - cx0 < 4 or cy1 - cy0 < 4:
        return rgb, box  # type: ignore[return-value]
    patch = patch[cy0 - py:cy1 - py, cx0 - px:cx1 - px]
    mask = mask[cy0 - py:cy1 - py, cx0 - px:cx1 - px, None]
    under = out[cy0:cy1, cx0:cx1]
    weight = mask[..., 0] > 0.5
    if weight.sum() >= 4:  # colour match: the patch's own mean under its mask moved to the paint's
        patch = patch - patch[weight].mean(0) + under[weight].mean(0)
    out[cy0:cy1, cx0:cx1] = under * (1 - mask) + np.clip(patch, 0, 255) * mask
    ys, xs = np.nonzero(mask[..., 0] > 0.3)
    if len(xs) == 0:
        return rgb, box  # type: ignore[return-value]
    return out.astype(np.uint8), (cx0 + xs.min(), cy0 + ys.min(), cx0 + xs.max() + 1, cy0 + ys.max() + 1)


def make_view(item: Item, view: int, rng: random.Random) -> np.ndarray:
    """uint8 [S, S, 3]: view 0 the crop as the service cuts it, other views augmented."""
    rgb = load_rgb(item.path)
    box = item.box
    if item.kind == "pasted" and item.paste is not None:
        rgb, box = paste_damage(rgb, box, item.paste[0], item.paste[1], rng)
    if view == 0:
        return vm.crop(rgb, box)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    shift = 0.1 if item.label == 1 else 0.2
    cx = (x0 + x1) / 2 + rng.uniform(-shift, shift) * w
    cy = (y0 + y1) / 2 + rng.uniform(-shift, shift) * h
    s = math.exp(rng.uniform(-0.2, 0.2))
    w, h = w * s, h * s
    scale = rng.uniform(0.35, 1.0) if rng.random() < 0.5 else 1.0
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(16, round(rgb.shape[1] * scale)), max(16, round(rgb.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA)
        cx, cy, w, h = cx * scale, cy * scale, w * scale, h * scale
    crop = vm.crop(rgb, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), context=rng.uniform(2.0, 3.0),
                   min_side=vm.MIN_CROP_SIDE * scale, aspect=math.exp(rng.uniform(-0.36, 0.36)))
    if rng.random() < 0.7:
        buf = io.BytesIO()
        Image.fromarray(crop).save(buf, "JPEG", quality=rng.randint(35, 95))
        crop = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    alpha, beta = rng.uniform(0.75, 1.25), rng.uniform(-25, 25)
    crop = np.clip(crop.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def cache_trunk(items: list[Item], cache: Path, trunk: Trunk, tag: str, threads: int, batch: int = 64
                ) -> np.ndarray:
    """fp16 [len(items), VIEWS, C, H, W] block-10 outputs, memory-mapped in cache; resumable per chunk."""
    meta_path, data_path = cache / f"trunk_{tag}.json", cache / f"trunk_{tag}.f16"
    keys = [it.key for it in items]
    session = common.cached_onnx_session(trunk, cache / f"trunk_{SPLIT_AT}_{vm.INPUT_SIZE}.onnx", vm.INPUT_SIZE,
                                       threads, output="trunk")
    zero = np.zeros((1, 3, vm.INPUT_SIZE, vm.INPUT_SIZE), np.float32)
    c, h, w = session.run(["trunk"], {"images": zero})[0].shape[1:]
    shape = (len(items), VIEWS, c, h, w)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if meta is None or meta["keys"] != keys or tuple(meta["shape"]) != shape:
        meta = {"keys": keys, "shape": shape, "done": 0}
        del_store = np.lib.format.open_memmap(str(data_path), mode="w+", dtype=np.float16, shape=shape)
        del del_store
        meta_path.write_text(json.dumps(meta))
    store = np.lib.format.open_memmap(str(data_path), mode="r+")
    start = time.monotonic()
    for n in range(meta["done"], len(items), batch):
        chunk = items[n:n + batch]
        x, counts = [], []
        for it in chunk:  # the selection fold is only scored on view 0: its other views repeat it
            rng = random.Random(it.key)
            views = [make_view(it, v, rng) for v in range(VIEWS if it.fold != SELECTION_FOLD else 1)]
            x.extend(vm.to_batch(views))
            counts.append(len(views))
        out = session.run(["trunk"], {"images": np.stack(x)})[0].astype(np.float16)
        at = 0
        for i, k in enumerate(counts):
            store[n + i] = np.concatenate([out[at:at + k]] + [out[at:at + 1]] * (VIEWS - k))
            at += k
        meta["done"] = n + len(chunk)
        if (n // batch) % 20 == 0 or meta["done"] == len(items):
            store.flush()
            meta_path.write_text(json.dumps(meta))
            log.info("trunk %s %d/%d (%.0f s)", tag, meta["done"], len(items), time.monotonic() - start)
    store.flush()
    return np.lib.format.open_memmap(str(data_path), mode="r")


# ---------------------------------------------------------------- network

# Blocks [TRAIN_FROM, 16) train; blocks [SPLIT_AT, TRAIN_FROM) would stay frozen too (computed once from the cache).
# 11 (the whole last stage) gave selection AUC 0.855 against 0.837 for 14 (blocks 14-15 only), 4 min an epoch.
TRAIN_FROM = 11


class Frozen(nn.Module):
    """Block-10 output -> the output of the block before `train_from` (ImageNet weights, eval mode)."""

    def __init__(self, net: nn.Module, train_from: int = TRAIN_FROM) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(net._blocks[SPLIT_AT:train_from])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class Verifier(nn.Module):
    """The exported graph: 0..255 RGB crops [N,3,S,S] -> P(damage) [N,1]."""

    def __init__(self, trunk: Trunk, frozen: Frozen, head: Tail) -> None:
        super().__init__()
        self.trunk, self.frozen, self.head = trunk, frozen, head

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.frozen(self.trunk(crops)))).unsqueeze(1)


def cache_frozen(feats: np.ndarray, frozen: Frozen, cache: Path, tag: str, batch: int = 512) -> np.ndarray:
    """fp16 [N, VIEWS, C, h, w] outputs of the frozen blocks after the cached block-10 outputs (once)."""
    path = cache / f"frozen_{tag}.npy"
    if path.exists():
        return np.load(path, mmap_mode="r")
    frozen.eval()
    n, views = feats.shape[:2]
    out = None
    start = time.monotonic()
    with torch.no_grad():
        for i in range(0, n, batch):
            x = torch.from_numpy(np.asarray(feats[i:i + batch], np.float32).reshape(-1, *feats.shape[2:]))
            y = frozen(x).numpy().astype(np.float16)
            if out is None:
                out = np.lib.format.open_memmap(str(path) + ".part", mode="w+", dtype=np.float16,
                                                shape=(n, views, *y.shape[1:]))
            out[i:i + batch] = y.reshape(-1, views, *y.shape[1:])
            if (i // batch) % 20 == 0:
                log.info("frozen blocks %d/%d (%.0f s)", i, n, time.monotonic() - start)
    assert out is not None
    out.flush()
    del out
    Path(str(path) + ".part").rename(path)
    return np.load(path, mmap_mode="r")


# ---------------------------------------------------------------- selection

def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


FEATURES = ["logit(verifier)", "logit(detector)", "part_channel"]
GATE_FEATURE = "logit(gate)"


def combine_features(ver: np.ndarray, det: np.ndarray, part: np.ndarray, gate: np.ndarray | None = None
                     ) -> np.ndarray:
    cols = [logit(ver), logit(det), part.astype(np.float64)]
    if gate is not None:
        cols.append(logit(gate))
    return np.stack(cols, 1)


def gate_probabilities(photos: list[dict], fold: int, models_dir: Path, threads: int) -> dict[int, float]:
    """The damage gate's probability for each photo of `fold` (index in candidates.jsonl -> probability), as the
    service computes it. The gate (training/damage/gate_finetune.py, recipe v3) shares these folds: on the
    selection fold its probabilities are fair."""
    import asyncio

    from picloss.engines.damage.gate import damage_probability
    from picloss.engines.models import damage_gate
    from picloss.platform.inference import OnnxRunner

    runner = OnnxRunner(damage_gate.GATE_SPEC, models_dir, threads=threads)
    return {n: asyncio.run(damage_probability(runner, [load_rgb(ph["path"])]))[0]
            for n, ph in enumerate(photos) if ph["fold"] == fold}


def fit_combination(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Logistic regression (weights..., bias) by Newton's method with an L2 penalty on the weights."""
    xb = np.c_[x, np.ones(len(x))]
    w = np.zeros(xb.shape[1])
    reg = np.eye(xb.shape[1]) * l2
    reg[-1, -1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) + reg @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def apply_combination(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(np.c_[x, np.ones(len(x))] @ w)))


def photo_curve(photos: list[dict], sel: list[Item], combined: np.ndarray) -> list[dict[str, float]]:
    """Per threshold, on the selection fold's photos: box precision/recall at IoU 0.3 on damage_severity (the
    only source whose boxes are the damage itself) and the share of clean-car photos with a reported damage."""
    from picloss.engines.boxes import box_iou

    per_photo: dict[int, list[tuple[tuple[float, ...], float]]] = {}
    for it, p in zip(sel, combined, strict=True):
        if it.kind == "cand":
            per_photo.setdefault(it.photo, []).append((it.box, float(p)))
    rows = []
    for t in np.round(np.arange(0.05, 0.96, 0.025), 3):
        tp = fp = n_true = found = clean = clean_hit = damaged = damaged_hit = 0
        for n, ph in enumerate(photos):
            if ph["fold"] != SELECTION_FOLD:
                continue
            kept = [b for b, p in per_photo.get(n, []) if p >= t]
            if ph["source"] == "clean_cars/plates":
                clean += 1
                clean_hit += bool(kept)
            elif ph["source"] in ("damage_severity", "damaged_parts"):
                damaged += 1
                damaged_hit += bool(kept)
            if ph["source"] != "damage_severity":
                continue
            truth = np.array(ph["truth"], np.float64).reshape(-1, 4)
            n_true += len(truth)
            if kept and len(truth):
                iou = box_iou(np.array(kept, np.float64), truth)
                tp += int((iou.max(1) >= 0.3).sum())
                fp += int((iou.max(1) < 0.3).sum())
                found += int((iou.max(0) >= 0.3).sum())
            else:
                fp += len(kept)
        rows.append({"threshold": float(t), "precision_iou30": tp / max(tp + fp, 1),
                     "recall_iou30": found / max(n_true, 1), "clean_false_damage": clean_hit / max(clean, 1),
                     "damage_photos_found": damaged_hit / max(damaged, 1), "clean_photos": clean})
    return rows


def choose_threshold(curve: list[dict[str, float]], max_clean: float, min_precision: float) -> dict[str, float]:
    """Precision first: the lowest threshold whose clean-car false damage is <= max_clean and whose box precision
    at IoU 0.3 is >= min_precision (on the selection fold); the highest one tried when none qualifies."""
    for row in curve:
        if row["clean_false_damage"] <= max_clean and row["precision_iou30"] >= min_precision:
            return row
    return curve[-1]


# ---------------------------------------------------------------- training

def scores(tail: Tail, feats: np.ndarray, idx: np.ndarray, view: int = 0, batch: int = 256) -> np.ndarray:
    tail.eval()
    out = []
    with torch.no_grad():
        for n in range(0, len(idx), batch):
            x = torch.from_numpy(feats[idx[n:n + batch], view].astype(np.float32))
            out.append(torch.sigmoid(tail(x)).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def auc(y: np.ndarray, p: np.ndarray) -> float:
    return common.roc_auc(y, p) if 0 < y.sum() < len(y) else float("nan")


def config_pbtxt() -> str:
    return triton_config(vm.VERIFIER_SPEC, vm.MAX_BATCH_SIZE,
                         {vm.INPUT_CROPS: (3, vm.INPUT_SIZE, vm.INPUT_SIZE), vm.OUTPUT_DAMAGE_PROB: (1,)},
                         "Written by training/damage/verifier.py; tensor names: "
                         "picloss/engines/models/damage_verifier.py.")


def export(model: nn.Module, models_dir: Path, record: dict[str, object], samples: np.ndarray) -> Path:
    path = vm.VERIFIER_SPEC.onnx_path(models_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.rand(2, 3, vm.INPUT_SIZE, vm.INPUT_SIZE) * 255
    torch.onnx.export(model.eval(), (dummy,), str(path), input_names=[vm.INPUT_CROPS],
                      output_names=[vm.OUTPUT_DAMAGE_PROB],
                      dynamic_axes={vm.INPUT_CROPS: {0: "batch"}, vm.OUTPUT_DAMAGE_PROB: {0: "batch"}},
                      opset_version=17, dynamo=False)
    batch = torch.from_numpy(np.concatenate([dummy.numpy(), samples]))
    record["onnx_vs_torch_max_abs_diff"] = common.onnx_vs_torch(model, path, batch, vm.INPUT_CROPS,
                                                                vm.OUTPUT_DAMAGE_PROB)
    (path.parent.parent / "config.pbtxt").write_text(config_pbtxt())
    (path.parent.parent / "verifier.json").write_text(json.dumps(record, indent=2) + "\n")
    log.info("exported %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    photos = [json.loads(line) for line in args.candidates.read_text().splitlines() if line.strip()]
    items = build_items(photos, args.data, args.seed, paste=not args.no_paste)
    counts: dict[str, int] = {}
    for it in items:
        key = f"fold{'0' if it.fold == SELECTION_FOLD else '1-4'}:{it.source}:{it.kind}:{it.label}"
        counts[key] = counts.get(key, 0) + 1
    log.info("items %d %s", len(items), json.dumps(dict(sorted(counts.items())), indent=1))
    net = lite0()
    trunk, frozen = Trunk(net).eval(), Frozen(net, args.train_from).eval()
    tail = Tail(net, start=args.train_from)
    tag = f"s{args.seed}{'_nopaste' if args.no_paste else ''}_{len(items)}"
    feats = cache_trunk(items, args.cache, trunk, tag, args.threads)
    if args.train_from > SPLIT_AT:
        feats = cache_frozen(feats, frozen, args.cache, f"{tag}_b{args.train_from}")
    feats = np.ascontiguousarray(feats)  # in memory for random batches (2.5 GB from block 11)
    if args.leave_out:  # the same cached crops, some kinds not trained on (e.g. the pastes: with vs without)
        tag = f"{tag}_without_{'_'.join(sorted(args.leave_out))}"
    labels = np.array([it.label if it.kind not in args.leave_out else -1 for it in items], np.float32)
    folds = np.array([it.fold for it in items])
    fit_idx = np.flatnonzero((folds != SELECTION_FOLD) & (labels >= 0))
    sel_idx = np.flatnonzero(folds == SELECTION_FOLD)
    sel_items = [items[i] for i in sel_idx]
    sel_cand = np.array([it.kind == "cand" and it.label >= 0 for it in sel_items])
    sel_y = labels[sel_idx]

    params = [{"params": [p for b in tail.blocks for p in b.parameters()] + list(tail.conv_head.parameters())
               + list(tail.bn1.parameters()), "lr": args.lr},
              {"params": tail.linear.parameters(), "lr": args.lr * 10}]
    opt = torch.optim.AdamW(params, weight_decay=1e-2)
    steps = len(fit_idx) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[args.lr, args.lr * 10], pct_start=0.1,
                                                total_steps=args.epochs * steps)
    pos = labels[fit_idx].sum()
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(fit_idx) - pos) / pos))
    best_auc, best_epoch, history = -1.0, 0, []
    best_path = args.cache / f"best_tail_{tag}_b{args.train_from}.pt"
    if args.reuse_best:  # a finished run's best tail: no training, the same selection and export
        history_path = best_path.with_suffix(".json")
        saved = json.loads(history_path.read_text()) if history_path.exists() else {}
        best_epoch, history = saved.get("epoch", "see the training log"), saved.get("epochs", [])
    for epoch in range(0 if args.reuse_best else args.epochs):
        tail.train()
        rng = np.random.default_rng(args.seed * 1000 + epoch)
        order = rng.permutation(fit_idx)
        start, total = time.monotonic(), 0.0
        for s in range(steps):
            idx = np.sort(order[s * args.batch:(s + 1) * args.batch])
            view = rng.integers(0, VIEWS, len(idx))
            x = torch.from_numpy(np.stack([feats[i, v] for i, v in zip(idx, view, strict=True)]).astype(np.float32))
            loss = loss_fn(tail(x), torch.from_numpy(labels[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
            if (s + 1) % 100 == 0:
                log.info("epoch %d step %d/%d loss %.4f (%.0f s)", epoch + 1, s + 1, steps, total / (s + 1),
                         time.monotonic() - start)
        p = scores(tail, feats, sel_idx)
        row = {"epoch": epoch + 1, "loss": round(total / max(steps, 1), 4), "seconds": round(time.monotonic() - start),
               "selection_auc_candidates": round(auc(sel_y[sel_cand], p[sel_cand]), 4),
               "selection_auc_all": round(auc(sel_y[sel_y >= 0], p[sel_y >= 0]), 4)}
        history.append(row)
        log.info("epoch %s", json.dumps(row))
        if row["selection_auc_candidates"] > best_auc:
            best_auc, best_epoch = row["selection_auc_candidates"], epoch + 1
            torch.save(tail.state_dict(), best_path)
            best_path.with_suffix(".json").write_text(json.dumps({"epoch": best_epoch, "epochs": history}))
    tail.load_state_dict(torch.load(best_path, weights_only=True))
    ver = scores(tail, feats, sel_idx)

    cand = np.array([it.kind == "cand" for it in sel_items])
    det = np.array([it.det_score for it in sel_items])
    part = np.array([it.channel == "part" for it in sel_items])
    gate_of_photo = gate_probabilities(photos, SELECTION_FOLD, args.gate_models_dir, args.threads)
    gate = np.array([gate_of_photo.get(it.photo, 1.0) for it in sel_items])
    x_without = combine_features(ver[cand], det[cand], part[cand])
    x = combine_features(ver[cand], det[cand], part[cand], gate[cand])
    lab = sel_y[cand] >= 0
    # The detector trained on the damage_severity train photos: its scores there are inflated (AUC ~0.9 against
    # ~0.8 on photos it never saw), and a combination fitted on them would trust it too much. The weights are
    # fitted on the other sources' candidates (damaged_parts, clean cars, VIN photos: the damage channel never
    # trained on them); the figures below show every source.
    fair = lab & np.array([it.source != "damage_severity" for it in sel_items])[cand]
    w = fit_combination(x[fair], sel_y[cand][fair])
    w_without = fit_combination(x_without[fair], sel_y[cand][fair])
    combined = np.full(len(sel_items), np.nan)
    combined[cand] = apply_combination(w, x)
    combined_without = np.full(len(sel_items), np.nan)
    combined_without[cand] = apply_combination(w_without, x_without)
    yc = sel_y[cand][lab]
    figures = {"auc_detector": auc(yc, det[cand][lab]), "auc_verifier": auc(yc, ver[cand][lab]),
               "auc_gate": auc(yc, gate[cand][lab]), "auc_combined_without_gate": auc(yc, combined_without[cand][lab]),
               "auc_combined": auc(yc, combined[cand][lab])}
    for source in sorted({it.source for it in sel_items}):
        m = np.array([it.source == source for it in sel_items])[cand][lab]
        if 0 < yc[m].sum() < m.sum():  # both classes among the source's candidates
            figures[f"auc_combined[{source}]"] = auc(yc[m], combined[cand][lab][m])
            figures[f"auc_detector[{source}]"] = auc(yc[m], det[cand][lab][m])
    curve = photo_curve(photos, sel_items, np.nan_to_num(combined, nan=0.0))
    det_curve = photo_curve(photos, sel_items, np.nan_to_num(np.where(cand, det, 0.0), nan=0.0))
    chosen = choose_threshold(curve, args.max_clean, args.min_precision)
    curve_without = photo_curve(photos, sel_items, np.nan_to_num(combined_without, nan=0.0))
    chosen_without = choose_threshold(curve_without, args.max_clean, args.min_precision)
    log.info("selection fold: %s", json.dumps(figures))
    log.info("without the gate: chosen %s", json.dumps(chosen_without))
    for row, drow in zip(curve, det_curve, strict=True):
        log.info("t=%.3f combined P30 %.3f R30 %.3f clean %.3f found %.3f | detector P30 %.3f R30 %.3f clean %.3f",
                 row["threshold"], row["precision_iou30"], row["recall_iou30"], row["clean_false_damage"],
                 row["damage_photos_found"], drow["precision_iou30"], drow["recall_iou30"],
                 drow["clean_false_damage"])
    log.info("chosen %s", json.dumps(chosen))
    record: dict[str, object] = {
        "model": (f"EfficientNet-Lite0 ImageNet, blocks {args.train_from}-15 + head conv fine-tuned, mean+max pool, "
                  "linear"),
        "input_size": vm.INPUT_SIZE, "context": vm.CONTEXT, "min_crop_side": vm.MIN_CROP_SIDE,
        "combination": {"features": [*FEATURES, GATE_FEATURE],
                        "weights": [round(float(v), 6) for v in w[:-1]], "bias": round(float(w[-1]), 6)},
        "combination_without_gate": {"features": FEATURES, "weights": [round(float(v), 6) for v in w_without[:-1]],
                                     "bias": round(float(w_without[-1]), 6)},
        "selection_point_without_gate": chosen_without,
        "gate": {"model": str(args.gate_models_dir.resolve().relative_to(REPO)) if args.gate_models_dir.resolve(
                 ).is_relative_to(REPO) else str(args.gate_models_dir),
                 "folds": "the gate (recipe v3) and the verifier share the grouped folds; fold 0 trained by neither"},
        "threshold": chosen["threshold"],
        "threshold_rule": (f"lowest t on train fold {SELECTION_FOLD} (grouped by source photo, never trained on) "
                           f"with clean-car photos flagged <= {args.max_clean} and box precision at IoU 0.3 >= "
                           f"{args.min_precision} on damage_severity"),
        "selection_point": chosen, "selection_figures": figures, "chosen_epoch": best_epoch, "epochs": history,
        "paste": not args.no_paste, "item_counts": dict(sorted(counts.items())),
        "held_out_clean_source": "clean_cars/vehicles (train and valid): never used",
    }
    args.cache.joinpath(f"selection_{tag}_b{args.train_from}.json").write_text(json.dumps(
        {"record": record, "curve": curve, "detector_curve": det_curve}, indent=1))
    if args.record_only:  # the same verifier model: only the combinations and the operating point are new
        onnx = vm.VERIFIER_SPEC.onnx_path(args.models_dir)
        if not onnx.exists():
            raise SystemExit(f"--record-only needs the verifier model in {onnx}")
        old = json.loads((onnx.parent.parent / "verifier.json").read_text())
        record["onnx_vs_torch_max_abs_diff"] = old.get("onnx_vs_torch_max_abs_diff")
        (onnx.parent.parent / "verifier.json").write_text(json.dumps(record, indent=2) + "\n")
        log.info("recorded %s", onnx.parent.parent / "verifier.json")
    elif not args.no_export:
        sample_idx = sel_idx[:2]
        samples = np.stack([vm.to_batch([make_view(items[i], 0, random.Random(0))])[0] for i in sample_idx])
        export(Verifier(trunk, frozen, tail), args.models_dir, record, samples)
    print(json.dumps({k: record[k] for k in ("combination", "combination_without_gate", "threshold",
                                             "selection_point", "selection_point_without_gate",
                                             "selection_figures")}, indent=1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=Path, default=Path("/tmp/picloss-verifier/candidates.jsonl"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/picloss-verifier"))
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-clean", type=float, default=0.05)
    parser.add_argument("--min-precision", type=float, default=0.5)
    parser.add_argument("--no-paste", action="store_true", help="leave out the copy-paste positives")
    parser.add_argument("--leave-out", nargs="*", default=[], choices=["pasted", "detail", "plate", "truth"],
                        help="crop kinds not trained on, from the same cache (a with/without comparison)")
    parser.add_argument("--train-from", type=int, default=TRAIN_FROM,
                        help=f"first fine-tuned block ({SPLIT_AT}..15; blocks before it are frozen and cached)")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--reuse-best", action="store_true",
                        help="no training: select and export the best tail a finished run saved in --cache")
    parser.add_argument("--gate-models-dir", type=Path, default=REPO / "models",
                        help="the models folder whose damage_gate enters the score combination")
    parser.add_argument("--record-only", action="store_true",
                        help="with --reuse-best: write only verifier.json (combinations, operating point) beside "
                             "the verifier model already in --models-dir")
    parser.add_argument("--log", type=Path, default=None)
    args = parser.parse_args(argv)
    common.setup_run(args.log, args.threads, args.cache)
    train(args)


if __name__ == "__main__":
    main()
