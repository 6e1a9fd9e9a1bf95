"""The committed ONNX damage model loads and reproduces the outputs recorded at export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from picloss.engines.models import damage_detector as ms
from picloss.platform.inference import OnnxRunner
from training.damage.fixture import FIXTURE, fixture_input


@pytest.fixture(scope="module")
def runner() -> OnnxRunner:
    return OnnxRunner(ms.DAMAGE_DETECTOR, threads=1)


def test_outputs_match_recorded_fixture(runner: OnnxRunner) -> None:
    expected = json.loads(FIXTURE.read_text())
    out = runner.infer_sync({ms.INPUT_IMAGES: fixture_input()})
    top = expected["top"]
    np.testing.assert_allclose(out[ms.OUTPUT_SCORES][0, :top], expected[ms.OUTPUT_SCORES], atol=1e-3)
    np.testing.assert_allclose(out[ms.OUTPUT_PART_SCORES][0, :top], expected[ms.OUTPUT_PART_SCORES], atol=1e-3)
    for name in (ms.OUTPUT_BOXES, ms.OUTPUT_PART_BOXES):
        np.testing.assert_allclose(out[name][0, :top], expected[name], atol=0.05)
    for name in (
        ms.OUTPUT_TYPE_PROBS,
        ms.OUTPUT_SEVERITY_PROBS,
        ms.OUTPUT_PART_PROBS,
        ms.OUTPUT_PART_KIND_PROBS,
        ms.OUTPUT_PART_TYPE_PROBS,
        ms.OUTPUT_PART_SEVERITY_PROBS,
    ):
        np.testing.assert_allclose(out[name][0, :top], expected[name], atol=1e-3)


def test_batch_shapes_and_ranges(runner: OnnxRunner) -> None:
    batch = np.concatenate([fixture_input(), np.full_like(fixture_input(), 114.0)])
    out = runner.infer_sync({ms.INPUT_IMAGES: batch})
    k = out[ms.OUTPUT_SCORES].shape[1]
    assert out[ms.OUTPUT_BOXES].shape == (2, k, 4)
    assert out[ms.OUTPUT_PART_PROBS].shape == (2, k, len(ms.PART_KINDS))
    p = out[ms.OUTPUT_PART_SCORES].shape[1]
    assert out[ms.OUTPUT_PART_BOXES].shape == (2, p, 4)
    assert out[ms.OUTPUT_PART_KIND_PROBS].shape == (2, p, len(ms.PART_KINDS))
    for scores in (out[ms.OUTPUT_SCORES], out[ms.OUTPUT_PART_SCORES]):
        assert np.all((scores >= 0) & (scores <= 1))
        assert np.all(np.diff(scores, axis=1) <= 1e-6), "scores must be sorted best first"
    for name in (ms.OUTPUT_TYPE_PROBS, ms.OUTPUT_PART_PROBS, ms.OUTPUT_PART_KIND_PROBS):
        np.testing.assert_allclose(out[name].sum(-1), 1.0, atol=1e-4)


def test_config_pbtxt_names_the_spec_tensors() -> None:
    text = (ms.DAMAGE_DETECTOR.onnx_path().parents[1] / "config.pbtxt").read_text()
    for name in (*ms.DAMAGE_DETECTOR.inputs, *ms.DAMAGE_DETECTOR.outputs):
        assert f'name: "{name}"' in text
    assert f"max_batch_size: {ms.MAX_BATCH_SIZE}" in text
    assert ms.DAMAGE_DETECTOR.onnx_path().stat().st_size < 25 * 1024 * 1024
