"""Does an insurer's own data pay? The learning curve of issue 24, item 6 (`make learning-curve`).

`damaged_parts` plays the insurer's own labelled claims: 0 / 25 / 50 / 100 % of its train split (nested subsets,
seeded) are added to the public base data (`damage_severity` and the clean-car negatives), a detector is trained
on each mix with the **same recipe and the same number of steps**, and each is evaluated on `damaged_parts` valid
(photos that DUPLICATES.tsv lists as copies of a train photo left out). No arm sees a valid photo; no threshold is
fitted on them.

Every arm starts from the ImageNet backbone, not from the detector in service: that detector was trained on all of
`damaged_parts` train, so warm-starting from it would let the 0 % arm know the "insurer's" data already. On 2 CPU
cores the budget per arm is small (`--steps`, default 800 steps of 4 part photos + 4 damage windows + 2 clean
cars): the curve says how much a given amount of compute gains from more labelled photos, not what a fully trained
model reaches. Each arm is resumable (its own checkpoint); finished arms are kept in `OUT/arm-<pct>/figures.json`.

Figures (detector only, its part channel): damaged-part recall with the right kind (a labelled part box matched at
IoU >= 0.5 by a part box whose most likely kind is the labelled one) at the service's part threshold 0.3 and over
all 30 candidates whatever their score (what a short training already ranks right, before its scores reach the
threshold), part box AP at IoU 0.5 (kind ignored), part precision at the threshold. Written to docs/benchmarks.md
and as an SVG plot, docs/learning-curve.svg.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

from picloss.engines.boxes import box_iou
from picloss.engines.damage.detector import PART_SCORE_THRESHOLD
from training.damage.datasets import (
    DEFAULT_DATA_ROOT,
    ClassMap,
    dedupe_identical,
    leaked_val_files,
    read_split,
    without_leaked,
)
from training.damage.metrics import average_precision

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
INSURER = "damaged_parts"
SECTION = "## Learning curve: an insurer's own labelled claims (issue 24)"
log = logging.getLogger("learning-curve")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("training/runs/learning-curve"))
    p.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    p.add_argument("--arms", default="0,25,50,100", help="percent of damaged_parts train added")
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cuda on a GPU")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--reference", type=Path, default=REPO / "models" / "damage_detector" / "1" / "model.onnx",
                   help="a fully trained detector shown for scale (the first one in service: all of damaged_parts "
                        "train, hours of training); '' = none")
    p.add_argument("--benchmarks", type=Path, default=REPO / "docs" / "benchmarks.md")
    p.add_argument("--plot", type=Path, default=REPO / "docs" / "learning-curve.svg")
    return p.parse_args(argv)


def classmap_of(out: Path, keep_insurer: bool) -> Path:
    """The class map with only the insurer's dataset (`keep_insurer`) or every dataset but it (the base)."""
    raw = yaml.safe_load((HERE / "classmap.yaml").read_text())
    datasets = [d for d in raw["datasets"] if (d["name"] == INSURER) == keep_insurer]
    path = out / ("insurer-classmap.yaml" if keep_insurer else "base-classmap.yaml")
    path.write_text(yaml.safe_dump(dict(raw, datasets=datasets), allow_unicode=True, sort_keys=False))
    return path


def subset(n: int, pct: int, seed: int) -> list[int]:
    """Nested subsets: the first pct % of one seeded permutation."""
    order = np.random.default_rng([seed, 24]).permutation(n)
    return sorted(int(i) for i in order[: round(n * pct / 100)])


