"""AP and set scores used by `make eval-damage`."""

from __future__ import annotations

import numpy as np
import pytest

from training.damage.metrics import BoxF1, SetScore, average_precision, box_iou

GT = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=float)


def test_box_iou() -> None:
    iou = box_iou(np.array([[0, 0, 10, 10]], float), np.array([[0, 0, 10, 10], [5, 0, 15, 10]], float))
    np.testing.assert_allclose(iou, [[1.0, 1 / 3]])


def test_perfect_detections_give_ap_1() -> None:
    assert average_precision([(GT, np.array([0.9, 0.8]))], [GT], 0.5) == pytest.approx(1.0)


def test_a_confident_false_positive_lowers_ap() -> None:
    boxes = np.vstack([[[50, 50, 60, 60]], GT])
    ap = average_precision([(boxes, np.array([0.99, 0.9, 0.8]))], [GT], 0.5)
    assert ap == pytest.approx(2 / 3)  # interpolated: precision 2/3 holds up to recall 1


def test_duplicates_and_misses() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float)
    ap = average_precision([(boxes, np.array([0.9, 0.8]))], [GT], 0.5)
    assert ap == pytest.approx(0.5)  # one of two found; the duplicate is a false positive after it
    assert average_precision([(np.zeros((0, 4)), np.zeros(0))], [GT], 0.5) == 0.0


def test_set_score() -> None:
    s = SetScore()
    s.add({19, 21, 22}, {19, 22})
    s.add({5}, {5, 15})
    assert (s.tp, s.fp, s.fn) == (3, 1, 1)
    assert s.precision == pytest.approx(0.75) and s.recall == pytest.approx(0.75) and s.f1 == pytest.approx(0.75)


def test_area_range_ignores_ground_truths_and_detections_outside_it() -> None:
    small, large = [0, 0, 10, 10], [100, 100, 200, 200]
    gts = [np.array([small, large], dtype=float)]
    # a confident detection of the small box, a weaker one of the large box, a small false positive
    preds = [(np.array([small, large, [300, 300, 305, 305]], dtype=float), np.array([0.9, 0.5, 0.95]))]
    assert average_precision(preds, gts, 0.5) < 1.0  # the small false positive ranks first
    # large only: the small box and the small false positive are ignored, the large one is found
    assert average_precision(preds, gts, 0.5, (32**2, float("inf"))) == 1.0
    # small only: the large box is ignored; the small false positive still counts
    assert average_precision(preds, gts, 0.5, (0, 32**2)) == 0.5
    assert np.isnan(average_precision(preds, [np.zeros((0, 4))], 0.5, (0, 32**2)))


def test_box_f1_matches_each_truth_once_and_counts_false_alarms() -> None:
    score = BoxF1(iou_threshold=0.5)
    preds = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [60, 60, 70, 70]], float)
    score.add(preds, GT)  # two hits, one duplicate, one false alarm
    score.add(np.zeros((0, 4)), GT[:1])  # a photo with nothing reported: one miss
    score.add(preds[3:], np.zeros((0, 4)))  # a clean photo with a report: one false alarm
    assert (score.tp, score.fp, score.fn) == (2, 3, 1)
    assert score.precision == pytest.approx(2 / 5) and score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3))


def test_box_f1_threshold_decides_a_loose_box() -> None:
    loose = np.array([[0, 0, 14, 14]], float)  # IoU 100/196 = 0.51 with GT[0]
    strict, lenient = BoxF1(iou_threshold=0.6), BoxF1(iou_threshold=0.3)
    strict.add(loose, GT[:1])
    lenient.add(loose, GT[:1])
    assert (strict.tp, strict.fp, strict.fn) == (0, 1, 1) and (lenient.tp, lenient.fp, lenient.fn) == (1, 0, 0)
