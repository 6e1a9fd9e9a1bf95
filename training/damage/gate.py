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
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from picloss.engines.models.damage_gate import INPUT_SIZE, to_input
from training.damage.common import cached_onnx_session, group_folds, setup_run, threshold_for_recall
from training.damage.gate_common import (
    DEFAULT_DATA,
    FEATURES,
    FOLDS,
    REPO,
    TARGET_RECALL,
    Item,
    counts,
    eval_items,
    export,
    figures,
    train_items,
    view_of,
)

log = logging.getLogger("damage_gate")


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


# ---------------------------------------------------------------- main

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
