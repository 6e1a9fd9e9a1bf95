"""Issue 23, item 4: personal data masked where people look — the reviewer's report, the command line's and the
demo's print-outs — first and last characters shown, with an explicit option to show them in full."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image
from protocol_examples import query_response, single_callback

from devkit.demo import describe as demo_describe
from picloss.client.cli import describe, describe_query, main
from picloss.client.report import render
from picloss.client.sdk import parse_callback, parse_query
from picloss.client.sdk.masking import MASKED_FIELDS, mask, shown

ID, NAME, ADDRESS = "11010519491231002X", "张三", "北京市朝阳区某某路1号"  # single_callback()'s ID card
PERSONAL = (ID, NAME, ADDRESS)


@pytest.mark.parametrize(("value", "masked"), [
    ("张三丰", "张*丰"), ("张三", "张*"), ("欧阳娜娜", "欧**娜"), ("张", "*"), ("", ""),
    ("11010519491231002X", "1****************X"), ("北京市朝阳区某某路1号", "北*********号"),
])
def test_first_and_last_characters_are_shown(value: str, masked: str) -> None:
    assert mask(value) == masked and len(mask(value)) == len(value)


def test_only_personal_fields_are_masked() -> None:
    assert shown("姓名", "李四") == "李*" and shown("证号", ID) == mask(ID) and shown("住址", ADDRESS) == mask(ADDRESS)
    assert shown("号牌号码", "京A12345") == "京A12345" and shown("vin", "LSVAU2180N2183294") == "LSVAU2180N2183294"
    assert shown("姓名", "李四", reveal=True) == "李四"
    assert {"id", "name", "address", "证号", "姓名", "所有人", "住址"} <= MASKED_FIELDS


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 10, 10)).save(buf, format="JPEG")
    return buf.getvalue()


def test_the_report_masks_by_default_and_leaves_document_photos_out() -> None:
    body = single_callback()
    photo = jpeg()
    md5 = hashlib.md5(photo).hexdigest()
    for section in ("idcards", "single_loss"):
        body[section][0]["file"]["filemd5"] = md5
    for f in body["files"]:
        if f["fileid"] in ("F-1", "F-5"):
            f["filemd5"] = md5
    callback = parse_callback(body)
    photos = {"F-1": photo, "F-5": photo}  # an ID card photo and a damage photo
    embedded = base64.b64encode(photo).decode()[:40]

    html = render(callback, photos)
    for value in PERSONAL:
        assert value not in html
    assert mask(ID) in html and mask(NAME) in html and mask(ADDRESS) in html
    assert "LSVAU2180N2183294" in html and "京A12345" in html                 # the vehicle stays readable
    assert "✓ GB 11643 check character" in html                             # checked on the full value
    assert html.count(embedded) >= 1 and "1 document photo(s) left out" in html and "--show-personal" in html

    full = render(callback, photos, reveal_personal=True)
    for value in PERSONAL:
        assert value in full
    assert "left out" not in full and full.count(embedded) > html.count(embedded)  # the ID card photo is back


def test_the_command_line_and_demo_print_outs_mask_unless_asked(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    callback = parse_callback(single_callback())
    for text in (describe(callback), demo_describe(single_callback()),
                 describe_query(parse_query(query_response("DELIVERED")))):
        assert not any(value in text for value in PERSONAL) and mask(ID) in text and "LSVAU2180N2183294" in text
    assert all(value in describe(callback, reveal=True) for value in PERSONAL)

    saved = tmp_path / "cb.json"
    saved.write_text(json.dumps(single_callback(), ensure_ascii=False))
    assert main(["report", str(saved), "-o", str(tmp_path / "masked.html")]) == 0
    assert main(["report", str(saved), "-o", str(tmp_path / "full.html"), "--show-personal"]) == 0
    capsys.readouterr()
    masked, full = (tmp_path / "masked.html").read_text(), (tmp_path / "full.html").read_text()
    assert ID not in masked and NAME not in masked and ID in full and NAME in full


def test_an_expired_result_is_said_in_the_query_print_out() -> None:
    answer = query_response("DELIVERED")
    del answer["result"]
    answer |= {"result_msg": "result expired", "result_expired_at": "2026-12-07T12:00:00+00:00"}
    assert "result expired (deleted 2026-12-07T12:00:00+00:00" in describe_query(parse_query(answer))
