"""The generated input whose outputs export.py records and the unit test checks (numpy only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from picloss.engines.models.damage_detector import INPUT_SIZE

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests/unit/damage/fixtures/damage_detector_expected.json"
TOP = 10


def fixture_input() -> np.ndarray:
    """A deterministic 1x3xSxS float32 input (0..255): smooth gradients plus a dark 'dent' blob."""
    ys, xs = np.mgrid[0:INPUT_SIZE, 0:INPUT_SIZE].astype(np.float32) / INPUT_SIZE
    r = 200 * xs + 30
    g = 180 * ys + 40
    b = 120 + 80 * np.sin(6 * xs) * np.cos(4 * ys)
    blob = np.exp(-(((xs - 0.6) ** 2 + (ys - 0.45) ** 2) / 0.005))
    img = np.stack([r, g, b]) * (1 - 0.7 * blob)
    return np.clip(img, 0, 255)[None].astype(np.float32)
