"""Fine-tune the photo-level damage gate end to end (issue 11, part 2, second attempt).

    nice -n 10 .venv/bin/python -m training.damage.gate_finetune --log /tmp/logs/gate_finetune.log

The first gate (`training/damage/gate.py`) is a logistic regression on FROZEN ImageNet features; on held-out
clean cars it still flags most photos. Here the last stage of EfficientNet-Lite0 (blocks 11-15, stride 32, and
the 1280-channel head convolution) is trained together with the head, on the same photos as the first gate:

* Frozen trunk (stem + blocks 0-10, ImageNet weights): its output (112 x 20 x 20 at 320 px) is computed once per
  photo and view and cached in --cache (resumable), so an epoch only runs the trainable tail.
* Views per photo (cached, one drawn per photo and epoch): the photo as the service squashes it, its mirror
  image, a random down-scaled copy (longest side 128-300 px, then squashed: the damage training photos are
  256-px and 640-px while the clean cars are 416-px, so resolution must not be a cue) and a mild random crop;
  the last two also jittered in brightness and contrast.
* Split: the same 5 grouped folds of the TRAIN photos as the first gate; fold 0 is the selection fold (epoch
  choice and threshold, never trained on), folds 1-4 are trained on. The threshold is the highest one whose
  recall on the selection fold's whole damage photos is >= 0.98. The held-out val photos are scored once, with
  the chosen epoch and threshold, and only reported.
* BatchNorm statistics stay at their ImageNet values (eval mode): batches are small and the photos few.
* Export: the whole network (normalisation, frozen trunk, trained tail, pooled head, sigmoid) as the same ONNX
  contract as the first gate (`picloss/engines/models/damage_gate.py`: images [N,3,320,320] 0..255 squashed ->
  damage_prob).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from picloss.engines.models.damage_gate import INPUT_SIZE, to_input
from training.damage import common, gate_common
from training.damage.gate_common import Item

REPO = Path(__file__).resolve().parents[2]
SPLIT_AT = 11  # blocks [0, SPLIT_AT) frozen and cached, [SPLIT_AT, 16) trained
VIEWS = 4
SELECTION_FOLD = 0
log = logging.getLogger("gate_finetune")


# ---------------------------------------------------------------- network

class Trunk(nn.Module):
    """0..255 RGB -> the frozen block-10 output (ImageNet normalisation included)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        from training.documents.backbone import IMAGENET_MEAN, IMAGENET_STD

        self.net = net
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        net = self.net
        x = net._swish(net._bn0(net._conv_stem((images - self.mean) / self.std)))
        for block in net._blocks[:SPLIT_AT]:
            x = block(x)
        return x


class Tail(nn.Module):
    """Block-(start-1) output -> one damage logit: blocks start-15 (11-15 by default), head conv, global mean + max,
    dropout, linear. The box verifier (training/damage/verifier.py) uses it too."""

    def __init__(self, net: nn.Module, drop_connect: float = 0.2, start: int = SPLIT_AT) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(net._blocks[start:])
        self.conv_head, self.bn1, self.act = net._conv_head, net._bn1, net._swish
        self.rates = [drop_connect * (start + i) / len(net._blocks) for i in range(len(self.blocks))]
        self.dropout = nn.Dropout(0.3)
        self.linear = nn.Linear(2 * gate_common.FEATURES, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block, rate in zip(self.blocks, self.rates, strict=True):
            x = block(x, drop_connect_rate=rate if self.training else None)
        x = self.act(self.bn1(self.conv_head(x)))
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return self.linear(self.dropout(pooled)).squeeze(1)

    def train(self, mode: bool = True) -> Tail:  # BatchNorm stays in eval mode (ImageNet statistics)
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self


class FineTunedGate(nn.Module):
    """The exported graph: 0..255 RGB [N,3,S,S] -> damage probability [N,1]."""

    def __init__(self, trunk: Trunk, tail: Tail) -> None:
        super().__init__()
        self.trunk, self.tail = trunk, tail

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.tail(self.trunk(images))).unsqueeze(1)


def lite0() -> nn.Module:
    from training.documents.backbone import Backbone

    return Backbone().net  # ImageNet weights, exportable activation


# ---------------------------------------------------------------- views and cache

