"""The view classifier's pose and the sides it gives a photo's assessment (picloss/engines/damage/pose.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from picloss.engines.damage import pose
from picloss.engines.damage.assess import decide
from picloss.engines.damage.components import Nose, View
from picloss.engines.damage.detector import Detection, PhotoDetections
from picloss.engines.damage.vehicles import Vehicle
from picloss.engines.models import view_classifier as vc
from picloss.platform.inference import ModelSpec

REPO = Path(__file__).resolve().parents[3]
W, H = 640, 480
CAR = Vehicle((80.0, 100.0, 560.0, 420.0), "car", 0.8)


def probs(**named: float) -> list[float]:
    return [named.get(name, 0.0) for name in vc.POSES]


def det(box: tuple[int, int, int, int], components: tuple[tuple[int, int], ...]) -> Detection:
    return Detection(box=box, score=0.6, damage_type="scratch", damage_type_score=80, part_kind="lamp",
                     components=components, degree_id=0, degree_score=70, type_probs=(0.8, 0.1, 0.1),
                     severity_probs=(0.7, 0.2, 0.1), part_probs=(0, 0, 0, 0, 0, 1, 0))


def test_classes_and_mirror_are_consistent() -> None:
    assert len(vc.MIRROR) == len(vc.POSES)
    for i, name in enumerate(vc.POSES):
        mirrored = vc.POSES[vc.MIRROR[i]]
        assert mirrored == name.replace("left", "#").replace("right", "left").replace("#", "right")
        assert vc.MIRROR[vc.MIRROR[i]] == i


def test_decide_view_sums_the_classes_of_an_end_and_a_direction() -> None:
    car = pose.decide_view(probs(front_left=0.5, rear_left=0.45, front=0.05), CAR.box, W, 0.8, 0.8)
    assert car.end is View.UNKNOWN and car.nose is Nose.LEFT  # left for sure, the end not
    car = pose.decide_view(probs(front=0.5, front_right=0.45, rear=0.05), CAR.box, W, 0.8, 0.8)
    assert car.end is View.FRONT and car.nose is None
    car = pose.decide_view(probs(rear=0.9, rear_right=0.1), CAR.box, W, 0.8, 0.8)
    assert car.end is View.REAR and car.nose is Nose.STRAIGHT
    assert car.box == CAR.box and car.photo_width == W


def test_crop_and_input() -> None:
    assert vc.crop_box((100, 100, 300, 200), W, H, 0.05) == (90, 95, 310, 205)
    assert vc.crop_box((-50, 0, 700, 500), W, H) == (0, 0, W, H)
    x = vc.to_input(np.zeros((H, W, 3), np.uint8), CAR.box)
    assert x.shape == (3, vc.INPUT_SIZE, vc.INPUT_SIZE) and x.dtype == np.float32
    assert vc.to_input(np.zeros((H, W, 3), np.uint8), None).shape == (3, vc.INPUT_SIZE, vc.INPUT_SIZE)


def test_side_detections_refines_every_component_and_drops_repeats() -> None:
    front = pose.decide_view(probs(front=1.0), CAR.box, W)
    lamp_on_viewer_left = det((120, 200, 160, 240), ((29, 80), (21, 15)))
    [sided] = pose.side_detections([lamp_on_viewer_left], front)
    assert sided.components == ((26, 80), (19, 15))  # car's right headlamp; the alternative bumper is the front one
    same = det((120, 200, 160, 240), ((29, 80), (26, 30)))
    assert pose.side_detections([same], front)[0].components == ((26, 80),)
    assert pose.side_detections([same], None) == [same]


def test_side_assessment_needs_a_vehicle_of_interest() -> None:
    lamp = det((120, 200, 160, 240), ((29, 80),))
    on_car = decide(PhotoDetections([lamp], [], frozenset()), W, H, [CAR], None, 0.5)
    sided = pose.side_assessment(on_car, probs(front=1.0), W)
    assert sided.damages[0].components[0][0] == 26
    close_up = decide(PhotoDetections([lamp], [lamp], frozenset()), W, H, [], None, 0.5)
    assert close_up.of_interest is None
    assert pose.side_assessment(close_up, probs(front=1.0), W) is close_up


class FakeRunner:
    spec = ModelSpec(name="view_classifier", inputs=(vc.INPUT_IMAGES,), outputs=(vc.OUTPUT_POSE_PROBS,))
    backend = "fake"

    def __init__(self) -> None:
        self.batches: list[int] = []

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(inputs[vc.INPUT_IMAGES])
        self.batches.append(n)
        return {vc.OUTPUT_POSE_PROBS: np.tile(np.array(probs(rear=1.0), np.float32), (n, 1))}

    async def close(self) -> None:
        return None


async def test_side_assessments_runs_the_model_only_where_a_vehicle_holds_damage() -> None:
    bumper = det((200, 350, 400, 400), ((21, 90),))
    with_car = decide(PhotoDetections([bumper], [], frozenset()), W, H, [CAR], None, 0.5)
    without = decide(PhotoDetections([bumper], [bumper], frozenset()), W, H, [], None, 0.5)
    runner = FakeRunner()
    photos = [np.zeros((H, W, 3), np.uint8)] * 2
    out = await pose.side_assessments(runner, photos, [with_car, without])
    assert runner.batches == [1]
    assert out[0].damages[0].components[0][0] == 20 and out[1] is without


def test_thresholds_agree_with_the_model_record() -> None:
    record = REPO / "models" / "view_classifier" / "view.json"
    if not record.exists():
        return
    meta = json.loads(record.read_text())
    assert meta["classes"] == list(vc.POSES)
    assert meta["end_threshold"] == pose.END_THRESHOLD and meta["nose_threshold"] == pose.NOSE_THRESHOLD
    assert meta["input_size"] == vc.INPUT_SIZE and meta["crop_margin"] == vc.CROP_MARGIN
