"""The training renderers (families A and B) draw every field of the table (picloss/domain/documents/fields.py): each
document's ground truth names its rows, in the table's order. The held-back family is written apart on purpose."""

from __future__ import annotations

import random

import pytest

from picloss.domain.documents.fields import fields_of

layouts = pytest.importorskip("training.documents.layouts")
from training.documents import layouts_b  # noqa: E402

try:
    layouts.font_path()
    layouts_b.font_paths()
except layouts.FontMissing as exc:
    pytest.skip(f"{exc}", allow_module_level=True)


@pytest.mark.parametrize("family", [layouts.RENDERERS, layouts_b.RENDERERS], ids=["A", "B"])
def test_each_training_family_draws_every_row_of_the_table(family: dict) -> None:
    for image_class, render in family.items():
        for seed in (1, 2):
            card = render(random.Random(seed))
            assert card.image_class == image_class
            assert list(card.truth) == [f.name for f in fields_of(image_class)], image_class


def test_a_sheet_prints_the_rows_label_and_keeps_the_truth_in_drawing_order() -> None:
    s = layouts.Sheet("DRIVING_LICENSE")
    assert s.label("车辆识别代号", "LSVAU2180N2183294") == "车辆识别代号"
    assert s.field("发动机号码", "AB12345").english_label == "Engine No."
    assert s.truth == {"车辆识别代号": "LSVAU2180N2183294", "发动机号码": "AB12345"}
    with pytest.raises(KeyError):  # a field the table does not have is never drawn
        s.label("档案编号", "1")
