"""A photo's damage verdict from three models: the damage detector, the photo-level damage gate, the car gate.

The detector alone reported damage on most photos of clean cars (it was never shown one) and on cars in the
background. Two image-level facts now decide whether its boxes are reported at all:

1. **damage gate** (`picloss/engines/damage/gate.py`): the probability that the photo shows any damage; below the
   threshold nothing is reported (the photo gets 3001);
2. **car gate** (`picloss/engines/damage/vehicles.py`): the vehicles in the photo. When there is one, only damage on
   the vehicle of interest (largest, most central) is reported; damage on a car in the background is not.
   When there is none (or only one smaller than 10 % of the photo), the photo is a close-up of a panel or no
   car at all: its damage is reported only when
   the damaged-part channel saw a damaged part or the damage gate passed; otherwise it gets 3001.

3. **verifier** (`picloss/engines/damage/verifier.py`): every damage past the gates is verified on its crop; only those
   whose existence confidence reaches the operating point (DAMAGE_MIN_CONFIDENCE) are reported.

The gates and the verifier are optional (a deployment without their models gets the detector's own verdict, as
before); the servicer and `make eval-damage` call the same `decide` and `verified` so both see the same rules.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

import numpy as np

from picloss.engines.damage import pose
from picloss.engines.damage.assessment import Assessment
from picloss.engines.damage.detector import DamageDetector, Detection, PhotoDetections
from picloss.engines.damage.gate import damage_probability
from picloss.engines.damage.vehicles import Vehicle, find_vehicles, vehicle_of_interest
from picloss.engines.damage.verifier import DEFAULT_MIN_CONFIDENCE, confirmed, verifier_probabilities, with_existence
from picloss.engines.models import damage_detector, damage_gate
from picloss.platform.imaging import DEFAULT_MAX_PIXELS, DecodedImage, decode_image
from picloss.platform.inference import ModelRunner

VEHICLE_MARGIN = 0.05  # a damage centre this share of the vehicle box outside it still lies on the vehicle
# A vehicle of interest smaller than this share of the photo is a car in the background of a close-up, not the
# photo's subject: the photo is treated as a close-up (docs/car-detector.md: on close-ups a small background car
# is often the only vehicle found).
MIN_SUBJECT_SHARE = 0.10

GateFn = Callable[[list[np.ndarray]], Awaitable[list[float]]]
CarsFn = Callable[[list[np.ndarray]], Awaitable[list[list[Vehicle]]]]
SidesFn = Callable[[list[np.ndarray], list[Assessment]], Awaitable[list[Assessment]]]
VerifyFn = Callable[[np.ndarray, list[Detection]], Awaitable[list[float]]]


def decode(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """The photo at the size the damage models need: a JPEG is decoded reduced while its long side stays >= the
    detector's 640 px letterbox and its short side >= the damage gate's 320 px input (the car detector's 512 and
    the view model's 224 need less); `in_photo_pixels` maps the verdict's boxes back. Raises ImageRejected."""
    return decode_image(data, max_pixels, min_long_side=damage_detector.INPUT_SIZE,
                        min_short_side=damage_gate.INPUT_SIZE)


def in_photo_pixels(a: Assessment, photo: DecodedImage) -> Assessment:
    """The assessment of a reduced decode with its boxes in the displayed photo's pixels."""
    sx, sy = photo.scale_x, photo.scale_y
    if sx == 1.0 and sy == 1.0:
        return a
    width, height = photo.shown_width, photo.shown_height

    def box(d: Detection) -> Detection:
        x0, y0, x1, y1 = d.box
        return replace(d, box=(int(x0 * sx), int(y0 * sy), min(width, math.ceil(x1 * sx)),
                               min(height, math.ceil(y1 * sy))))

    def car(v: Vehicle) -> Vehicle:
        x0, y0, x1, y1 = v.box
        return replace(v, box=(x0 * sx, y0 * sy, x1 * sx, y1 * sy))

    vehicles = [car(v) for v in a.vehicles]
    of_interest = next((w for v, w in zip(a.vehicles, vehicles, strict=True) if v is a.of_interest), None)
    return replace(a, damages=[box(d) for d in a.damages], parts=[box(d) for d in a.parts], vehicles=vehicles,
                   of_interest=of_interest, candidates=tuple(box(d) for d in a.candidates))


def on_vehicle(box: Sequence[float], vehicle: Vehicle, margin: float = VEHICLE_MARGIN) -> bool:
    """The centre of `box` lies in the vehicle's box, grown by `margin` of its size on every side."""
    x0, y0, x1, y1 = vehicle.box
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return bool(x0 - mx <= cx <= x1 + mx and y0 - my <= cy <= y1 + my)


def decide(found: PhotoDetections, width: int, height: int, vehicles: list[Vehicle] | None,
           damage_probability: float | None, gate_threshold: float) -> Assessment:
    """Apply the gates to one photo's detections (`found.damages` are the reported ones, `found.parts` the
    damaged parts). `vehicles` None: no car gate; `damage_probability` None: no damage gate."""
    seen = vehicles or []
    target = vehicle_of_interest(seen, width, height) if seen else None
    if target is not None and target.area < MIN_SUBJECT_SHARE * width * height:
        target = None
    passed = damage_probability is None or damage_probability >= gate_threshold

    def result(damages: list[Detection], parts: list[Detection], reason: str = "") -> Assessment:
        return Assessment(damages, parts, seen, target, damage_probability, passed, reason)

    if not passed:
        return result([], [], "no_damage_gate")
    if vehicles is None:
        return result(found.damages, found.parts)
    if target is not None:
        kept = [d for d in found.damages if on_vehicle(d.box, target)]
        return result(kept, [p for p in found.parts if on_vehicle(p.box, target)],
                      "off_vehicle" if found.damages and not kept else "")
    close_up = bool(found.parts) or damage_probability is not None
    if not close_up:
        return result([], [], "no_vehicle_or_part")
    return result(found.damages, found.parts)


def verified(a: Assessment, scored: list[Detection], min_confidence: float) -> Assessment:
    """The assessment reporting only the scored damages that reach `min_confidence` (all kept as candidates)."""
    kept = confirmed(scored, min_confidence)
    reason = "not_verified" if scored and not kept else a.reason
    return replace(a, damages=kept, reason=reason, candidates=tuple(scored))


class DamageAssessor:
    """Runs the detector and the optional gates over a batch of photos and applies `decide`."""

    def __init__(self, detector: DamageDetector, *, gate: GateFn | None = None, gate_threshold: float = 0.5,
                 cars: CarsFn | None = None, sides: SidesFn | None = None, verify: VerifyFn | None = None,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> None:
        self._detector = detector
        self._verify = verify  # (photo, damages) -> the verifier's probability per damage
        self._min_confidence = min_confidence
        self._gate = gate
        self._gate_threshold = gate_threshold
        self._cars = cars
        # after the gates: sides from the vehicle of interest's pose (picloss/engines/damage/pose.py)
        self._sides = sides

    @classmethod
    def from_runners(cls, detector: DamageDetector, *, gate_runner: ModelRunner | None, gate_threshold: float,
                     car_runner: ModelRunner | None, car_threshold: float,
                     view_runner: ModelRunner | None = None, verifier_runner: ModelRunner | None = None,
                     min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> DamageAssessor:
        """The service's wiring: the gate, car and view models behind their runners (None: that step is off).
        The view model needs the car gate (it reads the pose of the vehicle of interest)."""
        async def gate_fn(photos: list[np.ndarray]) -> list[float]:
            assert gate_runner is not None
            return await damage_probability(gate_runner, photos)

        async def cars_fn(photos: list[np.ndarray]) -> list[list[Vehicle]]:
            assert car_runner is not None
            return await find_vehicles(car_runner, photos, car_threshold)

        async def sides_fn(photos: list[np.ndarray], assessments: list[Assessment]) -> list[Assessment]:
            assert view_runner is not None
            return await pose.side_assessments(view_runner, photos, assessments)

        async def verify_fn(rgb: np.ndarray, damages: list[Detection]) -> list[float]:
            assert verifier_runner is not None
            return await verifier_probabilities(verifier_runner, rgb, [d.box for d in damages])

        return cls(detector, gate=gate_fn if gate_runner else None, gate_threshold=gate_threshold,
                   cars=cars_fn if car_runner else None,
                   sides=sides_fn if view_runner is not None and car_runner is not None else None,
                   verify=verify_fn if verifier_runner is not None else None, min_confidence=min_confidence)

    async def _verified(self, rgb: np.ndarray, a: Assessment) -> Assessment:
        if self._verify is None or not a.damages:
            return a
        scored = with_existence(a.damages, await self._verify(rgb, a.damages), a.damage_probability)
        return verified(a, scored, self._min_confidence)

    async def assess(self, photos: list[np.ndarray]) -> list[Assessment]:
        if not photos:
            return []
        found = await self._detector.detect(photos)
        probs: list[float | None] = list(await self._gate(photos)) if self._gate else [None] * len(photos)
        vehicles: list[list[Vehicle] | None] = (
            list(await self._cars(photos)) if self._cars else [None] * len(photos))
        results = [decide(f, rgb.shape[1], rgb.shape[0], v, p, self._gate_threshold)
                   for f, rgb, v, p in zip(found, photos, vehicles, probs, strict=True)]
        results = [await self._verified(rgb, a) for rgb, a in zip(photos, results, strict=True)]
        return await self._sides(photos, results) if self._sides else results
