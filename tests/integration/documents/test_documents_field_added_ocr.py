"""Adding a document field is one row plus its renderer line (issue 25), through the real OCR: a 驾驶证 field the code
has never heard of, given as one row of picloss/domain/documents/fields.py and drawn by one `_licence_row` line on a
family-A card, is read from the rendered photo by the OCR engine and validated as a date.

In a fresh interpreter: the row is added before anything that derives from the table is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

layouts = pytest.importorskip("training.documents.layouts")
try:
    layouts.font_path()
except layouts.FontMissing:
    pytest.skip("CJK font missing: run `make fonts` (fonts-wqy-zenhei)", allow_module_level=True)

REPO = Path(__file__).resolve().parents[3]

SCRIPT = r'''
import json
import picloss.domain.documents.fields as table

# the one row
table.FIELDS += (table.DocumentField("DRIVER_LICENSE", "有效起始日期", ("有效起始日期",), ("Valid Since",), "date",
                                     date=True),)

import random
import numpy as np
from PIL import ImageDraw
from picloss.engines.ocr.engine import OcrEngine
from picloss.engines.ocr.reader import read_document
from training.documents import layouts

card = layouts.driver_license(random.Random(7))
s = layouts.Sheet("DRIVER_LICENSE")
layouts._licence_row(ImageDraw.Draw(card.image), s, 40, 555, "有效起始日期", "2019-03-05")  # its renderer line
result = read_document(OcrEngine(threads=2), np.asarray(card.image), "DRIVER_LICENSE")
print(json.dumps({"truth": s.truth, "read": {f.name: [f.value, f.validated] for f in result.fields}},
                 ensure_ascii=False))
'''


def test_a_new_field_from_one_row_and_its_renderer_line_is_read_by_the_ocr() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["truth"] == {"有效起始日期": "2019-03-05"}
    assert out["read"]["有效起始日期"] == ["2019-03-05", True]
    assert out["read"]["有效期限"][1] is True  # the field printed above it is still read as itself