def evaluate_arm(onnx: Path, data_root: Path, threads: int) -> dict[str, float]:
    import onnxruntime as ort
    from PIL import Image

    from picloss.engines.models import damage_detector as ms
    from picloss.engines.models.damage_detector import INPUT_SIZE, letterbox

    classmap = ClassMap.load(classmap_of(onnx.parent, keep_insurer=True))
    leaked = leaked_val_files(data_root / "DUPLICATES.tsv", classmap)
    samples = [s for s in without_leaked(read_split(classmap, "val", data_root), leaked) if len(s.boxes)]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(str(onnx), sess_options=opts, providers=["CPUExecutionProvider"])
    preds, gts = [], []
    right = right_any = total = kept = kept_true = 0
    for s in samples:
        with Image.open(s.path) as im:
            rgb = np.asarray(im.convert("RGB"))
        img, geo = letterbox(rgb, INPUT_SIZE)
        x = img.transpose(2, 0, 1)[None].astype(np.float32)
        out = dict(zip(ms.DAMAGE_DETECTOR.outputs, session.run(list(ms.DAMAGE_DETECTOR.outputs),
                                                                 {ms.INPUT_IMAGES: x}), strict=True))
        boxes = out[ms.OUTPUT_PART_BOXES][0] / geo.scale
        scores = out[ms.OUTPUT_PART_SCORES][0]
        kinds = out[ms.OUTPUT_PART_KIND_PROBS][0].argmax(axis=1)
        gt = s.boxes.astype(np.float64)
        preds.append((boxes.astype(np.float64), scores.astype(np.float64)))
        gts.append(gt)
        keep = scores >= PART_SCORE_THRESHOLD
        ious = box_iou(gt, boxes[keep].astype(np.float64))
        kept += int(keep.sum())
        kept_true += int((ious >= 0.5).any(axis=0).sum()) if len(gt) else 0
        every = box_iou(gt, boxes.astype(np.float64))  # all top-30 candidates, whatever their score
        for i in range(len(gt)):
            total += 1
            hits = np.where(ious[i] >= 0.5)[0] if ious.shape[1] else np.zeros(0, dtype=int)
            right += int(any(kinds[keep][j] == s.labels["part_kind"][i] for j in hits))
            right_any += int(any(kinds[j] == s.labels["part_kind"][i] for j in np.where(every[i] >= 0.5)[0]))
    return {
        "damaged-part recall with the right kind @IoU 0.5": right / max(total, 1),
        "same, any score (top-30 candidates)": right_any / max(total, 1),
        "part box AP @IoU 0.5": average_precision(preds, gts, 0.5),
        "part precision @IoU 0.5 (score >= 0.3)": kept_true / max(kept, 1),
        "valid photos": len(samples),
        "valid part boxes": total,
    }


def train_arm(args: argparse.Namespace, pct: int, base_classmap: Path, arm_dir: Path) -> Path:
    from training.damage import train
    from training.damage.export import export_onnx
    from training.damage.model import DamageNet

    classmap = ClassMap.load(classmap_of(arm_dir, keep_insurer=True))
    photos = [s for s in dedupe_identical(read_split(classmap, "train", args.data_root)) if len(s.boxes)]
    chosen = [photos[i] for i in subset(len(photos), pct, args.seed)]
    log.info("arm %d %%: %d of %d damaged_parts train photos", pct, len(chosen), len(photos))
    extra = train.ExtraPhotos(chosen, 4, [], channel=train.PART) if chosen else None
    start = time.monotonic()
    train.main(["--classmap", str(base_classmap), "--data-root", str(args.data_root), "--out", str(arm_dir / "ckpt"),
                "--epochs", "1000", "--max-steps", str(args.steps), "--batch-size", "8", "--negatives", "2",
                "--lr", str(args.lr), "--threads", str(args.threads), "--seed", str(args.seed), "--resume",
                "--device", args.device,
                "--save-every", "25"], extra=extra)
    import torch

    ckpt = torch.load(arm_dir / "ckpt" / "last.pt", map_location="cpu", weights_only=False)
    net = DamageNet(*(len(ckpt["heads"][h]) for h in ("damage_type", "severity", "part_kind")), pretrained=False)
    net.load_state_dict(ckpt["model"])
    export_onnx(net, arm_dir / "model.onnx")
    before = json.loads((arm_dir / "train.json").read_text()) if (arm_dir / "train.json").exists() else {}
    minutes = before.get("minutes", 0.0) + (time.monotonic() - start) / 60  # a resumed arm adds its time
    (arm_dir / "train.json").write_text(json.dumps({"photos": len(chosen), "of": len(photos), "steps": ckpt["step"],
                                                    "minutes": minutes}))
    return arm_dir / "model.onnx"


