"""The real VIN text set (issue 22): its file is well formed, and its figures count what they say."""

from __future__ import annotations

from pathlib import Path

import pytest

from picloss.domain.documents.vin import VIN_ALPHABET
from training.documents.classifier_data import DATASETS
from training.documents.vin_text import DEV_LABELS, LABELS, VinLabel, figures, lines, load_labels


def test_the_committed_label_file_is_well_formed_and_large_enough() -> None:
    labels = load_labels(LABELS)
    legible = [lab for lab in labels if lab.vin is not None]
    assert len(labels) >= 150 and len(legible) >= 150
    assert len({lab.image for lab in labels}) == len(labels)
    assert all(set(lab.vin) <= set(VIN_ALPHABET) for lab in legible)
    assert all(lab.note for lab in labels if lab.vin is None)  # every illegible photo says why


def test_the_development_labels_are_train_photos_only() -> None:
    dev = load_labels(DEV_LABELS)
    assert dev and not {lab.image for lab in dev} & {lab.image for lab in load_labels(LABELS)}
    train = {p.name for p in (DATASETS / "vin_plates/train/images").glob("*.jpg")}
    if train:  # the datasets are present on the development machine
        assert {lab.image for lab in dev} <= train


def test_a_malformed_label_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text("image,vin,legible,kind,note\na.jpg,WVWZZZ1KZ8M31704,1,plate,\n")
    with pytest.raises(ValueError, match="17 characters"):
        load_labels(bad)
    bad.write_text("image,vin,legible,kind,note\na.jpg,,1,plate,\n")
    with pytest.raises(ValueError, match="legible"):
        load_labels(bad)


def test_figures_count_exact_missing_and_confidently_wrong_reads() -> None:
    labels = [VinLabel("a", "WVWZZZ1KZ8M317048", "plate"), VinLabel("b", "XTAGAB110L1243238", "plate"),
              VinLabel("c", "X7L4SRAV455292915", "plate"), VinLabel("d", "XWEKU814DEC003645", "plate"),
              VinLabel("e", None, "sticker", "blurred")]
    reads = {"a": ("WVWZZZ1KZ8M317048", 0.95), "b": ("XTAGAB110L1243288", 0.93), "c": None,
             "d": ("XWEKU814DEC003645", 0.7), "e": ("1G1ZD5E00CF274441", 0.99)}
    f = figures(labels, reads)
    assert (f.labelled, f.legible, f.exact, f.returned, f.no_vin) == (5, 4, 2, 3, 1)
    assert (f.confident, f.confident_exact, f.confident_wrong_17) == (2, 1, 1)
    assert f.illegible_returned == 1
    assert f.char_accuracy == pytest.approx((1 + 16 / 17 + 1) / 3)
    table = lines(labels, reads)
    assert table[2].startswith("| **all** | 5 | 4 | 0.500 (2/4) |")
