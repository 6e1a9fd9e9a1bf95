"""How often the damage service decides a car side, and how often it is right, on photos labelled by looking at them.

    make eval-sides            # = .venv/bin/python -m training.damage.eval_sides

The labels (training/damage/sides_labels.csv, evaluation only: never used to fit or choose anything) give, for each
damaged-part box of 266 damaged_parts/valid photos (none named in DUPLICATES.tsv, one file per byte-identical
content), the car side it lies on and whether it is on the front or rear half of the car, and each photo's pose.

The service runs as deployed (damage detector, damage gate and car gate as services/damage/__main__.py wires them,
onnxruntime, 2 threads), then:
* "cue rule": the component ids as the detector reports them (picloss/engines/damage/components.py, part cues only);
* "pose": the same after services/damage/pose.side_assessments (the view classifier on the vehicle of interest).

A reported damage is judged on the labelled box it lands on (IoU >= MATCH_IOU, or its centre inside the box; the
best IoU wins). It is **sideable** when its reported kind is a bumper, lamp, fender or door and that box's labels
tell what the id needs (bumper: front or rear; lamp, fender, door: left or right, and front or rear). **Decided**:
its id carries that side (components.side_decided). **Right**: the id's side and end are the labelled ones. A second
table applies the same rules to the labelled boxes themselves (their labelled kind and place, the service's pose
and part context): the side logic without the detector's misses.

`side_figures(reported)` computes the first table from any run's reported damages (training/damage/evaluate.py can
call it with the service's detections per file name).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from picloss.engines.damage import components as comp
from picloss.protocol.components import ID_TO_KIND

REPO = Path(__file__).resolve().parents[2]
LABELS = Path(__file__).resolve().parent / "sides_labels.csv"
DEFAULT_DATA = REPO.parent / "shared" / "datasets"
VALID = "damaged_parts/valid"
MATCH_IOU = 0.3
SIDEABLE_KINDS = ("bumper", "lamp", "fender", "door")
# component id -> (car side, end) it states; None: not stated by the id
ID_SIDES: dict[int, tuple[str | None, str | None]] = {
    1: ("left", "front"), 2: ("left", "rear"), 3: ("right", "front"), 4: ("right", "rear"), 7: (None, "rear"),
    11: ("left", "front"), 12: ("right", "front"), 13: ("left", "rear"), 14: ("right", "rear"),
    19: (None, "front"), 20: (None, "rear"),
    25: ("left", "front"), 26: ("right", "front"), 27: ("left", "rear"), 28: ("right", "rear"),
}
POSE_ORDER = ("F", "B", "FL", "FR", "BL", "BR", "SL", "SR", "X")


@dataclass(frozen=True)
class LabelledBox:
    kind: str
    box: tuple[float, float, float, float]  # normalised xyxy
    lr: str  # left, right, none, unknown
    fb: str  # front, rear, unknown


@dataclass(frozen=True)
class LabelledPhoto:
    file: str
    pose: str  # F, B, FL, FR, BL, BR, SL, SR, X (training/damage/sides_labels.csv)
    boxes: tuple[LabelledBox, ...]


def read_labels(path: Path = LABELS) -> dict[str, LabelledPhoto]:
    rows = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    by_file: dict[str, tuple[str, list[LabelledBox]]] = {}
    for r in csv.DictReader(rows):
        box = LabelledBox(r["kind"], tuple(float(r[k]) for k in ("x0", "y0", "x1", "y1")),  # type: ignore[arg-type]
                          r["lr"], r["fb"])
        by_file.setdefault(r["file"], (r["pose"], []))[1].append(box)
    return {f: LabelledPhoto(f, pose, tuple(boxes)) for f, (pose, boxes) in by_file.items()}


def held_out(labels: Mapping[str, LabelledPhoto], data: Path) -> list[str]:
    """The labelled files that may be evaluated: in damaged_parts/valid, not named in DUPLICATES.tsv, the first of
    byte-identical copies. (The CSV was made that way; this is checked again on every run.)"""
    listed: set[tuple[str, str]] = set()
    for line in (data / "DUPLICATES.tsv").read_text().splitlines():
        cols = line.split("\t")
        if line.startswith("#") or len(cols) < 4 or cols[0] == "split_a":
            continue
        listed |= {(cols[0], cols[1]), (cols[2], cols[3])}
    seen: set[str] = set()
    keep = []
    for f in sorted(labels):
        path = data / VALID / "images" / f
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if (VALID, f) in listed or digest in seen:
            continue
        seen.add(digest)
        keep.append(f)
    return keep


# ---------------------------------------------------------------- judging

def needs(kind: str) -> tuple[bool, bool]:
    """(needs a car side, needs an end) for a sided id of this kind."""
    return (kind != "bumper", True)


def truth_known(kind: str, box: LabelledBox) -> bool:
    need_lr, need_fb = needs(kind)
    return (not need_lr or box.lr in ("left", "right")) and (not need_fb or box.fb in ("front", "rear"))


def is_right(component: int, box: LabelledBox) -> bool:
    lr, fb = ID_SIDES[component]
    return (lr is None or lr == box.lr) and (fb is None or fb == box.fb)


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(box: Sequence[float], width: int, height: int, labelled: Sequence[LabelledBox]) -> LabelledBox | None:
    """The labelled box a reported box (photo pixels) lands on: IoU >= MATCH_IOU or its centre inside; best IoU."""
    norm = (box[0] / width, box[1] / height, box[2] / width, box[3] / height)
    cx, cy = (norm[0] + norm[2]) / 2, (norm[1] + norm[3]) / 2
    best, best_iou = None, -1.0
    for lab in labelled:
        iou = _iou(norm, lab.box)
        inside = lab.box[0] <= cx <= lab.box[2] and lab.box[1] <= cy <= lab.box[3]
        if (iou >= MATCH_IOU or inside) and iou > best_iou:
            best, best_iou = lab, iou
    return best


@dataclass(frozen=True)
class Reported:
    """One reported damage, as the figures need it: its primary component id and its box in photo pixels."""

    component: int
    box: tuple[float, float, float, float]


def judge(component: int, truth: LabelledBox | None) -> str | None:
    """'right', 'wrong' or 'undecided' for a sideable damage; None when not sideable."""
    kind = ID_TO_KIND.get(component)
    if kind not in SIDEABLE_KINDS or truth is None or not truth_known(kind, truth):  # type: ignore[arg-type]
        return None
    if not comp.side_decided(component):
        return "undecided"
    return "right" if is_right(component, truth) else "wrong"


def tally(verdicts: Sequence[tuple[str, str]]) -> dict[str, float]:
    """(pose, verdict) pairs -> the figures, overall and per labelled pose."""
    out: dict[str, float] = {}
    groups: dict[str, Counter[str]] = {"all": Counter()}
    for pose_code, v in verdicts:
        groups["all"][v] += 1
        groups.setdefault(pose_code, Counter())[v] += 1
    for name in ["all", *[p for p in POSE_ORDER if p in groups]]:
        c = groups[name]
        n, decided = sum(c.values()), c["right"] + c["wrong"]
        suffix = "" if name == "all" else f" [{name}]"
        out[f"sideable damages{suffix}"] = n
        out[f"side decided share{suffix}"] = decided / n if n else float("nan")
        out[f"side right share of decided{suffix}"] = c["right"] / decided if decided else float("nan")
    return out


def side_figures(reported: Mapping[str, Sequence[Reported]], sizes: Mapping[str, tuple[int, int]],
                 labels: Mapping[str, LabelledPhoto] | None = None) -> dict[str, float]:
    """Sideable damages, share with a side decided, share right among decided (overall and per labelled pose).

    `reported`: file name -> the damages the service reported on it (primary component id and box in photo
    pixels); `sizes`: file name -> (width, height). Files without labels are ignored."""
    labels = read_labels() if labels is None else labels
    verdicts = []
    for f, damages in reported.items():
        if f not in labels:
            continue
        w, h = sizes[f]
        for d in damages:
            v = judge(d.component, match(d.box, w, h, labels[f].boxes))
            if v is not None:
                verdicts.append((labels[f].pose, v))
    return tally(verdicts)


def oracle_figures(contexts: Mapping[str, tuple[int, int, list[comp.PartSighting], comp.CarView | None]],
                   labels: Mapping[str, LabelledPhoto], use_pose: bool) -> dict[str, float]:
    """The side rules applied to the labelled boxes themselves (labelled kind and centre), with the service's part
    context and, when `use_pose`, its car view."""
    verdicts = []
    for f, (w, _h, sightings, car) in contexts.items():
        for lab in labels[f].boxes:
            if lab.kind not in SIDEABLE_KINDS or not truth_known(lab.kind, lab):
                continue
            cx = (lab.box[0] + lab.box[2]) / 2 * w
            cid = comp.component_id(lab.kind, 1.0, cx, w, sightings)
            if use_pose:
                cid = comp.refine_component(cid, cx, car)
            v = judge(cid, lab)
            if v is not None:
                verdicts.append((labels[f].pose, v))
    return tally(verdicts)


# ---------------------------------------------------------------- running the service

def run_service(files: Sequence[str], data: Path, models: Path, threads: int = 2) -> dict[str, dict[str, object]]:
    """Per file: the detector's reported damages after the gates (cue rule), the same after the pose step, the
    part context, the car view and the photo size. Everything through the service's own classes."""
    from picloss.engines.damage import gate as gate_mod
    from picloss.engines.damage import pose
    from picloss.engines.damage import vehicles as veh
    from picloss.engines.damage.assess import DamageAssessor
    from picloss.engines.damage.detector import DEFAULT_SCORE_THRESHOLD, DamageDetector
    from picloss.engines.models import car_detector, damage_gate, view_classifier
    from picloss.engines.models.damage_detector import DAMAGE_DETECTOR
    from picloss.platform.inference import OnnxRunner

    detector = DamageDetector(OnnxRunner(DAMAGE_DETECTOR, models, threads=threads), DEFAULT_SCORE_THRESHOLD)
    assessor = DamageAssessor.from_runners(
        detector, gate_runner=OnnxRunner(damage_gate.GATE_SPEC, models, threads=threads),
        gate_threshold=gate_mod.DAMAGE_THRESHOLD,
        car_runner=OnnxRunner(car_detector.CAR_DETECTOR, models, threads=threads),
        car_threshold=veh.DEFAULT_SCORE_THRESHOLD)
    view_runner = OnnxRunner(view_classifier.VIEW_SPEC, models, threads=threads)
    out: dict[str, dict[str, object]] = {}
    for f in files:
        with Image.open(data / VALID / "images" / f) as im:
            rgb = np.asarray(im.convert("RGB"))
        h, w = rgb.shape[:2]
        assessed = asyncio.run(assessor.assess([rgb]))
        sided = asyncio.run(pose.side_assessments(view_runner, [rgb], assessed))[0]
        a = assessed[0]
        car = None
        if a.of_interest is not None:
            probs = asyncio.run(pose.pose_probabilities(view_runner, [rgb], [a.of_interest.box]))[0]
            car = pose.decide_view(probs, a.of_interest.box, w)
        sightings = [comp.PartSighting(d.part_kind, d.score, (d.box[0] + d.box[2]) / 2)
                     for d in a.parts if d.part_kind is not None]
        out[f] = {
            "size": (w, h),
            "cue": [Reported(d.components[0][0], tuple(map(float, d.box))) for d in a.damages],
            "pose": [Reported(d.components[0][0], tuple(map(float, d.box))) for d in sided.damages],
            "context": (w, h, sightings, car),
            "car": car,
        }
    return out


