"""Put a compared candidate into service as the next numbered version, or go back (issue 24, item 5).

    python -m training.damage.promote promote --candidate training/runs/retrain/candidate [--force]
    python -m training.damage.promote rollback
    python -m training.damage.promote status

`promote` copies the candidate to `models/damage_detector/<n+1>/` (model.onnx, its model card, candidate.json and
the comparison beside it) and pins Triton's version policy in `models/damage_detector/config.pbtxt` to n+1; the
in-process runner reads the same pin (picloss/platform/inference/versions.py). It refuses a candidate that was not
compared
(`make compare-models`) or that came out **worse** on any figure, unless `--force`. `rollback` pins the highest
version below the one in service (repeat it to go further back); nothing is deleted, so `promote` or a pin in the
chart's `modelVersions` can return to any version. Restart the damage service (or let Triton poll) to load it.
Every write is atomic (a new version folder appears whole; config.pbtxt is replaced, never rewritten in place).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from picloss.client.review.atomic import write_atomic
from picloss.engines.models.damage_detector import DAMAGE_DETECTOR
from picloss.platform.inference.runner import DEFAULT_MODELS_DIR
from picloss.platform.inference.versions import numbered_versions, serving_version, with_pinned_version

BESIDE = ("MODEL_CARD.md", "candidate.json", "compare.md", "compare.json")


class PromoteError(RuntimeError):
    pass


def pin(models_dir: Path, name: str, version: int) -> None:
    config = models_dir / name / "config.pbtxt"
    if not config.is_file():
        raise PromoteError(f"{config}: no model configuration")
    write_atomic(config, with_pinned_version(config.read_text(), version))


def promote(candidate: Path, models_dir: Path = DEFAULT_MODELS_DIR, name: str = DAMAGE_DETECTOR.name,
            force: bool = False) -> int:
    onnx = candidate / "model.onnx"
    if not onnx.is_file():
        raise PromoteError(f"{onnx}: no candidate model")
    compared = candidate / "compare.json"
    if not compared.is_file():
        if not force:
            raise PromoteError(f"{candidate}: not compared with the model in service; run make compare-models "
                               "first (or --force)")
    else:
        worse = [k for k, v in json.loads(compared.read_text())["figures"].items() if v["verdict"] == "worse"]
        if worse and not force:
            raise PromoteError(f"{candidate}: worse than the model in service on {', '.join(worse)} (--force "
                               "promotes it anyway)")
    present = numbered_versions(models_dir, name)
    version = (present[-1] if present else 0) + 1
    staging = Path(tempfile.mkdtemp(dir=models_dir / name, prefix=f".{version}."))
    try:
        shutil.copy2(onnx, staging / "model.onnx")
        for extra in BESIDE:
            if (candidate / extra).is_file():
                shutil.copy2(candidate / extra, staging / extra)
        os.replace(staging, models_dir / name / str(version))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pin(models_dir, name, version)
    return version


def rollback(models_dir: Path = DEFAULT_MODELS_DIR, name: str = DAMAGE_DETECTOR.name) -> tuple[int, int]:
    current = int(serving_version(models_dir, name))
    earlier = [v for v in numbered_versions(models_dir, name) if v < current]
    if not earlier:
        raise PromoteError(f"{name}: version {current} is the first one; nothing to roll back to")
    pin(models_dir, name, earlier[-1])
    return current, earlier[-1]


def status(models_dir: Path = DEFAULT_MODELS_DIR, name: str = DAMAGE_DETECTOR.name) -> str:
    serving = serving_version(models_dir, name)
    lines = []
    for v in numbered_versions(models_dir, name):
        meta = models_dir / name / str(v) / "candidate.json"
        note = ""
        if meta.is_file():
            m = json.loads(meta.read_text())
            note = f"retrained {m['created']} from v{m['parent']['version']} on {m['data']['train_photos']} photos"
        lines.append(f"{'*' if str(v) == serving else ' '} {name}/{v}  {note}".rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("promote", "rollback", "status"))
    p.add_argument("--candidate", type=Path)
    p.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    p.add_argument("--model", default=DAMAGE_DETECTOR.name)
    p.add_argument("--force", action="store_true")
    args = p.parse_args(argv)
    try:
        if args.action == "promote":
            if args.candidate is None:
                raise PromoteError("promote needs --candidate DIR")
            v = promote(args.candidate, args.models_dir, args.model, args.force)
            print(f"{args.model}/{v} promoted: config.pbtxt pins version {v}; restart the damage service to serve it")
        elif args.action == "rollback":
            old, new = rollback(args.models_dir, args.model)
            print(f"{args.model}: rolled back from version {old} to {new}; restart the damage service to serve it")
        print(status(args.models_dir, args.model))
    except PromoteError as exc:
        raise SystemExit(f"error: {exc}") from exc


if __name__ == "__main__":
    main()