def jitter(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    alpha, beta = rng.uniform(0.75, 1.25), rng.uniform(-25, 25)
    return np.clip(rgb.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


def reencode(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    """The photo re-encoded as JPEG at quality 35-95 (70 % of the time): compression must not tell damage."""
    if rng.random() >= 0.7:
        return rgb
    quality = [cv2.IMWRITE_JPEG_QUALITY, rng.randint(35, 95)]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), quality)
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1] if ok else rgb


def make_view(rgb: np.ndarray, view: int, rng: random.Random, recipe: str = "v3") -> np.ndarray:
    """float32 [3, S, S] 0..255 for view 0 (as served), 1 (mirror), 2 (down-scaled), 3 (crop).

    Recipe v3 (issue 21, item 3): the down-scaled view is also stretched (each side scaled on its own, aspect
    distortion 0.7-1.4) and both augmented views are re-encoded as JPEG, so that neither the stretch of the
    Roboflow 640x640 photos nor the size or compression of a source tells damage; the crop takes each side on its
    own (70-100 %), another stretch. Recipe v2: the committed issue-11 gate's views."""
    if view == 1:
        rgb = rgb[:, ::-1]
    elif view == 2:
        h, w = rgb.shape[:2]
        scale = rng.uniform(128, 300) / max(h, w)
        stretch = float(np.exp(rng.uniform(-0.36, 0.36))) if recipe == "v3" else 1.0
        sx, sy = scale * stretch ** 0.5, scale / stretch ** 0.5
        if scale < 1:
            rgb = cv2.resize(rgb, (max(8, round(w * sx)), max(8, round(h * sy))), interpolation=cv2.INTER_AREA)
        rgb = jitter(rgb[:, ::-1] if rng.random() < 0.5 else rgb, rng)
        if recipe == "v3":
            rgb = reencode(rgb, rng)
    elif view == 3:
        h, w = rgb.shape[:2]
        low = 0.7 if recipe == "v3" else 0.8
        cw, ch = round(w * rng.uniform(low, 1.0)), round(h * rng.uniform(low, 1.0))
        x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
        rgb = jitter(rgb[y0:y0 + ch, x0:x0 + cw], rng)
        if rng.random() < 0.5:
            rgb = rgb[:, ::-1]
        if recipe == "v3":
            rgb = reencode(rgb, rng)
    return to_input(np.ascontiguousarray(rgb))


# ---------------------------------------------------------------- recipe v3: folds, held-out source, pastes

HELD_OUT_SOURCE = "clean_cars/vehicles/train"  # the clean-car source no damage model or threshold is fitted to
PASTE_MIN_AREA = 600  # damage polygons at least this large (photo px^2) are pasted: visible at the gate's 320 px


def verifier_folds(items: list[Item], data: Path) -> np.ndarray:
    """The box verifier's grouped folds (`verifier_data.Groups`), so that fold 0 is the selection fold of both
    models and the verifier's score combination can use the gate's probability on photos neither trained on."""
    from training.damage.verifier_data import Groups

    groups = Groups(data / "DUPLICATES.tsv")
    dataset = {"damage_severity/train": "damage_severity", "damaged_parts/train": "damaged_parts",
               "vin_plates/train": "vin"}
    return np.array([groups.fold(dataset.get(it.source, "clean"), it.path.name) for it in items])


def paste_pool(data: Path) -> dict[int, list[tuple[str, list[float]]]]:
    """Per fold, the damage_severity train polygons large enough to paste: (photo path, polygon)."""
    from training.damage.verifier import polygons
    from training.damage.verifier_data import Groups

    groups = Groups(data / "DUPLICATES.tsv")
    pool: dict[int, list[tuple[str, list[float]]]] = {}
    for name, plist in sorted(polygons(data).items()):
        for poly in plist:
            xs, ys = poly[0::2], poly[1::2]
            if (max(xs) - min(xs)) * (max(ys) - min(ys)) >= PASTE_MIN_AREA:
                path = str(data / "damage_severity/images/train" / name)
                pool.setdefault(groups.fold("damage_severity", name), []).append((path, poly))
    return pool


def pasted_items(items: list[Item], folds: np.ndarray, per_photo: int) -> tuple[list[Item], list[int]]:
    """Positives made from the clean cars of `clean_cars/plates`: the same photo with real damage pasted on the car
    (view `pasted`; `view_rgb` renders it), so that the same car, light and background are seen with and without
    damage; returned with their folds."""
    out, out_folds = [], []
    for it, fold in zip(items, folds, strict=True):
        if it.source == "clean_cars/plates/train" and it.view == "full":
            for k in range(per_photo):
                out.append(Item(it.path, 1, it.group, it.source, "pasted", (float(k), 0.0, 0.0, 0.0)))
                out_folds.append(int(fold))
    return out, out_folds


