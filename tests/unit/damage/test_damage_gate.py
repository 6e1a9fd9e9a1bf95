"""The photo-level damage gate: preprocessing, the committed ONNX, and its recorded threshold."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from picloss.engines.damage.gate import DAMAGE_THRESHOLD, damage_probability, is_damaged
from picloss.engines.models.damage_gate import GATE_SPEC, INPUT_SIZE, MAX_BATCH_SIZE, to_batch, to_input
from picloss.platform.inference import OnnxRunner

MODEL = GATE_SPEC.onnx_path()
RECORD = MODEL.parent.parent / "gate.json"


def test_to_input_squashes_the_whole_photo_without_padding() -> None:
    # A 100 x 300 photo: left third red, middle green, right third blue; a squash keeps the thirds in place.
    rgb = np.zeros((100, 300, 3), np.uint8)
    rgb[:, :100, 0] = 255
    rgb[:, 100:200, 1] = 255
    rgb[:, 200:, 2] = 255
    x = to_input(rgb)
    assert x.shape == (3, INPUT_SIZE, INPUT_SIZE) and x.dtype == np.float32
    third = INPUT_SIZE // 3
    for channel, col in ((0, third // 2), (1, INPUT_SIZE // 2), (2, INPUT_SIZE - third // 2)):
        column = x[:, :, col]
        assert np.all(column[channel] == 255), channel
        assert np.all(np.delete(column, channel, axis=0) == 0), channel
    # Every row is the same photo row (a letterbox would have grey bars at the top or bottom).
    assert np.array_equal(x[:, 0, :], x[:, INPUT_SIZE // 2, :]) and np.array_equal(x[:, -1, :], x[:, 0, :])


def test_to_input_keeps_values_in_0_255_and_rejects_grey() -> None:
    rng = np.random.default_rng(0)
    x = to_input(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
    assert 0 <= x.min() and x.max() <= 255
    with pytest.raises(ValueError):
        to_input(np.zeros((10, 10), np.uint8))
    assert to_batch([]).shape == (0, 3, INPUT_SIZE, INPUT_SIZE)


class RecordingRunner:
    """A stand-in model: the probability is the mean red value / 255 of each photo; records batch sizes."""

    spec = GATE_SPEC
    backend = "fake"

    def __init__(self) -> None:
        self.batches: list[int] = []

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        images = inputs[GATE_SPEC.inputs[0]]
        self.batches.append(len(images))
        return {GATE_SPEC.outputs[0]: images[:, 0].mean(axis=(1, 2))[:, None] / 255}

    async def close(self) -> None:
        return None


def test_damage_probability_keeps_order_across_batches() -> None:
    photos = [np.full((40, 60, 3), v, np.uint8) for v in range(0, 255, 25)]  # 11 photos
    runner = RecordingRunner()
    probs = asyncio.run(damage_probability(runner, photos))
    assert runner.batches == [MAX_BATCH_SIZE, len(photos) - MAX_BATCH_SIZE]
    assert probs == pytest.approx([v / 255 for v in range(0, 255, 25)], abs=1e-6)


def test_committed_onnx_gives_a_probability_per_photo() -> None:
    rng = np.random.default_rng(1)
    photos = [rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), np.full((224, 224, 3), 128, np.uint8)]
    probs = asyncio.run(damage_probability(OnnxRunner(GATE_SPEC, threads=1), photos))
    assert len(probs) == 2
    assert all(0.0 <= p <= 1.0 for p in probs)
    assert probs[0] != probs[1]  # the output depends on the photo


def test_threshold_constant_matches_the_recorded_model() -> None:
    import onnx

    record = json.loads(RECORD.read_text())
    assert record["threshold"] == pytest.approx(DAMAGE_THRESHOLD, abs=1e-6)
    assert record["input_size"] == INPUT_SIZE and record["resize"] == "squash"
    meta = {p.key: p.value for p in onnx.load(str(MODEL), load_external_data=False).metadata_props}
    assert float(meta["damage_gate.threshold"]) == pytest.approx(DAMAGE_THRESHOLD, abs=1e-6)
    assert int(meta["damage_gate.input_size"]) == INPUT_SIZE
    assert 0.0 < DAMAGE_THRESHOLD < 1.0
    assert is_damaged(DAMAGE_THRESHOLD) and not is_damaged(DAMAGE_THRESHOLD - 1e-3)


def test_config_pbtxt_matches_the_spec() -> None:
    text = (MODEL.parent.parent / "config.pbtxt").read_text()
    assert f'name: "{GATE_SPEC.name}"' in text and 'platform: "onnxruntime_onnx"' in text
    assert f'name: "{GATE_SPEC.inputs[0]}"' in text and f"dims: [ 3, {INPUT_SIZE}, {INPUT_SIZE} ]" in text
    assert f'name: "{GATE_SPEC.outputs[0]}"' in text and f"max_batch_size: {MAX_BATCH_SIZE}" in text
    assert "dynamic_batching" in text and "KIND_CPU" in text
