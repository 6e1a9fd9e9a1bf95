"""Retrain the damage detector on an insurer's own labels (issue 24, item 3): `make retrain DATA=labels/`.

    python -m training.damage.retrain --data labels/ [--out training/runs/retrain] [--device cuda]
        [--steps 600] [--max-minutes 60] [--no-base] [--resume]

1. Reads the labels folder (training/damage/insurer.py: a COCO file of `picloss labels` or the review page, and its
   photos) and keeps the claims of the held-out split out of training (chosen by claim; `make compare-models`
   evaluates on exactly those).
2. Warm-starts from the detector **in service** (`models/damage_detector/<serving version>/model.onnx`, recovered
   into a trainable network by training/damage/recover.py; BatchNorm kept frozen, its statistics are folded).
3. Trains on the insurer's photos (their own stream: `--insurer-share` of each batch) plus the public base data of
   `training/damage/classmap.yaml` and the clean-car negatives (`--no-base`: the insurer's photos only); photos the
   adjuster left without a box join the negatives. CPU by default, `--device cuda` on a GPU; a checkpoint every
   `--save-every` steps (`--resume` continues it).
4. Writes the candidate: `OUT/candidate/model.onnx`, `candidate.json` (parent version, data, counts, steps) and
   `MODEL_CARD.md`; `make compare-models CANDIDATE=OUT/candidate` then says whether it is better.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from picloss.engines.models.damage_detector import DAMAGE_DETECTOR
from picloss.platform.inference.runner import DEFAULT_MODELS_DIR
from picloss.platform.inference.versions import serving_version
from training.damage import insurer
from training.damage.datasets import DEFAULT_DATA_ROOT, ClassMap

HERE = Path(__file__).resolve().parent
log = logging.getLogger("retrain")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="labels folder (labels.json + photos) or COCO file")
    p.add_argument("--photos", type=Path, default=None, help="photos folder when not beside the labels")
    p.add_argument("--out", type=Path, default=Path("training/runs/retrain"))
    p.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR, help="the repository the parent serves from")
    p.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT, help="public base data (../shared/datasets)")
    p.add_argument("--classmap", type=Path, default=HERE / "classmap.yaml")
    p.add_argument("--no-base", action="store_true", help="the insurer's photos only, no public base data")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=600, help="training steps in all (CPU: about 10 s each)")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop with a checkpoint after this; 0 = none")
    p.add_argument("--batch-size", type=int, default=8, help="base photos per batch (damage windows + parts)")
    p.add_argument("--insurer-share", type=int, default=4, help="insurer photos per batch")
    p.add_argument("--negatives", type=int, default=2, help="negatives per batch (clean cars, no-damage photos)")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=25)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--held-out-share", type=float, default=insurer.HELD_OUT_SHARE)
    return p.parse_args(argv)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=HERE).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def model_card(meta: dict) -> str:  # type: ignore[type-arg]
    d, t = meta["data"], meta["training"]
    return f"""# damage_detector candidate (retrained on an insurer's labels)

Written by `training/damage/retrain.py` on {meta['created']} (picloss {meta['commit']}). Not in service until
`make promote-model CANDIDATE=...` makes it the next numbered version of `models/damage_detector/`.

- **Parent**: `damage_detector` version {meta['parent']['version']} (sha256 {meta['parent']['sha256'][:16]}…), the
  version in service when the retrain started; warm start from its weights (recovered from the ONNX file).
- **Insurer data**: `{d['labels']}` (sha256 {d['labels_sha256'][:16]}…): {d['photos']} photos of {d['claims']} claims,
  {d['boxes']} boxes. Held out by claim (never trained on; `make compare-models` evaluates there):
  {d['held_out_photos']} photos of {d['held_out_claims']} claims. Trained on: {d['train_photos']} photos
  ({d['train_boxes']} boxes, {d['train_no_damage']} confirmed without damage, used as negatives).
- **Public base data**: {', '.join(t['base']) or 'none (--no-base)'}.
- **Training**: {t['steps']} steps on {t['device']} ({t['minutes']:.1f} min), lr {t['lr']}, batch: {t['batch']} base +
  {t['insurer_share']} insurer + {t['negatives']} negatives; BatchNorm frozen.
- **Figures**: the candidate is judged against the model in service by `make compare-models` on the held-out claims
  (bootstrap confidence intervals by claim); that table, not this card, decides a promotion.