_POOL: dict[int, list[tuple[str, list[float]]]] = {}


def view_rgb(item: Item, data: Path | None = None, fold: int = 0) -> np.ndarray:
    """The photo as the gate receives it (`gate_common.view_of`), or for a `pasted` item the clean car with 1-3 damages
    of `damage_severity` train photos of the same fold pasted inside its vehicle box (seeded by the item)."""
    if item.view != "pasted":
        return gate_common.view_of(item)
    from training.damage.verifier import paste_damage

    if data is not None and not _POOL:
        _POOL.update(paste_pool(data))
    pool = _POOL.get(fold) or [p for ps in _POOL.values() for p in ps]
    rgb = gate_common.load_rgb(item.path)
    h, w = rgb.shape[:2]
    labels = gate_common.yolo_boxes(item.path.parent.parent / "labels" / f"{item.path.stem}.txt")
    vehicles = [b for c, b in labels if c == 1] or [(0.1, 0.1, 0.9, 0.9)]
    vx0, vy0, vx1, vy1 = (v * s for v, s in zip(max(vehicles, key=lambda b: (b[2] - b[0]) * (b[3] - b[1])),
                                                  (w, h, w, h), strict=True))
    rng = random.Random(item.key)
    for _ in range(rng.randint(1, 3)):
        bw = max(12.0, (vx1 - vx0) * rng.uniform(0.08, 0.3))
        bh = bw * float(np.exp(rng.uniform(-0.5, 0.5)))
        x0 = rng.uniform(vx0, max(vx0, vx1 - bw))
        y0 = rng.uniform(vy0 + 0.25 * (vy1 - vy0), max(vy0 + 0.25 * (vy1 - vy0), vy1 - bh))
        src, poly = pool[rng.randrange(len(pool))]
        rgb, _ = paste_damage(rgb, (x0, y0, x0 + bw, y0 + bh), src, tuple(poly), rng)
    return rgb


def trunk_session(trunk: Trunk, cache: Path, threads: int) -> object:
    """The frozen trunk as ONNX (onnxruntime)."""
    return common.cached_onnx_session(trunk, cache / f"trunk_{SPLIT_AT}_{INPUT_SIZE}.onnx", INPUT_SIZE, threads,
                                    output="trunk")


