"""The side figures of training/damage/eval_sides.py on small synthetic labels (no model, no torch)."""

from __future__ import annotations

import math
from pathlib import Path

from training.damage.eval_sides import (
    LABELS,
    LabelledBox,
    LabelledPhoto,
    Reported,
    judge,
    match,
    read_labels,
    side_figures,
)

LAMP_RIGHT_FRONT = LabelledBox("lamp", (0.1, 0.4, 0.3, 0.6), "right", "front")
BUMPER_FRONT = LabelledBox("bumper", (0.1, 0.6, 0.9, 0.9), "none", "front")
DOOR_UNKNOWN = LabelledBox("door", (0.5, 0.2, 0.9, 0.5), "unknown", "unknown")
PHOTO = LabelledPhoto("a.jpg", "F", (LAMP_RIGHT_FRONT, BUMPER_FRONT, DOOR_UNKNOWN))


def test_match_by_overlap_or_centre() -> None:
    assert match((100, 400, 300, 600), 1000, 1000, PHOTO.boxes) == LAMP_RIGHT_FRONT
    assert match((480, 700, 520, 720), 1000, 1000, PHOTO.boxes) == BUMPER_FRONT  # centre inside, tiny box
    assert match((950, 0, 1000, 50), 1000, 1000, PHOTO.boxes) is None


def test_judge() -> None:
    assert judge(26, LAMP_RIGHT_FRONT) == "right"
    assert judge(25, LAMP_RIGHT_FRONT) == "wrong"
    assert judge(27, LAMP_RIGHT_FRONT) == "wrong"  # right side, wrong end
    assert judge(29, LAMP_RIGHT_FRONT) == "undecided"
    assert judge(19, BUMPER_FRONT) == "right" and judge(20, BUMPER_FRONT) == "wrong"
    assert judge(21, BUMPER_FRONT) == "undecided"
    assert judge(5, DOOR_UNKNOWN) is None  # the photo does not tell: not sideable
    assert judge(22, BUMPER_FRONT) is None  # a bonnet id needs no side
    assert judge(26, None) is None  # matched no labelled box
    assert judge(12, LAMP_RIGHT_FRONT) == "right"  # a fender id on a lamp box: side and end are judged


def test_side_figures_overall_and_per_pose() -> None:
    reported = {"a.jpg": [Reported(26, (100, 400, 300, 600)), Reported(21, (100, 600, 900, 900)),
                          Reported(5, (500, 200, 900, 500))],
                "b.jpg": [Reported(20, (100, 600, 900, 900))],
                "unlabelled.jpg": [Reported(19, (0, 0, 10, 10))]}
    labels = {"a.jpg": PHOTO, "b.jpg": LabelledPhoto("b.jpg", "FL", (BUMPER_FRONT,))}
    sizes = {"a.jpg": (1000, 1000), "b.jpg": (1000, 1000), "unlabelled.jpg": (10, 10)}
    f = side_figures(reported, sizes, labels)
    assert f["sideable damages"] == 3
    assert math.isclose(f["side decided share"], 2 / 3)
    assert math.isclose(f["side right share of decided"], 0.5)
    assert f["sideable damages [F]"] == 2 and math.isclose(f["side right share of decided [F]"], 1.0)
    assert f["side right share of decided [FL]"] == 0.0


def test_committed_labels_are_well_formed() -> None:
    labels = read_labels(Path(LABELS))
    assert len(labels) >= 60
    poses = {"F", "B", "FL", "FR", "BL", "BR", "SL", "SR", "X"}
    for photo in labels.values():
        assert photo.pose in poses
        for b in photo.boxes:
            assert b.lr in {"left", "right", "none", "unknown"} and b.fb in {"front", "rear", "unknown"}
            assert 0 <= b.box[0] <= b.box[2] <= 1 and 0 <= b.box[1] <= b.box[3] <= 1
