"""training.damage.recover: the committed detector ONNX becomes a trainable torch network computing the same
outputs (BatchNorm folded back as a shift). Needs torch, which CI does not install: skipped there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")

REPO = Path(__file__).resolve().parents[3]
ONNX = REPO / "models" / "damage_detector" / "1" / "model.onnx"


def test_recovered_network_matches_the_onnx_file() -> None:
    from training.damage.recover import check, recover

    net = recover(ONNX)
    assert check(net, ONNX, size=640) < 1e-2  # boxes are in pixels: 1e-2 px


def test_recovered_batchnorm_is_a_plain_shift() -> None:
    from training.damage.recover import recover

    net = recover(ONNX)
    bn = net.backbone._bn0
    x = torch.randn(1, bn.num_features, 4, 4)
    with torch.no_grad():
        got = bn.eval()(x)
    expected = x + bn.bias.view(1, -1, 1, 1)
    assert np.allclose(got.numpy(), expected.numpy(), atol=1e-5)
