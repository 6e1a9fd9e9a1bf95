"""The pose of the vehicle of interest (which end the photo shows, which way its nose points) and the sides it gives.

The model (models/view_classifier; its contract, tensor names, POSES and the vehicle crop, in
picloss/engines/models/view_classifier.py) returns the probabilities of POSES for the vehicle's crop, averaged with
those of
the mirrored crop (classes swapped accordingly), so that a mirrored photo gets exactly the mirrored pose.

The pose is used only for a vehicle of interest (picloss/engines/damage/assess.py); close-ups without one keep the
part-cue rule of picloss/engines/damage/components.py. How a pose decides a side: `components.posed_component`,
docs/sides.md.

Wiring (one call after `assess.decide`): `await side_assessments(view_runner, photos, assessments)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from picloss.engines.damage import components as comp
from picloss.engines.damage.assessment import Assessment
from picloss.engines.damage.detector import Detection
from picloss.engines.models.view_classifier import INPUT_IMAGES, MAX_BATCH_SIZE, OUTPUT_POSE_PROBS, POSES, to_input
from picloss.platform.inference import ModelRunner

# Chosen on out-of-fold predictions of the TRAIN photos only (training/damage/view_classifier.py): the lowest
# probabilities at which the decided end and nose direction were right on >= 95 % of those crops. Recorded with
# the model in models/view_classifier/view.json (a unit test checks they agree).
END_THRESHOLD = 0.91
NOSE_THRESHOLD = 0.92


def decide_view(probs: Sequence[float] | np.ndarray, box: Sequence[float], photo_width: int,
                end_threshold: float = END_THRESHOLD, nose_threshold: float = NOSE_THRESHOLD) -> comp.CarView:
    """The decided pose: an end when its classes together reach `end_threshold`, a nose direction (or end-on)
    when its classes together reach `nose_threshold`; otherwise undecided."""
    p = dict(zip(POSES, (float(v) for v in probs), strict=True))
    front = p["front"] + p["front_left"] + p["front_right"]
    rear = p["rear"] + p["rear_left"] + p["rear_right"]
    end = comp.View.FRONT if front >= end_threshold else comp.View.REAR if rear >= end_threshold else comp.View.UNKNOWN
    left, right = p["front_left"] + p["rear_left"], p["front_right"] + p["rear_right"]
    straight = p["front"] + p["rear"]
    nose = None
    for value, direction in ((left, comp.Nose.LEFT), (right, comp.Nose.RIGHT), (straight, comp.Nose.STRAIGHT)):
        if value >= nose_threshold:
            nose = direction
    x0, y0, x1, y1 = (float(v) for v in box)
    return comp.CarView(end=end, nose=nose, box=(x0, y0, x1, y1), photo_width=photo_width)


async def pose_probabilities(runner: ModelRunner, rgbs: list[np.ndarray],
                             boxes: list[Sequence[float] | None]) -> list[np.ndarray]:
    """POSES probabilities per (photo, vehicle box), in the order given (batches of at most MAX_BATCH_SIZE)."""
    out: list[np.ndarray] = []
    for start in range(0, len(rgbs), MAX_BATCH_SIZE):
        batch = np.stack([to_input(rgb, box) for rgb, box in
                          zip(rgbs[start:start + MAX_BATCH_SIZE], boxes[start:start + MAX_BATCH_SIZE], strict=True)])
        probs = np.asarray((await runner.infer({INPUT_IMAGES: batch}))[OUTPUT_POSE_PROBS], np.float64)
        out.extend(probs.reshape(len(batch), len(POSES)))
    return out


def side_detections(detections: Sequence[Detection], car: comp.CarView | None) -> list[Detection]:
    """Every component of every detection refined by the car's pose (components.refine_component)."""
    if car is None:
        return list(detections)
    sided = []
    for d in detections:
        cx = (d.box[0] + d.box[2]) / 2
        seen: list[tuple[int, int]] = []
        for cid, score in d.components:
            new = comp.refine_component(cid, cx, car)
            if all(new != other for other, _ in seen):
                seen.append((new, score))
        sided.append(replace(d, components=tuple(seen)))
    return sided


def side_assessment(assessment: Assessment, probs: Sequence[float] | np.ndarray | None, photo_width: int
                    ) -> Assessment:
    """One photo's assessment with the sides its vehicle of interest's pose gives (unchanged without one)."""
    target = assessment.of_interest
    if target is None or probs is None:
        return assessment
    car = decide_view(probs, target.box, photo_width)
    return replace(assessment, damages=side_detections(assessment.damages, car),
                   parts=side_detections(assessment.parts, car))


def wants_pose(assessment: Assessment) -> bool:
    """The pose is read only where it can change a verdict: a vehicle of interest holding reported damage."""
    return assessment.of_interest is not None and bool(assessment.damages or assessment.parts)


async def side_assessments(runner: ModelRunner, photos: list[np.ndarray],
                           assessments: list[Assessment]) -> list[Assessment]:
    """The service's step after the gates: the pose of each photo's vehicle of interest, then its sides."""
    todo = [n for n, a in enumerate(assessments) if wants_pose(a)]
    probs: dict[int, np.ndarray] = {}
    if todo:
        found = await pose_probabilities(runner, [photos[n] for n in todo],
                                         [assessments[n].of_interest.box for n in todo])  # type: ignore[union-attr]
        probs = dict(zip(todo, found, strict=True))
    return [side_assessment(a, probs.get(n), photos[n].shape[1]) for n, a in enumerate(assessments)]
