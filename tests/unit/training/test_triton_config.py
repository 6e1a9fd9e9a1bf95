"""`config.pbtxt` is written in one place (training/triton_config.py): every script that writes a model into the
repository gives it its contract, and what it writes is, byte for byte, the committed `models/<name>/config.pbtxt`."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from picloss.platform.inference.runner import ModelSpec
from training.triton_config import config_pbtxt

MODELS = Path(__file__).resolve().parents[3] / "models"
# model -> the script that writes its config.pbtxt
WRITERS = {
    "car_detector": "training.damage.centernet_convert",
    "damage_detector": "training.damage.export",
    "damage_gate": "training.damage.gate_common",
    "damage_verifier": "training.damage.verifier",
    "photo_classifier": "training.documents.train_classifier",
    "view_classifier": "training.damage.view_classifier",
}


def test_every_model_of_the_repository_has_a_writer() -> None:
    assert sorted(p.parent.name for p in MODELS.glob("*/config.pbtxt")) == sorted(WRITERS)


@pytest.mark.parametrize("model", sorted(WRITERS))
def test_the_written_config_is_the_committed_one(model: str) -> None:
    writer = importlib.import_module(WRITERS[model])
    assert writer.config_pbtxt() == (MODELS / model / "config.pbtxt").read_text()


def test_dims_must_name_every_tensor_of_the_contract() -> None:
    spec = ModelSpec(name="m", inputs=("x",), outputs=("y", "z"))
    with pytest.raises(ValueError, match="contract"):
        config_pbtxt(spec, 4, {"x": (3,), "y": (1,)}, "c")
    text = config_pbtxt(spec, 4, {"x": (3, 8, 8), "y": (1,), "z": (2, 5)}, "c")
    assert text.splitlines()[:2] == ["# c", 'name: "m"']
    assert ('  { name: "y" data_type: TYPE_FP32 dims: [ 1 ] },\n'
            '  { name: "z" data_type: TYPE_FP32 dims: [ 2, 5 ] }') in text