def _print(title: str, figures: Mapping[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    names = list(figures)
    rows = list(next(iter(figures.values())))
    print("| figure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for r in rows:
        vals = []
        for n in names:
            v = figures[n].get(r, float("nan"))
            vals.append(f"{int(v)}" if r.startswith("sideable") else f"{v:.3f}")
        print(f"| {r} | " + " | ".join(vals) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--models", type=Path, default=REPO / "models")
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    labels = read_labels(args.labels)
    files = held_out(labels, args.data)
    known = sum(truth_known(b.kind, b) for f in files for b in labels[f].boxes if b.kind in SIDEABLE_KINDS)
    print(f"{len(files)} labelled photos, {sum(len(labels[f].boxes) for f in files)} boxes, {known} sideable boxes "
          f"with a known side (poses: {dict(Counter(labels[f].pose for f in files))})")
    run = run_service(files, args.data, args.models, args.threads)
    sizes = {f: r["size"] for f, r in run.items()}
    _print("Reported damages (the service, matched to the labelled boxes)", {
        "cue rule (before)": side_figures({f: r["cue"] for f, r in run.items()}, sizes, labels),  # type: ignore[misc]
        "pose (now)": side_figures({f: r["pose"] for f, r in run.items()}, sizes, labels),  # type: ignore[misc]
    })
    contexts = {f: r["context"] for f, r in run.items()}
    _print("Labelled boxes (labelled kind and place; the service's part context and pose)", {
        "cue rule (before)": oracle_figures(contexts, labels, use_pose=False),  # type: ignore[arg-type]
        "pose (now)": oracle_figures(contexts, labels, use_pose=True),  # type: ignore[arg-type]
    })
    cars = [r["car"] for r in run.values()]
    with_car = [c for c in cars if c is not None]
    print(f"\nvehicle of interest found on {len(with_car)}/{len(cars)} photos; of those, end decided on "
          f"{sum(c.end is not comp.View.UNKNOWN for c in with_car)} and nose direction on "  # type: ignore[union-attr]
          f"{sum(c.nose is not None for c in with_car)}")  # type: ignore[union-attr]
    agree = Counter()
    for f, r in run.items():
        car = r["car"]
        if car is None:
            continue
        truth = labels[f].pose
        if truth == "X":
            continue
        end_truth = "front" if truth.startswith("F") else "rear" if truth.startswith("B") else None
        nose_truth = {"L": comp.Nose.LEFT, "R": comp.Nose.RIGHT}.get(truth[-1], comp.Nose.STRAIGHT)
        if car.end is not comp.View.UNKNOWN and end_truth is not None:  # type: ignore[union-attr]
            agree["end decided"] += 1
            agree["end right"] += car.end.value == end_truth  # type: ignore[union-attr]
        if car.nose is not None:  # type: ignore[union-attr]
            agree["nose decided"] += 1
            agree["nose right"] += car.nose is nose_truth  # type: ignore[union-attr]
    print(f"pose against the labelled pose (photos with one): end right {agree['end right']}/{agree['end decided']}, "
          f"nose direction right {agree['nose right']}/{agree['nose decided']}")


if __name__ == "__main__":
    main()
