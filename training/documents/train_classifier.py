"""Train the photo classifier: frozen EfficientNet-Lite0 features + a small head, exported as one ONNX.

    nice -n 10 .venv/bin/python -m training.documents.train_classifier --log /tmp/logs/train_classifier.log

Features are extracted once (cached in --cache), the head trains in seconds, and backbone + head +
softmax are exported to models/photo_classifier/1/model.onnx with its config.pbtxt.
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from services.classifier.model_spec import (
    CLASSES,
    INPUT_NAME,
    INPUT_SIZE,
    MAX_BATCH_SIZE,
    OUTPUT_NAME,
    PHOTO_CLASSIFIER,
)
from services.classifier.preprocess import to_input
from training.documents.backbone import Backbone, PhotoClassifier, make_head
from training.documents.classifier_data import Example, examples

REPO = Path(__file__).resolve().parents[2]
log = logging.getLogger("train_classifier")


def augment(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    """A random crop (80-100 %) with brightness/contrast jitter, for the few real VIN photos."""
    h, w = rgb.shape[:2]
    s = rng.uniform(0.8, 1.0)
    ch, cw = int(h * s), int(w * s)
    y, x = rng.randrange(h - ch + 1), rng.randrange(w - cw + 1)
    crop = rgb[y:y + ch, x:x + cw].astype(np.float32)
    crop = crop * rng.uniform(0.75, 1.25) + rng.uniform(-25, 25)
    return cv2.resize(np.clip(crop, 0, 255).astype(np.uint8), (w, h))


def extract(backbone: Backbone, items: list[Example], views: dict[str, int], seed: int,
            cache: dict[str, np.ndarray], batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Features of every (example, view); views already in `cache` (keyed by source#view) are reused."""
    rng = random.Random(seed)
    pending: list[tuple[str, np.ndarray]] = []
    start = time.monotonic()

    def flush() -> None:
        if pending:
            with torch.no_grad():
                feats = backbone(torch.from_numpy(np.stack([p[1] for p in pending]))).numpy().astype(np.float16)
            cache.update((key, f) for (key, _), f in zip(pending, feats, strict=True))
            pending.clear()

    keys, labels = [], []
    for n, item in enumerate(items, 1):
        real = not item.source.startswith("rendered:")
        item_keys = [f"{item.source}#{v}" for v in range(views.get(item.label, 1) if real else 1)]
        keys.extend(item_keys)
        labels.extend([CLASSES.index(item.label)] * len(item_keys))
        missing = [k for k in item_keys if k not in cache]
        if missing:
            rgb = item.load()
            for key in missing:
                view = rgb if key.endswith("#0") else augment(rgb, rng)
                pending.append((key, to_input(view)))
                if len(pending) == batch:
                    flush()
        if n % 200 == 0:
            log.info("features %d/%d (%.0f s)", n, len(items), time.monotonic() - start)
    flush()
    return np.stack([cache[k] for k in keys]), np.array(labels)


def load_cache(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    data = np.load(path)
    return dict(zip(data["keys"].tolist(), data["x"], strict=True))


def save_cache(path: Path, cache: dict[str, np.ndarray]) -> None:
    keys = sorted(cache)
    np.savez(path, keys=np.array(keys), x=np.stack([cache[k] for k in keys]))


def train_head(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    head = make_head(len(CLASSES))
    counts = np.bincount(y, minlength=len(CLASSES)).astype(np.float32)
    weights = torch.from_numpy(counts.sum() / (len(CLASSES) * np.maximum(counts, 1)))
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-3)
    xt, yt = torch.from_numpy(x).float(), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        head.train()
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(order), 128):
            idx = order[i:i + 128]
            opt.zero_grad()
            loss = loss_fn(head(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        if epoch % 10 == 0 or epoch == epochs - 1:
            log.info("epoch %d loss %.4f", epoch, total / len(xt))
    return head.eval()


def accuracy(head: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        pred = head(torch.from_numpy(x).float()).argmax(1).numpy()
    return float((pred == y).mean())


def export(backbone: Backbone, head: nn.Module, models_dir: Path) -> Path:
    path = PHOTO_CLASSIFIER.onnx_path(models_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = PhotoClassifier(backbone, head).eval()
    dummy = torch.rand(2, 3, INPUT_SIZE, INPUT_SIZE) * 255
    torch.onnx.export(model, (dummy,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                      dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}, opset_version=17,
                      dynamo=False)
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(dummy).numpy()
    got = session.run([OUTPUT_NAME], {INPUT_NAME: dummy.numpy()})[0]
    if not np.allclose(expected, got, atol=1e-4):
        raise RuntimeError("ONNX output differs from torch")
    (path.parent.parent / "config.pbtxt").write_text(config_pbtxt())
    log.info("exported %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def config_pbtxt() -> str:
    return f"""# Generated by training/documents/train_classifier.py; names from services/classifier/model_spec.py
name: "{PHOTO_CLASSIFIER.name}"
platform: "onnxruntime_onnx"
max_batch_size: {MAX_BATCH_SIZE}
input [
  {{
    name: "{INPUT_NAME}"
    data_type: TYPE_FP32
    dims: [ 3, {INPUT_SIZE}, {INPUT_SIZE} ]
  }}
]
output [
  {{
    name: "{OUTPUT_NAME}"
    data_type: TYPE_FP32
    dims: [ {len(CLASSES)} ]
  }}
]
dynamic_batching {{
  max_queue_delay_microseconds: 2000
}}
instance_group [
  {{
    count: 1
    kind: KIND_CPU
  }}
]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log", type=Path, default=Path("/tmp/logs/train_classifier.log"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/picloss_classifier_feature_maps.npz"))
    parser.add_argument("--per-document-class", type=int, default=650)
    parser.add_argument("--other", type=int, default=500)
    parser.add_argument("--max-damage", type=int, default=1200)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    args = parser.parse_args()
    args.log.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.FileHandler(args.log), logging.StreamHandler()])
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    backbone = Backbone()
    items = examples("train", args.per_document_class, args.other, args.max_damage)
    log.info("training examples: %s", {c: sum(e.label == c for e in items) for c in CLASSES})
    cache = load_cache(args.cache)
    log.info("cached features: %d", len(cache))
    x, y = extract(backbone, items, views={"VIN": 3}, seed=args.seed, cache=cache)
    save_cache(args.cache, cache)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(x))
    cut = int(0.9 * len(x))
    head = train_head(x[order[:cut]], y[order[:cut]], args.epochs, args.seed)
    log.info("held-out (10 %% of training features) accuracy %.4f", accuracy(head, x[order[cut:]], y[order[cut:]]))
    head = train_head(x, y, args.epochs, args.seed)
    export(backbone, head, args.models_dir)


if __name__ == "__main__":
    main()
