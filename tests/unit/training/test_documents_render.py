"""The renderer: reproducible from its seed, valid contents, photo-sized output."""

from __future__ import annotations

import random

import numpy as np
import pytest

from picloss.domain.documents.idnumber import is_valid_id_number
from picloss.domain.documents.model import FieldRead
from picloss.domain.documents.validators import validate_field
from picloss.domain.documents.vin import is_valid_vin

layouts = pytest.importorskip("training.documents.layouts")
try:
    layouts.font_path()
except layouts.FontMissing:
    pytest.skip("CJK font missing: run `make fonts` (fonts-wqy-zenhei)", allow_module_level=True)

from training.documents.render import DOCUMENT_CLASSES, render_set  # noqa: E402


def test_same_seed_same_photos_and_valid_contents() -> None:
    first, again = render_set(5, seed=7), render_set(5, seed=7)
    assert [d.truth for d in first] == [d.truth for d in again]
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(first, again, strict=True))
    assert [d.image_class for d in first] == list(DOCUMENT_CLASSES)
    for doc in first:
        assert doc.rgb.ndim == 3 and min(doc.rgb.shape[:2]) >= 700
        for name, value in doc.truth.items():
            if name in ("id", "证号"):
                assert is_valid_id_number(value)
            if name in ("vin", "车辆识别代号"):
                assert is_valid_vin(value)
            checked = validate_field(FieldRead(name, value, 0.9))
            assert checked.value == value  # the ground truth is already in normalised form
            assert checked.confidence > 0.8, (name, value, checked)  # no ground-truth value fails its rule


def test_other_scenes_render() -> None:
    from training.documents.other_scenes import car_like, other_photo

    rng = random.Random(1)
    assert other_photo(rng).ndim == 3
    assert car_like(rng).shape == (480, 640, 3)
