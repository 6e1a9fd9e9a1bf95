"""What the damage training scripts share (both damage gates, the view classifier, the box verifier): the run's
set-up, a network exported once to ONNX to extract features with onnxruntime, and the figures of a binary
classifier over grouped folds."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn


def setup_run(log_file: Path | None, threads: int, cache: Path) -> None:
    """Logging to stderr (and `log_file`), torch threads, the cache folder: the set-up of the training scripts."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", handlers=handlers)
    torch.set_num_threads(threads)
    cache.mkdir(parents=True, exist_ok=True)


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


def onnx_vs_torch(model: nn.Module, path: Path, batch: torch.Tensor, input_name: str, output_name: str) -> float:
    """The largest |difference| of onnxruntime on the exported `path` against torch on `batch`; an error above
    1e-4 (the export checks of the training scripts)."""
    import onnxruntime as ort

    with torch.no_grad():
        expected = model(batch).numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        [output_name], {input_name: batch.numpy()})[0]
    diff = float(np.abs(expected - got).max())
    if diff > 1e-4:
        raise RuntimeError(f"ONNX and torch disagree by {diff}")
    return diff
