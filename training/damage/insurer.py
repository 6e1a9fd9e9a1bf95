"""An insurer's own labels (issue 24): reading them, the held-out split by claim, and the service's figures on them.

A labels folder (`DATA`) is what `picloss labels export|import` or the review page writes: one COCO file whose
categories are the protocol's component ids 1-40 (`picloss/client/sdk/labels.py`; `labels.json`, or the only `*.json` of
the folder; or DATA is that file) and the photos it names, beside it or in `DATA/images/` (or `--photos DIR`), each
directly there or in a folder named after its claim (`DIR/<accept_seqno>/`).

The held-out split is chosen **by claim** (the `claim` of each COCO image, the callback's accept_seqno; a photo
without one is its own claim): a claim is held out when the SHA-256 of its id falls in the first `HELD_OUT_SHARE`
of the hash range. The rule depends on nothing but the claim id, so `make retrain` never trains on a photo that
`make compare-models` evaluates on, whichever is run first, and a claim stays on its side as labels are added.

The figures are those of the **service**: the whole damage path (detector, photo gate, car gate, verifier, sides,
operating point) over each held-out photo, its reported damages matched to the adjuster's boxes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from picloss.client.sdk.labels import PhotoLabels, from_coco
from picloss.engines.boxes import box_iou
from picloss.protocol.components import ID_TO_KIND
from training.damage.datasets import HEADS, Sample

HELD_OUT_SHARE = 0.2
SPLIT_SALT = "picloss-insurer-split-v1"
DATASET = "insurer"
IOU = 0.3  # a reported box matches a labelled one at this overlap (docs/benchmarks.md uses 0.3 and 0.5)


class LabelsError(ValueError):
    """A labels folder that cannot be trained or evaluated on (names the file and what is wrong)."""


@dataclass(frozen=True)
class LabelledPhoto:
    labels: PhotoLabels
    path: Path

    @property
    def claim(self) -> str:
        return self.labels.claim or f"photo:{self.labels.file_name}"


def held_out(claim: str, share: float = HELD_OUT_SHARE) -> bool:
    digest = hashlib.sha256(f"{SPLIT_SALT}:{claim}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def labels_file(data: Path) -> Path:
    if data.is_file():
        return data
    if (data / "labels.json").is_file():
        return data / "labels.json"
    found = sorted(data.glob("*.json"))
    if len(found) != 1:
        raise LabelsError(f"{data}: expected labels.json or exactly one *.json COCO file, found {len(found)}")
    return found[0]


def load(data: Path, photos: Path | None = None) -> list[LabelledPhoto]:
    """Every labelled photo of the folder whose photo file is present. A photo named by the labels but missing is
    an error (a label never silently dropped)."""
    path = labels_file(data)
    try:
        labelled = from_coco(json.loads(path.read_bytes()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise LabelsError(f"{path}: {exc}") from exc
    base = path.parent
    dirs = [photos] if photos is not None else [base / "images", base]
    out, missing = [], []
    for photo in labelled:
        # PHOTOS/<claim>/ first (how `picloss review` and `picloss listen --save` folders keep photos), then PHOTOS/
        places = [d / photo.claim / photo.file_name for d in dirs if photo.claim] + [d / photo.file_name for d in dirs]
        found = next((p for p in places if p.is_file()), None)
        if found is None:
            missing.append(photo.file_name)
        else:
            out.append(LabelledPhoto(photo, found))
    if missing:
        raise LabelsError(f"{path}: {len(missing)} labelled photos not found in {', '.join(map(str, dirs))} "
                          f"(first: {missing[0]})")
    if not out:
        raise LabelsError(f"{path}: no labelled photo")
    return out


def split(photos: Sequence[LabelledPhoto], share: float = HELD_OUT_SHARE) -> tuple[list[LabelledPhoto],
                                                                                   list[LabelledPhoto]]:
    """(train, held out), by claim."""
    train = [p for p in photos if not held_out(p.claim, share)]
    test = [p for p in photos if held_out(p.claim, share)]
    return train, test


def to_sample(photo: LabelledPhoto, heads: dict[str, list[str]]) -> Sample:
    """The photo as a DAMAGE-channel training sample: each box with its part kind (from the component) and its
    damage type where the detector has that type; severity is not labelled (repair/replace is not a severity)."""
    boxes = np.array([b.box for b in photo.labels.boxes], dtype=np.float32).reshape(-1, 4)
    labels = {h: np.full(len(boxes), -1, dtype=np.int64) for h in HEADS}
    for i, b in enumerate(photo.labels.boxes):
        kind = ID_TO_KIND.get(b.component_id)
        if kind in heads["part_kind"]:
            labels["part_kind"][i] = heads["part_kind"].index(kind)
        if b.damage_type in heads["damage_type"]:
            labels["damage_type"][i] = heads["damage_type"].index(b.damage_type)
    return Sample(photo.path, DATASET, boxes, labels)


# ------------------------------------------------------------------------------------------------ evaluation

@dataclass
class ClaimCounts:
    """What one claim adds to each figure (summed over its photos; the bootstrap resamples claims)."""

    boxes: int = 0  # labelled damage boxes
    found: int = 0  # of them, matched by a reported damage (IoU >= IOU)
    right_component: int = 0  # of them, the matched damage names the labelled component
    reported: int = 0  # damages the service reported
    true_reports: int = 0  # of them, matching a labelled box
    damage_photos: int = 0  # photos with at least one labelled box
    damage_photos_found: int = 0  # of them, with at least one reported damage
    clean_photos: int = 0  # photos the adjuster left without a box (no damage)
    clean_photos_flagged: int = 0  # of them, with a reported damage (a false alarm)

    def add(self, other: ClaimCounts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


# figure name -> (numerator, denominator, higher is better)
FIGURES: dict[str, tuple[str, str, bool]] = {
    "box recall @IoU 0.3": ("found", "boxes", True),
    "box precision @IoU 0.3": ("true_reports", "reported", True),
    "right component of found boxes": ("right_component", "found", True),
    "damage photos with a damage found": ("damage_photos_found", "damage_photos", True),
    "no-damage photos with a false damage": ("clean_photos_flagged", "clean_photos", False),
}


@dataclass(frozen=True)
class Reported:
    box: tuple[float, float, float, float]
    component_id: int


def photo_counts(truth: PhotoLabels, reported: Sequence[Reported]) -> ClaimCounts:
    """Greedy one-to-one matching, best overlap first."""
    c = ClaimCounts(boxes=len(truth.boxes), reported=len(reported))
    overlaps = box_iou(np.array([t.box for t in truth.boxes], dtype=np.float64).reshape(-1, 4),
                       np.array([r.box for r in reported], dtype=np.float64).reshape(-1, 4))
    pairs = sorted(((float(overlaps[i, j]), i, j) for i in range(len(truth.boxes)) for j in range(len(reported))),
                   reverse=True)
    used_t: set[int] = set()
    used_r: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < IOU or i in used_t or j in used_r:
            continue
        used_t.add(i)
        used_r.add(j)
        c.found += 1
        c.true_reports += 1
        c.right_component += int(truth.boxes[i].component_id == reported[j].component_id)
    if truth.boxes:
        c.damage_photos, c.damage_photos_found = 1, int(bool(reported))
    else:
        c.clean_photos, c.clean_photos_flagged = 1, int(bool(reported))
    return c


@dataclass
class Evaluation:
    claims: dict[str, ClaimCounts] = field(default_factory=dict)

    def total(self, keys: Sequence[str] | None = None) -> ClaimCounts:
        out = ClaimCounts()
        for k in keys if keys is not None else list(self.claims):
            out.add(self.claims[k])
        return out


def figure(counts: ClaimCounts, name: str) -> float:
    num, den, _ = FIGURES[name]
    d = getattr(counts, den)
    return getattr(counts, num) / d if d else float("nan")


ServiceFn = Callable[[list[LabelledPhoto]], list[list[Reported]]]


def service_fn(detector_onnx: Path, models_dir: Path, threads: int = 2) -> ServiceFn:
    """The damage service's verdicts with this detector file and the repository's other models (gate, cars,
    pose, verifier) at the service's defaults — what `services/damage` would report."""
    from picloss.engines.damage.assess import DamageAssessor, decode, in_photo_pixels
    from picloss.engines.damage.detector import DamageDetector
    from picloss.engines.damage.gate import DAMAGE_THRESHOLD
    from picloss.engines.damage.vehicles import DEFAULT_SCORE_THRESHOLD as CAR_THRESHOLD
    from picloss.engines.damage.verifier import CANDIDATE_THRESHOLD, DEFAULT_MIN_CONFIDENCE
    from picloss.engines.models import car_detector, damage_gate, damage_verifier, view_classifier
    from picloss.engines.models.damage_detector import DAMAGE_DETECTOR
    from picloss.platform.inference import OnnxRunner, make_runner

    def runner(spec):  # type: ignore[no-untyped-def]
        return make_runner(spec, triton_url=None, models_dir=models_dir, threads=threads)

    detector = OnnxRunner(DAMAGE_DETECTOR, models_dir, threads, path=detector_onnx)
    assessor = DamageAssessor.from_runners(
        DamageDetector(detector, CANDIDATE_THRESHOLD), gate_runner=runner(damage_gate.GATE_SPEC),
        gate_threshold=DAMAGE_THRESHOLD, car_runner=runner(car_detector.CAR_DETECTOR), car_threshold=CAR_THRESHOLD,
        view_runner=runner(view_classifier.VIEW_SPEC), verifier_runner=runner(damage_verifier.VERIFIER_SPEC),
        min_confidence=DEFAULT_MIN_CONFIDENCE)

    async def reported(photos: list[LabelledPhoto]) -> list[list[Reported]]:
        out = []
        for p in photos:  # one photo at a time, as the service's batches of one
            image = decode(p.path.read_bytes())
            [a] = await assessor.assess([image.rgb])
            shown = in_photo_pixels(a, image)
            out.append([Reported(tuple(float(v) for v in d.box), d.components[0][0] if d.components else 40)
                        for d in shown.damages])
        return out

    return lambda photos: asyncio.run(reported(photos))


def evaluate(photos: list[LabelledPhoto], run: ServiceFn) -> Evaluation:
    ev = Evaluation()
    for photo, reported in zip(photos, run(photos), strict=True):
        ev.claims.setdefault(photo.claim, ClaimCounts()).add(photo_counts(photo.labels, reported))
    return ev


def figures(ev: Evaluation) -> dict[str, float]:
    total = ev.total()
    return {name: figure(total, name) for name in FIGURES}
