"""The box verifier (issue 21): the crop, the existence confidence, the operating point, the committed model."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from picloss.engines.damage.assess import DamageAssessor, verified
from picloss.engines.damage.detector import Detection, PhotoDetections, reported
from picloss.engines.damage.verifier import (
    COMBINATION,
    COMBINATION_WITHOUT_GATE,
    DEFAULT_MIN_CONFIDENCE,
    Combination,
    combination_from_record,
    confirmed,
    verifier_probabilities,
    with_existence,
)
from picloss.engines.damage.wire import to_proto
from picloss.engines.models import damage_verifier as vm
from picloss.platform.inference import OnnxRunner

MODEL = vm.VERIFIER_SPEC.onnx_path()
RECORD = MODEL.parent.parent / "verifier.json"


def det(box: tuple[int, int, int, int], score: float = 0.6, from_part: bool = False) -> Detection:
    return Detection(box=box, score=score, damage_type="scratch", damage_type_score=80, part_kind="door",
                     components=((5, 80),), degree_id=0, degree_score=70, type_probs=(0.8, 0.1, 0.1),
                     severity_probs=(0.7, 0.2, 0.1), part_probs=(0, 0, 0, 1, 0, 0, 0), from_part=from_part)


def test_crop_is_a_square_with_context_around_the_box() -> None:
    # A 400 x 400 photo with a red 20 x 10 box at (200..220, 100..110): the crop is 2.5 x 20 = 50 px around its
    # centre (>= MIN_CROP_SIDE: 64 px), so the red box fills 20/64 of the crop's width, centred.
    rgb = np.zeros((400, 400, 3), np.uint8)
    rgb[100:110, 200:220, 0] = 255
    out = vm.crop(rgb, (200, 100, 220, 110))
    assert out.shape == (vm.INPUT_SIZE, vm.INPUT_SIZE, 3) and out.dtype == np.uint8
    red = np.nonzero(out[:, :, 0] > 128)
    width = red[1].max() - red[1].min() + 1
    assert width == pytest.approx(vm.INPUT_SIZE * 20 / vm.MIN_CROP_SIDE, abs=3)
    assert (red[1].min() + red[1].max()) / 2 == pytest.approx(vm.INPUT_SIZE / 2, abs=2)
    # A large box: the side is CONTEXT x its longer side.
    assert vm.crop_square((0, 0, 100, 40)) == (50.0, 20.0, vm.CONTEXT * 100)


def test_crop_at_the_photo_edge_replicates_the_border() -> None:
    rgb = np.zeros((100, 100, 3), np.uint8)
    rgb[:, :5] = 200  # the left edge column is bright
    out = vm.crop(rgb, (0, 40, 10, 60))
    assert out.shape == (vm.INPUT_SIZE, vm.INPUT_SIZE, 3)
    assert out[:, 0].mean() > 150  # left of the photo: the replicated bright edge, not black or grey padding
    # training's aspect distortion keeps the output size
    assert vm.crop(rgb, (40, 40, 60, 60), aspect=1.4).shape == (vm.INPUT_SIZE, vm.INPUT_SIZE, 3)


def test_existence_combines_both_scores_monotonically() -> None:
    c = Combination(verifier_weight=1.5, detector_weight=0.5, part_weight=-0.3, bias=-0.2)
    assert c.existence(0.9, 0.5, False) > c.existence(0.5, 0.5, False) > c.existence(0.1, 0.5, False)
    assert c.existence(0.5, 0.8, False) > c.existence(0.5, 0.2, False)
    assert c.existence(0.5, 0.5, True) < c.existence(0.5, 0.5, False)
    z = 1.5 * np.log(0.9 / 0.1) + 0.5 * 0 - 0.2
    assert c.existence(0.9, 0.5, False) == pytest.approx(1 / (1 + np.exp(-z)))


def test_existence_with_the_gate_needs_its_probability_and_rises_with_it() -> None:
    c = Combination(verifier_weight=1.0, detector_weight=1.0, part_weight=0.0, bias=0.0, gate_weight=0.8)
    assert c.existence(0.6, 0.5, False, 0.9) > c.existence(0.6, 0.5, False, 0.5) > c.existence(0.6, 0.5, False, 0.1)
    z = np.log(0.6 / 0.4) + 0.8 * np.log(0.9 / 0.1)
    assert c.existence(0.6, 0.5, False, 0.9) == pytest.approx(1 / (1 + np.exp(-z)))
    with pytest.raises(ValueError):
        c.existence(0.6, 0.5, False, None)
    # a combination without a gate term ignores the gate's probability
    plain = Combination(1.0, 0.0, 0.0, 0.0)
    assert plain.existence(0.7, 0.5, False, 0.01) == pytest.approx(plain.existence(0.7, 0.5, False))


def test_with_existence_uses_the_combination_that_fits_the_service() -> None:
    damages = [det((0, 0, 10, 10), 0.5)]
    with_gate = with_existence(damages, [0.7], 0.95)
    without = with_existence(damages, [0.7], None)
    assert with_gate[0].existence == pytest.approx(COMBINATION.existence(0.7, 0.5, False, 0.95))
    assert without[0].existence == pytest.approx(COMBINATION_WITHOUT_GATE.existence(0.7, 0.5, False))
    assert COMBINATION_WITHOUT_GATE.gate_weight == 0.0


def test_combination_from_record_reads_features_by_name() -> None:
    entry = {"features": ["logit(verifier)", "logit(detector)", "part_channel", "logit(gate)"],
             "weights": [0.5, 1.25, -1.0, 0.75], "bias": -0.5}
    assert combination_from_record(entry) == Combination(0.5, 1.25, -1.0, -0.5, 0.75)
    entry3 = {"features": ["logit(verifier)", "logit(detector)", "part_channel"], "weights": [1, 2, 3], "bias": 4}
    assert combination_from_record(entry3) == Combination(1.0, 2.0, 3.0, 4.0, 0.0)


def test_with_existence_orders_and_confirmed_cuts_at_the_operating_point() -> None:
    damages = [det((0, 0, 10, 10), 0.9), det((20, 20, 30, 30), 0.2), det((40, 40, 50, 50), 0.5)]
    c = Combination(1.0, 0.0, 0.0, 0.0)  # existence = the verifier's probability
    scored = with_existence(damages, [0.1, 0.95, 0.6], combination=c)
    assert [d.box for d in scored] == [(20, 20, 30, 30), (40, 40, 50, 50), (0, 0, 10, 10)]
    assert [round(d.existence or 0, 2) for d in scored] == [0.95, 0.6, 0.1]
    assert [d.box for d in confirmed(scored, 0.5)] == [(20, 20, 30, 30), (40, 40, 50, 50)]
    assert confirmed(scored, 0.99) == []


def test_reported_part_is_marked_as_from_the_part_channel() -> None:
    part = det((0, 0, 100, 100), 0.7)
    found = PhotoDetections([det((200, 200, 210, 210), 0.5)], [part], frozenset())
    out = reported(found, 0.1)
    assert {d.box: d.from_part for d in out} == {(0, 0, 100, 100): True, (200, 200, 210, 210): False}


def test_verified_assessment_keeps_candidates_and_says_why_nothing_is_reported() -> None:
    from picloss.engines.damage.assess import decide

    base = decide(PhotoDetections([det((10, 10, 20, 20))], [], frozenset()), 640, 480, None, None, 0.5)
    scored = with_existence(base.damages, [0.05], combination=Combination(1.0, 0.0, 0.0, 0.0))
    a = verified(base, scored, 0.5)
    assert a.damages == [] and a.reason == "not_verified" and len(a.candidates) == 1
    b = verified(base, with_existence(base.damages, [0.9], combination=Combination(1.0, 0.0, 0.0, 0.0)), 0.5)
    assert [d.box for d in b.damages] == [(10, 10, 20, 20)] and b.reason == ""


class FakeDetector:
    async def detect(self, photos: list[np.ndarray]) -> list[PhotoDetections]:
        boxes = [det((10, 10, 20, 20), 0.4), det((100, 100, 140, 120), 0.4)]
        return [PhotoDetections(boxes, [], frozenset()) for _ in photos]


def test_assessor_reports_only_verified_boxes_with_their_existence() -> None:
    async def verify(rgb: np.ndarray, damages: list[Detection]) -> list[float]:
        return [0.99 if d.box[0] == 100 else 0.01 for d in damages]

    assessor = DamageAssessor(FakeDetector(), verify=verify, min_confidence=0.5)  # type: ignore[arg-type]
    [a] = asyncio.run(assessor.assess([np.zeros((480, 640, 3), np.uint8)]))
    assert [d.box for d in a.damages] == [(100, 100, 140, 120)]
    assert a.damages[0].existence is not None and a.damages[0].existence >= 0.5
    assert to_proto(a.damages[0]).existence == pytest.approx(a.damages[0].existence)
    without = DamageAssessor(FakeDetector())  # type: ignore[arg-type]
    [b] = asyncio.run(without.assess([np.zeros((480, 640, 3), np.uint8)]))
    assert len(b.damages) == 2 and all(d.existence is None for d in b.damages)
    assert to_proto(b.damages[0]).existence == pytest.approx(0.4)  # no verifier: the detector's own score


@pytest.mark.skipif(not MODEL.exists(), reason="no committed verifier model")
def test_committed_verifier_scores_each_box_of_a_photo() -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    rgb[100:200, 100:200] = 128
    boxes = [(10, 10, 40, 30), (120, 120, 160, 150), (350, 250, 400, 300)] * 12  # > MAX_BATCH_SIZE
    probs = asyncio.run(verifier_probabilities(OnnxRunner(vm.VERIFIER_SPEC, threads=1), rgb, boxes))
    assert len(probs) == len(boxes) and all(0.0 <= p <= 1.0 for p in probs)
    assert probs[0] != probs[1]  # the output depends on the crop
    assert probs[:3] == pytest.approx(probs[3:6], abs=1e-5)  # and only on the crop


@pytest.mark.skipif(not MODEL.exists(), reason="no committed verifier model")
def test_combination_and_operating_point_match_the_recorded_model() -> None:
    record = json.loads(RECORD.read_text())
    for key, combination in (("combination", COMBINATION), ("combination_without_gate", COMBINATION_WITHOUT_GATE)):
        recorded = combination_from_record(record.get(key, record["combination"]))
        for field in ("verifier_weight", "detector_weight", "part_weight", "bias", "gate_weight"):
            assert getattr(combination, field) == pytest.approx(getattr(recorded, field), abs=1e-6), (key, field)
    assert DEFAULT_MIN_CONFIDENCE == pytest.approx(record["threshold"], abs=1e-6)
    assert record["input_size"] == vm.INPUT_SIZE and record["context"] == vm.CONTEXT
    assert record["min_crop_side"] == vm.MIN_CROP_SIDE
    text = (MODEL.parent.parent / "config.pbtxt").read_text()
    assert f'name: "{vm.VERIFIER_SPEC.name}"' in text and f'name: "{vm.INPUT_CROPS}"' in text
    assert f"dims: [ 3, {vm.INPUT_SIZE}, {vm.INPUT_SIZE} ]" in text and f"max_batch_size: {vm.MAX_BATCH_SIZE}" in text


def test_service_settings_for_the_verifier_and_the_operating_point() -> None:
    from picloss.engines.damage.detector import DEFAULT_SCORE_THRESHOLD
    from picloss.engines.damage.verifier import CANDIDATE_THRESHOLD
    from services.damage.config import DamageConfig

    default = DamageConfig.from_env({})
    assert default.verifier and default.min_confidence == DEFAULT_MIN_CONFIDENCE
    assert default.score_threshold == CANDIDATE_THRESHOLD  # the detector only proposes candidates
    off = DamageConfig.from_env({"DAMAGE_VERIFIER": "false"})
    assert not off.verifier and off.score_threshold == DEFAULT_SCORE_THRESHOLD
    moved = DamageConfig.from_env({"DAMAGE_MIN_CONFIDENCE": "0.35", "DAMAGE_SCORE_THRESHOLD": "0.2"})
    assert moved.min_confidence == 0.35 and moved.score_threshold == 0.2
    assert DamageConfig.from_env({"DAMAGE_MIN_CONFIDENCE": "7"}).min_confidence == 1.0
    with pytest.raises(Exception, match="DAMAGE_MIN_CONFIDENCE"):
        DamageConfig.from_env({"DAMAGE_MIN_CONFIDENCE": "-1"})
