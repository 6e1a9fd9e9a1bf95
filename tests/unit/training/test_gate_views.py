"""The damage gate's training views, recipe v3 (issue 21): stretched, re-encoded, the verifier's folds."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")  # the training extra (`pip install torch==2.13.0`); not in the service's install

from training.damage import gate_common as base
from training.damage import gate_finetune as gf
from training.damage.verifier_data import Groups


def photo(h: int = 240, w: int = 320) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_every_view_is_the_gate_input_and_v3_views_differ_from_v2() -> None:
    rgb = photo()
    for view in range(4):
        out = gf.make_view(rgb, view, random.Random(1), "v3")
        assert out.shape == (3, 320, 320) and out.dtype == np.float32
    assert np.array_equal(gf.make_view(rgb, 0, random.Random(1), "v3"), gf.make_view(rgb, 0, random.Random(1), "v2"))
    differ = [not np.array_equal(gf.make_view(rgb, 3, random.Random(s), "v3"), gf.make_view(rgb, 3, random.Random(s),
                                                                                            "v2"))
              for s in range(5)]
    assert any(differ)


def test_reencode_keeps_the_size_and_changes_the_pixels_when_it_fires() -> None:
    rgb = photo(64, 96)
    outs = [gf.reencode(rgb, random.Random(s)) for s in range(20)]
    assert all(o.shape == rgb.shape and o.dtype == np.uint8 for o in outs)
    changed = [not np.array_equal(o, rgb) for o in outs]
    assert 0 < sum(changed) < 20  # about 70 % of the time


def test_gate_folds_are_the_verifiers(tmp_path: Path) -> None:
    (tmp_path / "DUPLICATES.tsv").write_text("")
    items = [base.Item(Path(f"/x/{name}"), 1, name, source, "full") for name, source in (
        ("a_jpg.rf.1.jpg", "damage_severity/train"), ("b.jpg", "damaged_parts/train"),
        ("c.jpg", "clean_cars/plates/train"), ("d.jpg", "vin_plates/train"))]
    groups = Groups(tmp_path / "DUPLICATES.tsv")
    expected = [groups.fold("damage_severity", "a_jpg.rf.1.jpg"), groups.fold("damaged_parts", "b.jpg"),
                groups.fold("clean", "c.jpg"), groups.fold("vin", "d.jpg")]
    assert list(gf.verifier_folds(items, tmp_path)) == expected


def test_pasted_items_come_from_clean_plates_photos_with_their_folds() -> None:
    items = [base.Item(Path("/x/c.jpg"), 0, "g", "clean_cars/plates/train", "full"),
             base.Item(Path("/x/c.jpg"), 0, "g", "clean_cars/plates/train", "plate_crop", (0, 0, 1, 1)),
             base.Item(Path("/x/d.jpg"), 1, "h", "damage_severity/train", "full")]
    extra, folds = gf.pasted_items(items, np.array([3, 3, 1]), per_photo=2)
    assert [(it.view, it.label, it.path.name) for it in extra] == [("pasted", 1, "c.jpg")] * 2
    assert folds == [3, 3] and len({it.key for it in extra}) == 2
