"""Candidates for the box verifier (issue 21): the detector's boxes on TRAIN photos, labelled by where they lie.

    nice -n 10 .venv/bin/python -m training.damage.verifier_data --out /tmp/picloss-verifier/candidates.jsonl

Every photo is run through the committed detector (the service's letterbox and decoding) at a low score floor;
both channels' boxes become candidates, because the service reports both (a damaged part that holds no damage is
reported as a damage of its own). Labels:

* `damage_severity` train (the damage itself is boxed): a damage-channel box with IoU >= 0.3 to a true box is
  positive, one with IoU < 0.05 whose centre lies in no true box is negative, the rest are not used;
* `damaged_parts` train (the damaged region of a part is boxed; the damage channel never trained on it): a
  part-channel box with IoU >= 0.5 to a true box is positive; any box whose centre lies outside every true box
  (grown by 10 %) and overlaps none is negative: the undamaged parts of damaged cars, in the same photos, so the
  source of a photo does not tell damage;
* `clean_cars/plates` train: every box is negative (a clean car by definition);
* `vin_plates` train (a sample): every box that does not touch the VIN plate is negative.

`clean_cars/vehicles` (train and valid) is HELD OUT: no candidate, crop, threshold or rule comes from it.

Each photo carries a group (the source photo: the file stem before `.rf.`, joined through DUPLICATES.tsv) and
a fold 0-4 of that group, so that training, the score combination and the threshold are chosen on grouped folds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import time
from pathlib import Path

import numpy as np

from picloss.engines.boxes import box_iou
from picloss.engines.damage.detector import decode
from picloss.engines.models import damage_detector as ms
from picloss.engines.models.damage_detector import letterbox, to_batch
from picloss.platform.inference import OnnxRunner
from training.damage.datasets import (
    DEFAULT_DATA_ROOT,
    ClassMap,
    dedupe_identical,
    parse_yolo_line,
    read_clean_cars,
    read_split,
)

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCORE_FLOOR = 0.05  # candidates below this never reach the verifier in the service either
FOLDS = 5
HELD_OUT_CLEAN_SUBSET = "vehicles"  # clean_cars/vehicles: the clean-car source no choice is fitted to
log = logging.getLogger("verifier_data")


def source_stem(name: str) -> str:
    """The source photo of a Roboflow export file (`abc_jpg.rf.<hash>.jpg` -> `abc_jpg`)."""
    return name.split(".rf.")[0]


class Groups:
    """Union-find over `dataset/stem`, joined by the DUPLICATES.tsv pairs between train files."""

    def __init__(self, duplicates_tsv: Path) -> None:
        self.parent: dict[str, str] = {}
        names = {"damage_severity/train": "damage_severity", "damaged_parts/train": "damaged_parts"}
        if duplicates_tsv.exists():
            for line in duplicates_tsv.read_text().splitlines():
                cols = line.split("\t")
                if line.startswith("#") or len(cols) < 4 or cols[0] not in names or cols[2] not in names:
                    continue
                self.union(f"{names[cols[0]]}/{source_stem(cols[1])}", f"{names[cols[2]]}/{source_stem(cols[3])}")

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def fold(self, dataset: str, name: str) -> int:
        root = self.find(f"{dataset}/{source_stem(name)}")
        return int(hashlib.sha256(root.encode()).hexdigest(), 16) % FOLDS


def _label(box: np.ndarray, truth: np.ndarray, pos_iou: float, grow: float = 0.0) -> int:
    """1 positive, 0 negative, -1 not used."""
    if len(truth) == 0:
        return 0
    iou = box_iou(box[None].astype(np.float64), truth.astype(np.float64))[0]
    if iou.max() >= pos_iou:
        return 1
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    w, h = truth[:, 2] - truth[:, 0], truth[:, 3] - truth[:, 1]
    inside = ((truth[:, 0] - grow * w <= cx) & (cx <= truth[:, 2] + grow * w)
              & (truth[:, 1] - grow * h <= cy) & (cy <= truth[:, 3] + grow * h))
    return 0 if iou.max() < 0.05 and not inside.any() else -1


def candidates(runner: OnnxRunner, rgb: np.ndarray) -> list[tuple[str, list[float], float]]:
    """(channel, xyxy photo pixels, detector score) of both channels above SCORE_FLOOR, after the service's NMS."""
    img, geo = letterbox(rgb)
    out = runner.infer_sync({ms.INPUT_IMAGES: to_batch([img])})
    found = decode(out, 0, geo, SCORE_FLOOR, SCORE_FLOOR)
    return ([("damage", [float(v) for v in d.box], d.score) for d in found.damages]
            + [("part", [float(v) for v in d.box], d.score) for d in found.parts])


