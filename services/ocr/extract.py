"""Field extraction per document type from rows of OCR text (labels printed on the documents)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from picloss.documents.dates import normalize_date
from picloss.documents.model import FieldRead
from picloss.documents.vin import check_vin, is_valid_vin
from services.ocr.layout import Row

# Printed label -> field name, per class (PROTOCOL §5 names; licences use the Chinese labels).
LABELS: dict[str, dict[str, str]] = {
    "IDCARD_FRONT": {"姓名": "name", "性别": "sex", "民族": "nation", "出生": "birth", "住址": "address",
                     "公民身份号码": "id"},
    "IDCARD_BACK": {"签发机关": "authority", "有效期限": "valid_date"},
    "DRIVER_LICENSE": {k: k for k in ("证号", "姓名", "性别", "国籍", "住址", "出生日期", "初次领证日期",
                                      "准驾车型", "有效期限")},
    "DRIVING_LICENSE": {k: k for k in ("号牌号码", "车辆类型", "所有人", "住址", "使用性质", "品牌型号",
                                       "车辆识别代号", "发动机号码", "注册日期", "发证日期")},
}
MULTILINE_FIELDS = frozenset({"address", "住址"})
NO_SPACE_FIELDS = frozenset({
    "id", "证号", "车辆识别代号", "号牌号码", "发动机号码", "品牌型号", "准驾车型", "vin",
    "name", "姓名", "所有人", "address", "住址", "authority",
})
TITLES = ("中华人民共和国", "居民身份证", "机动车驾驶证", "机动车行驶证")
# Text of the issuing office's seal, stamped over the licence fields: never part of a field.
SEAL_TEXT = re.compile(r"\S{0,2}管理所|\S*交通警察\S*|\S*公安局交\S*")
_EDGE_SYMBOLS = re.compile(r"^[^\w\u4e00-\u9fff]+|[^\w\u4e00-\u9fff]+$")


@dataclass
class _Piece:
    text: str
    score: float


def _split_by_labels(row: Row, labels: dict[str, str]) -> list[tuple[str | None, _Piece]]:
    """A row's text cut at each label: [(field or None, text after the label)]."""
    pattern = re.compile("|".join(sorted(map(re.escape, labels), key=len, reverse=True)))
    score = min(line.score for line in row.lines)
    text = row.text
    out: list[tuple[str | None, _Piece]] = []
    matches = list(pattern.finditer(text))
    if not matches:
        return [(None, _Piece(text, score))]
    if matches[0].start() > 0 and text[: matches[0].start()].strip():
        out.append((None, _Piece(text[: matches[0].start()], score)))
    for m, nxt in zip(matches, [*matches[1:], None], strict=True):
        out.append((labels[m.group()], _Piece(text[m.end(): nxt.start() if nxt else len(text)], score)))
    return out


def _clean(name: str, text: str) -> str:
    text = _EDGE_SYMBOLS.sub("", text.strip())
    return re.sub(r"\s+", "", text) if name in NO_SPACE_FIELDS else re.sub(r"\s+", " ", text)


def extract_labelled(image_class: str, rows: list[Row]) -> list[FieldRead]:
    labels = LABELS[image_class]
    found: dict[str, _Piece] = {}
    last: str | None = None
    for row in rows:
        for name, piece in _split_by_labels(row, labels):
            if name is not None:
                if name not in found or not found[name].text.strip():
                    found[name] = _Piece(piece.text, piece.score)
                last = name
            elif last in MULTILINE_FIELDS and found[last].text.strip() and not _is_title(piece.text):
                prev = found[last]
                found[last] = _Piece(prev.text + piece.text, min(prev.score, piece.score))
                continue
            if name is None:
                last = None
    fields = []
    for name, piece in found.items():
        value = _clean(name, piece.text)
        if name == "birth":
            value = normalize_date(value) or value
        if value:
            fields.append(FieldRead(name, value, round(piece.score, 4)))
    return fields


def _is_title(text: str) -> bool:
    return any(t in text for t in TITLES)


VIN_TOKEN = re.compile(r"[0-9A-Z]{15,19}")


def extract_vin(rows: list[Row]) -> list[FieldRead]:
    """The 17-character candidate of the photo; a checksum-valid one wins (validation happens later)."""
    candidates = []
    for row in rows:
        for line in row.lines:
            compact = re.sub(r"[\s\-*·.]", "", line.text.upper())
            for m in VIN_TOKEN.finditer(compact):
                candidates.append((m.group(), line.score))
    if not candidates:
        return []
    best = max(candidates, key=lambda c: (is_valid_vin(c[0]), check_vin(c[0]).valid, len(c[0]) == 17,
                                          -abs(len(c[0]) - 17), c[1]))
    return [FieldRead("vin", best[0], round(best[1], 4))]


def drop_seal_text(rows: list[Row]) -> list[Row]:
    """Remove the seal's words (…管理所), also when the detector merged them into a field's box."""
    kept = []
    for row in rows:
        lines = [replace(line, text=SEAL_TEXT.sub("", line.text)) for line in row.lines]
        lines = [line for line in lines if line.text.strip()]
        if lines:
            kept.append(Row(tuple(lines)))
    return kept


def extract_fields(image_class: str, rows: list[Row]) -> list[FieldRead]:
    if image_class == "VIN":
        return extract_vin(rows)
    if image_class in ("DRIVER_LICENSE", "DRIVING_LICENSE"):
        rows = drop_seal_text(rows)
    if image_class in LABELS:
        return extract_labelled(image_class, rows)
    return []


def detect_class(rows: list[Row]) -> str | None:
    """The document class the text itself names, or None when it names none."""
    text = "".join(row.text for row in rows).replace(" ", "")
    if "驾驶证" in text or "准驾车型" in text:
        return "DRIVER_LICENSE"
    if "行驶证" in text or ("号牌号码" in text and "发动机号码" in text):
        return "DRIVING_LICENSE"
    if "公民身份号码" in text or ("民族" in text and "住址" in text):
        return "IDCARD_FRONT"
    if "居民身份证" in text or "签发机关" in text:
        return "IDCARD_BACK"
    if extract_vin(rows):
        return "VIN"
    return None
