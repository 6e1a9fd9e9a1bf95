"""The damage and car gates applied to the detector's boxes (picloss/engines/damage/assess.py), issue 11 parts 2 and
3."""

from __future__ import annotations

import numpy as np
import pytest

from picloss.engines.damage.assess import DamageAssessor, decide, on_vehicle
from picloss.engines.damage.detector import Detection, PhotoDetections
from picloss.engines.damage.vehicles import Vehicle

W, H = 640, 480
FRONT_CAR = Vehicle((100.0, 100.0, 540.0, 440.0), "car", 0.8)
BACKGROUND_CAR = Vehicle((560.0, 40.0, 630.0, 90.0), "car", 0.7)


def det(box: tuple[int, int, int, int], score: float = 0.6) -> Detection:
    return Detection(box=box, score=score, damage_type="scratch", damage_type_score=80, part_kind="door",
                     components=((5, 80),), degree_id=0, degree_score=70, type_probs=(0.8, 0.1, 0.1),
                     severity_probs=(0.7, 0.2, 0.1), part_probs=(0, 0, 0, 1, 0, 0, 0))


ON_FRONT = det((300, 300, 320, 320))
ON_BACKGROUND = det((590, 50, 600, 60))
PART = det((250, 250, 400, 400))


def found(damages: list[Detection], parts: list[Detection] | None = None) -> PhotoDetections:
    return PhotoDetections(damages, parts or [], frozenset())


def test_gate_below_threshold_withholds_every_box() -> None:
    a = decide(found([ON_FRONT], [PART]), W, H, [FRONT_CAR], damage_probability=0.2, gate_threshold=0.5)
    assert a.damages == [] and a.parts == [] and not a.gate_passed and a.reason == "no_damage_gate"
    assert a.of_interest == FRONT_CAR  # the vehicle is still reported (the orchestrator routes on it)


def test_only_damage_on_the_vehicle_of_interest_is_reported() -> None:
    a = decide(found([ON_FRONT, ON_BACKGROUND]), W, H, [BACKGROUND_CAR, FRONT_CAR], 0.9, 0.5)
    assert a.damages == [ON_FRONT] and a.of_interest == FRONT_CAR and a.gate_passed


def test_damage_only_on_a_background_car_is_withheld_with_a_reason() -> None:
    a = decide(found([ON_BACKGROUND]), W, H, [BACKGROUND_CAR, FRONT_CAR], 0.9, 0.5)
    assert a.damages == [] and a.reason == "off_vehicle"


def test_no_vehicle_and_no_part_and_no_gate_gives_no_damage() -> None:
    a = decide(found([ON_FRONT]), W, H, [], damage_probability=None, gate_threshold=0.5)
    assert a.damages == [] and a.reason == "no_vehicle_or_part"


def test_close_up_without_a_vehicle_keeps_its_damage_when_a_damaged_part_is_seen() -> None:
    a = decide(found([ON_FRONT], [PART]), W, H, [], damage_probability=None, gate_threshold=0.5)
    assert a.damages == [ON_FRONT] and a.parts == [PART]


def test_close_up_without_a_vehicle_keeps_its_damage_past_the_gate() -> None:
    assert decide(found([ON_FRONT]), W, H, [], 0.8, 0.5).damages == [ON_FRONT]


def test_without_gates_the_detector_verdict_stands() -> None:
    a = decide(found([ON_FRONT, ON_BACKGROUND]), W, H, None, None, 0.5)
    assert a.damages == [ON_FRONT, ON_BACKGROUND] and a.gate_passed and a.vehicles == []


@pytest.mark.parametrize(("box", "inside"), [((300, 300, 310, 310), True), ((535, 430, 560, 450), True),
                                             ((600, 10, 620, 20), False)])
def test_on_vehicle_uses_the_centre_with_a_small_margin(box: tuple[int, int, int, int], inside: bool) -> None:
    assert on_vehicle(box, FRONT_CAR) is inside


class FakeDetector:
    async def detect(self, photos: list[np.ndarray]) -> list[PhotoDetections]:
        return [found([ON_FRONT, ON_BACKGROUND]) for _ in photos]


async def test_assessor_runs_both_gates_per_photo() -> None:
    async def gate(photos: list[np.ndarray]) -> list[float]:
        return [0.9, 0.1][: len(photos)]

    async def cars(photos: list[np.ndarray]) -> list[list[Vehicle]]:
        return [[FRONT_CAR, BACKGROUND_CAR] for _ in photos]

    assessor = DamageAssessor(FakeDetector(), gate=gate, gate_threshold=0.5, cars=cars)  # type: ignore[arg-type]
    photos = [np.zeros((H, W, 3), np.uint8)] * 2
    first, second = await assessor.assess(photos)
    assert first.damages == [ON_FRONT] and first.damage_probability == 0.9
    assert second.damages == [] and second.reason == "no_damage_gate"
    assert await assessor.assess([]) == []


def test_a_small_background_car_on_a_close_up_does_not_decide_where_damage_may_be() -> None:
    a = decide(found([ON_FRONT], [PART]), W, H, [BACKGROUND_CAR], 0.9, 0.5)  # 70x50 px: 1 % of the photo
    assert a.of_interest is None and a.damages == [ON_FRONT] and a.vehicles == [BACKGROUND_CAR]


async def test_sides_step_sees_the_gated_verdicts_and_its_answer_is_reported() -> None:
    from dataclasses import replace

    async def cars(photos: list[np.ndarray]) -> list[list[Vehicle]]:
        return [[FRONT_CAR, BACKGROUND_CAR] for _ in photos]

    seen_by_sides = []

    async def sides(photos: list[np.ndarray], assessments: list) -> list:  # type: ignore[type-arg]
        seen_by_sides.extend(assessments)
        return [replace(a, damages=[replace(d, components=((1, 80),)) for d in a.damages]) for a in assessments]

    assessor = DamageAssessor(FakeDetector(), cars=cars, sides=sides)  # type: ignore[arg-type]
    (result,) = await assessor.assess([np.zeros((H, W, 3), np.uint8)])
    assert [a.damages for a in seen_by_sides] == [[ON_FRONT]]  # the background car's damage is already gone
    assert [d.components for d in result.damages] == [((1, 80),)]