def cache_trunk(items: list[Item], views: int, cache: Path, trunk: Trunk, tag: str,
                threads: int = 2, batch: int = 32, recipe: str = "v2", data: Path | None = None,
                folds: np.ndarray | None = None) -> np.ndarray:
    """fp16 [len(items), views, C, H, W] block-10 outputs, memory-mapped in cache; resumable per chunk."""
    shape_path = cache / f"trunk_{tag}.json"
    data_path = cache / f"trunk_{tag}.f16"
    keys = [it.key for it in items]
    session = trunk_session(trunk, cache, threads)
    c, h, w = session.run(["trunk"], {"images": np.zeros((1, 3, INPUT_SIZE, INPUT_SIZE), np.float32)})[0].shape[1:]
    shape = (len(items), views, c, h, w)
    meta = json.loads(shape_path.read_text()) if shape_path.exists() else None
    if meta is None or meta["keys"] != keys or tuple(meta["shape"]) != shape:
        meta = {"keys": keys, "shape": shape, "done": 0}
        store = np.lib.format.open_memmap(str(data_path), mode="w+", dtype=np.float16, shape=shape)
        del store
        shape_path.write_text(json.dumps(meta))
    store = np.lib.format.open_memmap(str(data_path), mode="r+")
    start = time.monotonic()
    for n in range(meta["done"], len(items), batch):
        chunk = items[n:n + batch]
        x = []
        for i, it in enumerate(chunk):
            rgb = view_rgb(it, data, int(folds[n + i]) if folds is not None else 0)
            rng = random.Random(f"{it.key}:{n + i}")
            x.extend(make_view(rgb, v, rng, recipe) for v in range(views))
        out = session.run(["trunk"], {"images": np.stack(x)})[0].astype(np.float16)
        store[n:n + len(chunk)] = out.reshape(len(chunk), views, c, h, w)
        meta["done"] = n + len(chunk)
        if (n // batch) % 10 == 0 or meta["done"] == len(items):
            store.flush()
            shape_path.write_text(json.dumps(meta))
            log.info("trunk %s %d/%d (%.0f s)", tag, meta["done"], len(items), time.monotonic() - start)
    store.flush()
    return np.lib.format.open_memmap(str(data_path), mode="r")


# ---------------------------------------------------------------- training

def scores(tail: Tail, feats: np.ndarray, view: int = 0, batch: int = 64) -> np.ndarray:
    tail.eval()
    out = []
    with torch.no_grad():
        for n in range(0, len(feats), batch):
            out.append(torch.sigmoid(tail(torch.from_numpy(feats[n:n + batch, view].astype(np.float32)))).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def selection_figures(items: list[Item], p: np.ndarray) -> dict[str, float]:
    full_pos = np.array([it.view == "full" and it.label == 1 for it in items])
    clean = np.array([it.view == "full" and it.source.startswith("clean_cars") for it in items])
    t = common.threshold_for_recall(p[full_pos], gate_common.TARGET_RECALL)
    y = np.r_[np.ones(full_pos.sum()), np.zeros(clean.sum())]
    return {"threshold": t, "clean_false_damage": float((p[clean] >= t).mean()),
            "roc_auc": common.roc_auc(y, np.r_[p[full_pos], p[clean]])}


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    net = lite0()
    trunk = Trunk(net).eval()
    tail = Tail(net)
    items = gate_common.train_items(args.data, seed=args.seed, vin_count=args.vin)
    held = gate_common.eval_items(args.data, seed=args.seed)
    if args.recipe == "v3":  # issue 21: the held-out clean source out, the verifier's folds, pasted damage
        if args.hold_out_vehicles:  # the leave-source-out gate: its figures on clean_cars/vehicles are fair
            items = [it for it in items if it.source != HELD_OUT_SOURCE]
        folds = verifier_folds(items, args.data)
        extra, extra_folds = pasted_items(items, folds, args.pastes)
        items, folds = items + extra, np.r_[folds, np.array(extra_folds, int)]
        tag = f"train_v3_s{args.seed}_v{args.vin}_p{args.pastes}{'_loso' if args.hold_out_vehicles else ''}"
    else:
        folds = common.group_folds([it.group for it in items], gate_common.FOLDS, args.seed)
        tag = f"train_s{args.seed}_v{args.vin}"
    fit_idx = np.flatnonzero(folds != SELECTION_FOLD)
    sel_idx = np.flatnonzero(folds == SELECTION_FOLD)
    log.info("items (recipe %s): fit %d, selection %d, held-out %d %s", args.recipe, len(fit_idx), len(sel_idx),
             len(held), json.dumps(gate_common.counts(items)))
    feats = cache_trunk(items, VIEWS, args.cache, trunk, tag, args.threads, recipe=args.recipe, data=args.data,
                        folds=folds)
    labels = np.array([it.label for it in items], np.float32)

    sel_items = [items[i] for i in sel_idx]
    sel_feats = np.ascontiguousarray(feats[sel_idx])
    params = [{"params": [p for b in tail.blocks for p in b.parameters()] + list(tail.conv_head.parameters())
               + list(tail.bn1.parameters()), "lr": args.lr},
              {"params": tail.linear.parameters(), "lr": args.lr * 10}]
    opt = torch.optim.AdamW(params, weight_decay=1e-2)
    steps_per_epoch = len(fit_idx) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[args.lr, args.lr * 10], pct_start=0.1,
                                                total_steps=args.epochs * steps_per_epoch)
    pos = labels[fit_idx].sum()
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(fit_idx) - pos) / pos))
    best: dict[str, object] = {"clean_false_damage": 2.0}
    history: list[dict[str, object]] = []
    best_path = args.cache / ("best_tail.pt" if args.recipe == "v2" else f"best_{tag}.pt")
    if args.export_from is not None:  # a finished run's best tail: no training, same selection and export
        tail.load_state_dict(torch.load(args.export_from, weights_only=True))
        best = selection_figures(sel_items, scores(tail, sel_feats))
        best_json = args.export_from.with_suffix(".json")
        if best_json.exists():
            saved = json.loads(best_json.read_text())
            history, best["epoch"] = saved.get("epochs", []), saved.get("epoch")
        else:
            best["epoch"] = "see the training log"
    for epoch in range(0 if args.export_from is not None else args.epochs):
        tail.train()
        rng = np.random.default_rng(args.seed * 1000 + epoch)
        order = rng.permutation(fit_idx)
        start, total = time.monotonic(), 0.0
        for s in range(steps_per_epoch):
            idx = np.sort(order[s * args.batch:(s + 1) * args.batch])
            view = rng.integers(0, VIEWS, len(idx))
            x = torch.from_numpy(np.stack([feats[i, v] for i, v in zip(idx, view, strict=True)]).astype(np.float32))
            loss = loss_fn(tail(x), torch.from_numpy(labels[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
            if (s + 1) % 30 == 0:
                log.info("epoch %d step %d/%d loss %.4f (%.0f s)", epoch + 1, s + 1, steps_per_epoch,
                         total / (s + 1), time.monotonic() - start)
        sel = selection_figures(sel_items, scores(tail, sel_feats))
        sel.update(epoch=epoch + 1, loss=total / steps_per_epoch, seconds=round(time.monotonic() - start))
        history.append(sel)
        log.info("epoch %d %s", epoch + 1, json.dumps(sel))
        if args.recipe == "v3":  # about 50 clean cars in the selection fold: ROC AUC, not a rate of 2-3 photos
            better = sel["roc_auc"] > best.get("roc_auc", -1.0)
        else:
            better = sel["clean_false_damage"] < best["clean_false_damage"] or (
                sel["clean_false_damage"] == best["clean_false_damage"] and sel["roc_auc"] > best["roc_auc"])
        if better:
            best = dict(sel)
            torch.save(tail.state_dict(), best_path)
            best_path.with_suffix(".json").write_text(json.dumps({"epoch": epoch + 1, "epochs": history}))
    if args.export_from is None:
        tail.load_state_dict(torch.load(best_path, weights_only=True))
    threshold = float(best["threshold"])
    log.info("chosen epoch %s on the selection fold, threshold %.6f", best["epoch"], threshold)

    held_feats = cache_trunk(held, 1, args.cache, trunk, f"held_s{args.seed}", args.threads)
    probs = scores(tail, np.asarray(held_feats))
    held_figures = gate_common.figures(held, probs, threshold)
    log.info("HELD-OUT figures (never trained on, threshold not fitted here) %s", json.dumps(held_figures))
    sel_probs = scores(tail, sel_feats)
    record: dict[str, object] = {
        "threshold": round(threshold, 6), "input_size": INPUT_SIZE, "resize": "squash",
        "model": f"EfficientNet-Lite0 ImageNet, blocks {SPLIT_AT}-15 + head conv fine-tuned, mean+max pool, linear",
        "threshold_rule": f"highest t with recall >= {gate_common.TARGET_RECALL} on the whole damage photos of train "
                          f"fold {SELECTION_FOLD} (grouped, never trained on); epoch chosen on the same fold",
        "train_counts": gate_common.counts([items[i] for i in fit_idx]),
        "selection_counts": gate_common.counts(sel_items),
        "selection_fold": gate_common.figures(sel_items, sel_probs, threshold),
        "epochs": history, "chosen_epoch": best["epoch"], "held_out": held_figures}
    if args.scores:
        args.scores.write_text("".join(f"{it.source}\t{it.path}\t{it.label}\t{p:.4f}\n"
                                       for it, p in zip(held, probs, strict=True)))
    if not args.no_export:
        model = FineTunedGate(trunk, tail).eval()
        samples = [to_input(gate_common.view_of(it)) for it in held[:2]]
        gate_common.export(model, args.models_dir, record, samples)
    print(json.dumps({"threshold": threshold, "held_out": held_figures}, indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=gate_common.DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/picloss-gate-ft"))
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--vin", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--export-from", type=Path, default=None,
                        help="skip training: select, evaluate and export this saved tail (best_tail.pt)")
    parser.add_argument("--scores", type=Path, default=None)
    parser.add_argument("--recipe", choices=["v2", "v3"], default="v3",
                        help="v3 (issue 21): clean_cars/vehicles held out, the verifier's folds, pasted damage on "
                             "clean cars, stretched and re-encoded views; v2: the issue-11 gate")
    parser.add_argument("--hold-out-vehicles", action="store_true",
                        help="recipe v3: leave clean_cars/vehicles out (the leave-source-out gate of make "
                             "eval-damage-unseen-source)")
    parser.add_argument("--pastes", type=int, default=0, help="pasted-damage copies of each clean_cars/plates photo")
    parser.add_argument("--log", type=Path, default=None)
    args = parser.parse_args(argv)
    common.setup_run(args.log, args.threads, args.cache)
    train(args)


if __name__ == "__main__":
    main()