def svg(rows: list[dict[str, float]], keys: list[str]) -> str:
    """A small line chart (no plotting library in the project): x = percent added, one line per figure."""
    w, h, left, bottom, top, right = 720, 320, 50, 40, 20, 330
    colours = ["#1f77b4", "#ff7f0e", "#d62728", "#2ca02c"]

    def x(p: float) -> float:
        return left + (w - left - right) * p / 100

    def y(v: float) -> float:
        return h - bottom - (h - bottom - top) * v

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
             'font-size="11">', f'<rect width="{w}" height="{h}" fill="white"/>']
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{y(v)}" y2="{y(v)}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4}" text-anchor="end">{v:.2f}</text>')
    for r in rows:
        parts.append(f'<text x="{x(r["pct"])}" y="{h - bottom + 16}" text-anchor="middle">{int(r["pct"])} %</text>')
    parts.append(f'<text x="{(left + w - right) / 2}" y="{h - 6}" text-anchor="middle">share of damaged_parts '
                 'train added (the insurer\'s claims)</text>')
    for k, (key, colour) in enumerate(zip(keys, colours, strict=False)):
        pts = " ".join(f"{x(r['pct']):.1f},{y(r[key]):.1f}" for r in rows if not np.isnan(r[key]))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for r in rows:
            if not np.isnan(r[key]):
                parts.append(f'<circle cx="{x(r["pct"]):.1f}" cy="{y(r[key]):.1f}" r="3" fill="{colour}"/>')
        parts.append(f'<rect x="{w - right + 10}" y="{top + 18 * k}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{w - right + 26}" y="{top + 9 + 18 * k}">{key}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        handlers=[logging.FileHandler(args.out / "learning-curve.log"), logging.StreamHandler()])
    base_classmap = classmap_of(args.out, keep_insurer=False)
    rows = []
    for pct in (int(a) for a in args.arms.split(",")):
        arm_dir = args.out / f"arm-{pct}"
        arm_dir.mkdir(exist_ok=True)
        done = arm_dir / "figures.json"
        if not done.exists():
            onnx = train_arm(args, pct, base_classmap, arm_dir)
            done.write_text(json.dumps(evaluate_arm(onnx, args.data_root, args.threads) | json.loads(
                (arm_dir / "train.json").read_text()), indent=1))
        figures = json.loads(done.read_text())
        rows.append({"pct": float(pct), **figures})
        log.info("arm %d %%: %s", pct, figures)
    rows.sort(key=lambda r: r["pct"])
    from training.damage.retrain import git_commit

    commit = git_commit()
    keys = ["damaged-part recall with the right kind @IoU 0.5", "same, any score (top-30 candidates)",
            "part box AP @IoU 0.5", "part precision @IoU 0.5 (score >= 0.3)"]
    lines = [SECTION, "", f"date: {datetime.now(UTC):%Y-%m-%d} · commit: {commit} · `make learning-curve` "
             f"(training/damage/learning_curve.py) · {args.steps} steps per arm from the ImageNet backbone, "
             f"{args.threads} CPU thread(s) · evaluated on damaged_parts valid without its leaked photos "
             f"({int(rows[0]['valid photos'])} photos, {int(rows[0]['valid part boxes'])} part boxes) · plot: "
             "[learning-curve.svg](learning-curve.svg)", "",
             "| damaged_parts train added | photos | " + " | ".join(keys) + " | steps | minutes |",
             "|---|---|" + "---|" * len(keys) + "---|---|"]
    for r in rows:
        lines.append(f"| {int(r['pct'])} % | {int(r['photos'])} | " + " | ".join(f"{r[k]:.3f}" for k in keys)
                     + f" | {int(r['steps'])} | {r['minutes']:.0f} |")
    if str(args.reference) not in ("", "."):
        cached = args.out / "reference.json"
        if not cached.exists():
            cached.write_text(json.dumps(evaluate_arm(args.reference, args.data_root, args.threads)))
        ref = json.loads(cached.read_text())
        shown = args.reference.relative_to(REPO) if args.reference.is_relative_to(REPO) else args.reference
        lines.append(f"| for scale: `{shown}`"
                     " (100 %, fully trained: the 4-CPU-epoch one-channel start + 8 epochs, docs/models.md) | 3399 | "
                     + " | ".join(f"{ref[k]:.3f}" for k in keys) + " | 3392+ | hours |")
    text = "\n".join(lines) + "\n"
    print(text)
    from training.damage.evaluate import write_section

    write_section(args.benchmarks, text, SECTION)
    args.plot.write_text(svg(rows, keys))


if __name__ == "__main__":
    main()