"""


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    import torch

    from training.damage import train
    from training.damage.export import export_onnx
    from training.damage.model import DamageNet
    from training.damage.recover import check, recover

    photos = insurer.load(args.data, args.photos)
    train_photos, held = insurer.split(photos, args.held_out_share)
    if not any(p.labels.boxes for p in train_photos):
        raise SystemExit(f"{args.data}: no photo with a damage box outside the held-out claims: nothing to train on")
    classmap = ClassMap.load(args.classmap)
    samples = [insurer.to_sample(p, classmap.heads) for p in train_photos]
    extra = train.ExtraPhotos([s for s in samples if len(s.boxes)], args.insurer_share,
                              [s for s in samples if not len(s.boxes)])

    version = serving_version(args.models_dir, DAMAGE_DETECTOR.name)
    parent_onnx = args.models_dir / DAMAGE_DETECTOR.name / version / "model.onnx"
    recovered = args.out / "recovered.pt"
    ckpt_dir = args.out / "ckpt"
    labels_path = insurer.labels_file(args.data)
    run_key = {"labels_sha256": sha256(labels_path), "parent_sha256": sha256(parent_onnx), "no_base": args.no_base}
    key_file = ckpt_dir / "run.json"
    if args.resume and (ckpt_dir / "last.pt").exists():
        before = json.loads(key_file.read_text()) if key_file.exists() else {}
        if before != run_key:  # never continue a run on other labels or from another parent
            raise SystemExit(f"{ckpt_dir} holds a run on other labels or another parent model; use another --out "
                             "(make retrain RETRAIN_OUT=...) or delete it")
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    key_file.write_text(json.dumps(run_key) + "\n")
    if not (args.resume and (ckpt_dir / "last.pt").exists()):
        net = recover(parent_onnx)
        diff = check(net, parent_onnx)
        if diff > 1e-2:
            raise SystemExit(f"the recovered parent differs from {parent_onnx} by {diff:.2e}")
        torch.save({"model": net.state_dict(), "recovered_from": str(parent_onnx)}, recovered)
        log.info("parent damage_detector/%s recovered (max |torch - onnx| %.1e)", version, diff)

    start = time.monotonic()
    train.main([
        "--classmap", str(args.classmap), "--data-root", str(args.data_root), "--out", str(ckpt_dir),
        "--epochs", "1000", "--max-steps", str(args.steps), "--max-minutes", str(args.max_minutes),
        "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--device", args.device,
        "--threads", str(args.threads), "--seed", str(args.seed), "--save-every", str(args.save_every),
        "--negatives", str(args.negatives), "--init", str(recovered), "--freeze-bn",
        *(["--no-base"] if args.no_base else []), *(["--resume"] if args.resume else []),
    ], extra=extra)
    minutes = (time.monotonic() - start) / 60

    ckpt = torch.load(ckpt_dir / "last.pt", map_location="cpu", weights_only=False)
    net = DamageNet(*(len(classmap.heads[h]) for h in ("damage_type", "severity", "part_kind")), pretrained=False)
    net.load_state_dict(ckpt["model"])
    candidate = args.out / "candidate"
    size, diff = export_onnx(net, candidate / "model.onnx")
    meta = {
        "model": DAMAGE_DETECTOR.name,
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "parent": {"version": version, "sha256": sha256(parent_onnx)},
        "sha256": sha256(candidate / "model.onnx"),
        "data": {
            "labels": str(labels_path), "labels_sha256": run_key["labels_sha256"],
            "photos": len(photos), "claims": len({p.claim for p in photos}),
            "boxes": sum(len(p.labels.boxes) for p in photos),
            "held_out_share": args.held_out_share, "held_out_photos": len(held),
            "held_out_claims": len({p.claim for p in held}),
            "train_photos": len(train_photos), "train_boxes": sum(len(p.labels.boxes) for p in train_photos),
            "train_no_damage": len(extra.negatives),
        },
        "training": {
            "steps": int(ckpt["step"]), "device": args.device, "minutes": minutes, "lr": args.lr,
            "batch": args.batch_size, "insurer_share": args.insurer_share, "negatives": args.negatives,
            "base": [] if args.no_base else [d["name"] for d in classmap.datasets] + ["clean_cars"],
        },
        "onnx": {"bytes": size, "max_abs_diff_vs_torch": diff},
    }
    (candidate / "candidate.json").write_text(json.dumps(meta, indent=1) + "\n")
    (candidate / "MODEL_CARD.md").write_text(model_card(meta))
    print(f"candidate {candidate}: {meta['training']['steps']} steps from damage_detector/{version}, "
          f"{meta['data']['train_photos']} insurer photos trained on, {len(held)} held out; "
          f"next: make compare-models CANDIDATE={candidate}")
    return candidate


if __name__ == "__main__":
    main()
