"""Adding a document field is one row of the table (picloss/domain/documents/fields.py, issue 25): a 驾驶证 field that
the
code has never heard of, given as one row, is read from OCR lines, validated as a date, sent in the callback (valid
against contracts/), parsed back by the SDK's parser and shown in the reviewer's report.

In a fresh interpreter: the row is added before anything that derives from the table is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

SCRIPT = r'''
import json
import picloss.domain.documents.fields as table

# the one row
table.FIELDS += (table.DocumentField("DRIVER_LICENSE", "有效起始日期", ("有效起始日期",), ("Valid Since",), "date",
                                     date=True),)

import numpy as np
from picloss.domain.documents.validators import validate_fields
from picloss.engines.ocr.engine import OcrLine
from picloss.engines.ocr.extract import extract_fields
from picloss.engines.ocr.layout import group_rows
from picloss.rpc.ocr.v1 import ocr_pb2
from picloss.engines.pipeline.pipeline import FileWork, Outcome
from picloss.protocol import json as pjson
from picloss.protocol.callback import build_body
from picloss.protocol.codes import ImageClass
from picloss.protocol.results import parse_callback
from picloss.protocol.schemas import validator
from picloss.client.report.html import render


def line(text, x, y, w=300, h=30):
    return OcrLine(text, 0.98, np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float32))


rows = group_rows([line("中华人民共和国机动车驾驶证", 170, 24, 500), line("证号 11010519491231002X", 40, 100),
                   line("准驾车型 C1", 40, 440), line("有效起始日期 2019 年 3 月 5 日", 40, 560, 400)])
fields = validate_fields(extract_fields("DRIVER_LICENSE", rows))
f = FileWork(0, "F0", "https://cos.example.com/c/0.jpg", None, md5="0" * 32, image_class=ImageClass.DRIVER_LICENSE)
f.document = ocr_pb2.ReadDocumentResponse(fileid="0", model_version="ocr/1", fields=[
    ocr_pb2.Field(name=x.name, value=x.value, confidence=x.confidence, validated=x.validated) for x in fields])
body = build_body(appid="a", mchid="m", nonce="n", timestamp=1_732_000_000, accept_seqno="PL20241119000000abcdef",
                  req_seqno="R1", model="SINGLE", outcome=Outcome([f]))
validator("callback").validate(body)
callback = parse_callback(pjson.dumps(body))
html = render(callback)
print(json.dumps({
    "read": {x.name: [x.value, x.validated, x.confidence] for x in fields},
    "sent": body["driver_licenses"][0]["items"],
    "parsed": [[x.name, x.value] for x in callback.documents[0].fields],
    "reported": "<tr><td>有效起始日期</td><td>2019-03-05</td>" in html,
}, ensure_ascii=False))
'''


def test_a_new_field_from_one_row_is_read_validated_sent_parsed_and_reported() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    value, validated, confidence = out["read"]["有效起始日期"]
    assert (value, validated) == ("2019-03-05", True) and confidence <= 0.95  # a date: normalised, pattern-capped
    assert out["read"]["证号"][:2] == ["11010519491231002X", True] and out["read"]["准驾车型"][0] == "C1"
    assert {"item": "有效起始日期", "itemstring": "2019-03-05", "itemconf": confidence} in out["sent"]
    assert ["有效起始日期", "2019-03-05"] in out["parsed"]
    assert out["reported"] is True