def vin_plates(data_root: Path, limit: int, seed: int) -> list[tuple[Path, np.ndarray]]:
    root = data_root / "vin_plates" / "train"
    paths = sorted((root / "images").glob("*.jpg"))
    random.Random(seed).shuffle(paths)
    out = []
    for p in paths[:limit]:
        lines = (root / "labels" / (p.stem + ".txt")).read_text().splitlines()
        boxes = [b for b in (parse_yolo_line(line) for line in lines) if b]
        out.append((p, np.array([[x0 * 256, y0 * 256, x1 * 256, y1 * 256] for _, (x0, y0, x1, y1) in boxes],
                                dtype=np.float32).reshape(-1, 4)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/picloss-verifier/candidates.jsonl"))
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    ap.add_argument("--models-dir", type=Path, default=REPO / "models")
    ap.add_argument("--vin-photos", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from PIL import Image

    classmap = ClassMap.load(HERE / "classmap.yaml")
    groups = Groups(args.data_root / "DUPLICATES.tsv")
    runner = OnnxRunner(ms.DAMAGE_DETECTOR, args.models_dir, threads=args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done: set[str] = set()
    if args.out.exists():
        done = {json.loads(line)["path"] for line in args.out.read_text().splitlines() if line.strip()}

    jobs: list[tuple[Path, str, int, np.ndarray, np.ndarray]] = []  # path, source, fold, truth boxes, plates
    empty = np.zeros((0, 4), np.float32)
    for s in dedupe_identical(read_split(classmap, "train", args.data_root)):
        jobs.append((s.path, s.dataset, groups.fold(s.dataset, s.path.name), s.boxes, empty))
    for c in read_clean_cars("train", args.data_root):
        if c.subset != HELD_OUT_CLEAN_SUBSET:
            jobs.append((c.path, f"clean_cars/{c.subset}", groups.fold("clean", c.path.name), c.vehicles, c.plates))
    for path, plate in vin_plates(args.data_root, args.vin_photos, seed=0):
        jobs.append((path, "vin_plates", groups.fold("vin", path.name), plate, empty))

    start = time.time()
    with args.out.open("a") as fh:
        for n, (path, source, fold, truth, plates) in enumerate(jobs):
            if str(path) in done:
                continue
            with Image.open(path) as im:
                rgb = np.asarray(im.convert("RGB"))
            rows = []
            for channel, box, score in candidates(runner, rgb):
                b = np.array(box, np.float32)
                if source == "damage_severity":
                    label = _label(b, truth, 0.3) if channel == "damage" else -1
                elif source == "damaged_parts":
                    label = _label(b, truth, 0.5 if channel == "part" else 2.0, grow=0.1)
                elif source == "vin_plates":
                    label = 0 if len(truth) == 0 or box_iou(b[None].astype(np.float64),
                                                            truth.astype(np.float64))[0].max() == 0 else -1
                else:
                    label = 0
                rows.append({"channel": channel, "box": [round(v, 1) for v in box], "score": round(score, 4),
                             "label": label})
            fh.write(json.dumps({"path": str(path), "source": source, "fold": fold,
                                 "size": [int(rgb.shape[1]), int(rgb.shape[0])],
                                 "truth": truth.round(1).tolist(), "plates": plates.round(1).tolist(),
                                 "candidates": rows}) + "\n")
            if n % 200 == 0:
                log.info("%d/%d photos, %.0f s", n, len(jobs), time.time() - start)
    log.info("done: %d photos in %.0f s -> %s", len(jobs), time.time() - start, args.out)


if __name__ == "__main__":
    main()
