"""COCO and YOLO readers through a class map, dedupe and leak exclusion, on generated fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.damage.datasets import (
    ClassMap,
    dedupe_identical,
    leaked_val_files,
    parse_yolo_line,
    read_split,
    without_leaked,
)

CLASSMAP = """
heads:
  damage_type: [scratch, dent, broken]
  severity: [minor, moderate, severe]
  part_kind: [bonnet, bumper, trunk, door, fender, lamp, windshield]
datasets:
  - name: sev
    format: coco
    root: sev
    splits:
      val: {images: images, annotations: ann.json}
    leak_split_names: {train: sev/train, val: sev/val}
    classes:
      severe-broken: {damage_type: broken, severity: severe}
  - name: parts
    format: yolo
    root: parts
    splits:
      val: {images: images, labels: labels}
    leak_split_names: {train: parts/train, val: parts/valid}
    classes:
      1: {part_kind: bumper}
"""


def write_jpeg(path: Path, size: tuple[int, int], value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path, format="JPEG")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_jpeg(tmp_path / "sev/images/a.jpg", (64, 64), 10)
    (tmp_path / "sev/ann.json").write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64}],
                "categories": [{"id": 6, "name": "severe-broken"}],
                "annotations": [{"id": 1, "image_id": 1, "category_id": 6, "bbox": [4, 8, 10, 20]}],
            }
        )
    )
    write_jpeg(tmp_path / "parts/images/b.jpg", (200, 100), 20)
    write_jpeg(tmp_path / "parts/images/c.jpg", (200, 100), 20)  # byte-identical copy of b
    lines = "1 0.5 0.5 0.2 0.4\n1 0.1 0.1 0.3 0.1 0.2 0.4\n5 0.5 0.5 0.1 0.1\n"
    for stem in ("b", "c"):
        (tmp_path / f"parts/labels/{stem}.txt").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"parts/labels/{stem}.txt").write_text(lines)
    (tmp_path / "classmap.yaml").write_text(CLASSMAP)
    return tmp_path


def test_yolo_box_and_polygon_lines() -> None:
    assert parse_yolo_line("3 0.5 0.5 0.2 0.4") == (3, pytest.approx((0.4, 0.3, 0.6, 0.7)))
    assert parse_yolo_line("2 0.1 0.1 0.3 0.1 0.2 0.4") == (2, (0.1, 0.1, 0.3, 0.4))
    assert parse_yolo_line("") is None


def test_readers_map_classes_and_pixels(root: Path) -> None:
    classmap = ClassMap.load(root / "classmap.yaml")
    samples = {s.path.name: s for s in read_split(classmap, "val", root)}
    sev = samples["a.jpg"]
    np.testing.assert_allclose(sev.boxes, [[4, 8, 14, 28]])
    assert sev.labels["damage_type"].tolist() == [2] and sev.labels["severity"].tolist() == [2]
    assert sev.labels["part_kind"].tolist() == [-1]
    parts = samples["b.jpg"]
    assert len(parts.boxes) == 2  # class 5 is not in the class map
    np.testing.assert_allclose(parts.boxes[1], [20, 10, 60, 40], atol=1e-4)
    assert parts.labels["part_kind"].tolist() == [1, 1]
    assert parts.labels["damage_type"].tolist() == [-1, -1]


def test_dedupe_and_leak_exclusion(root: Path) -> None:
    classmap = ClassMap.load(root / "classmap.yaml")
    samples = dedupe_identical(read_split(classmap, "val", root))
    assert sorted(s.path.name for s in samples) == ["a.jpg", "b.jpg"]
    tsv = root / "DUPLICATES.tsv"
    tsv.write_text(
        "# comment\nsplit_a\tfile_a\tsplit_b\tfile_b\tcorr\n"
        "sev/train\tx.jpg\tparts/valid\tb.jpg\t0.999\n"
        "sev/val\ta.jpg\tparts/valid\tzzz.jpg\t0.999\n"
    )
    leaked = leaked_val_files(tsv, classmap)
    assert leaked == {"parts/b.jpg"}  # a val-val pair is not train leakage
    assert [s.path.name for s in without_leaked(samples, leaked)] == ["a.jpg"]
