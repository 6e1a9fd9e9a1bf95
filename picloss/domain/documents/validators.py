"""Field validation for every document type: normalise, correct only sound OCR confusions, set confidence.

Confidence combines the recogniser's score with what the field's rule could prove (issue 10):
  - checksum-validated (ID number, VIN of a check-digit market): the OCR score, up to 0.99;
  - strictly pattern-validated (a closed set: sex, nation, 国籍, 准驾车型, 使用性质; a real date, a
    plausible period, a plate): the OCR score, capped at PATTERN_CAP, and at WEAK_CAP when a character
    was read below 0.8;
  - loosely validated or no rule (names, addresses, authority, 品牌型号, engine numbers, VINs of markets
    without a check digit): capped at OPEN_CAP, so they never reach 0.9; except a VIN without check digit
    whose WMI is listed and that AGREEING_READS independent reads gave character for character, none unsure
    (issue 22): AGREED_CAP;
  - corrected: capped at CORRECTED_CAP; failed: ``min(0.3 × score, 0.3)``, validated=False.
A valid ID number is a checksum-proven source of the birth date and sex: a read that agrees may take the
ID number's confidence, a read that disagrees loses it (FAILED_CAP). Nothing is ever added that was not read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date

from picloss.domain.documents.dates import normalize_date, normalize_period, parse_date
from picloss.domain.documents.fields import FIELDS, NATIONS, SEXES, names
from picloss.domain.documents.idnumber import check_id_number, id_birth_date
from picloss.domain.documents.model import FieldRead
from picloss.domain.documents.vin import LOW_CHAR_SCORE, check_vin

FAILED_FACTOR = 0.3
FAILED_CAP = 0.3
CORRECTED_CAP = 0.8
CHECKSUM_CAP = 0.99
PATTERN_CAP = 0.95
WEAK_CAP = 0.89
OPEN_CAP = 0.85
# A VIN without check digit (Europe, Russia, Japan, Korea…) read the same, character for character, by this many
# reads (picloss/engines/ocr/vin_read.py), no read disputing any character and some read sure (LOW_CHAR_SCORE) of each
# (the read's char_scores: per character the best read's probability, vin_read.DISPUTED where a read disagreed, the
# reads' mean for a character of a commonly confused pair after the WMI: vin_read.proof_scores),
# with a listed WMI: its agreement is the proof a check digit would give, capped lower.
AGREEING_READS = 3
AGREED_CAP = 0.95
UNSURE_CHAR = 0.8

# The fields of each kind, from their rows (picloss/domain/documents/fields.py).
ID_FIELDS = names(lambda f: f.validator == "id_number")
VIN_FIELDS = names(lambda f: f.validator == "vin")
DATE_FIELDS = names(lambda f: f.date)
BIRTH_FIELDS = tuple(f.name for f in FIELDS if f.id_encoded == "birth")
SEX_FIELDS = tuple(f.name for f in FIELDS if f.id_encoded == "sex")

# 使用性质 of GA 802 (the values printed on 行驶证).
USE_CHARACTERS = frozenset(
    "非营运 营运 公路客运 公交客运 出租客运 旅游客运 货运 租赁 警用 消防 救护 工程救险 营转非 出租转非 "
    "教练 幼儿校车 小学生校车 中小学生校车 初中生校车 危化品运输 预约出租客运 专用校车 其他校车".split()
)
PLATE = re.compile(r"^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z]"
                   r"[A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警港澳]$")
ENGINE_NUMBER = re.compile(r"^[0-9A-HJ-NPR-Z]{5,16}$")
_NO_IO = str.maketrans({"I": "1", "O": "0", "Q": "0"})
VEHICLE_CLASSES = re.compile(r"^(A1|A2|A3|B1|B2|C1|C2|C3|C4|C5|C6|D|E|F|M|N|P)+$")
AUTHORITY = re.compile(r"^[\u4e00-\u9fff]{2,}(公安局|公安分局|分局)$")
NAME = re.compile(r"^[\u4e00-\u9fff·]{2,15}$")


def failed(read: FieldRead) -> FieldRead:
    return replace(read, confidence=round(min(read.confidence * FAILED_FACTOR, FAILED_CAP), 4),
                   validated=False, corrected=False)


def _unsure(read: FieldRead) -> bool:
    return read.char_scores is not None and min(read.char_scores, default=1.0) < UNSURE_CHAR


def passed(read: FieldRead, value: str, corrected: bool, cap: float = PATTERN_CAP) -> FieldRead:
    if corrected:
        cap = min(cap, CORRECTED_CAP)
    if _unsure(read) and cap > WEAK_CAP:
        cap = WEAK_CAP
    return replace(read, value=value, confidence=round(min(read.confidence, cap), 4), validated=True,
                   corrected=corrected)


def open_field(read: FieldRead, value: str | None = None) -> FieldRead:
    """No rule can prove the value: it keeps the OCR score, capped below the certain range."""
    return replace(read, value=(read.value if value is None else value).strip(),
                   confidence=round(min(read.confidence, OPEN_CAP), 4), validated=False)


def _set_rule(allowed: Callable[[str], bool]) -> Callable[[FieldRead], FieldRead]:
    def rule(read: FieldRead) -> FieldRead:
        value = re.sub(r"\s", "", read.value)
        return passed(read, value, False) if allowed(value) else failed(replace(read, value=value))
    return rule


def _id_rule(read: FieldRead) -> FieldRead:
    check = check_id_number(read.value)
    if check.valid:
        return passed(read, check.value, check.corrected, CHECKSUM_CAP)
    return failed(replace(read, value=check.value))


def _all_agreed(read: FieldRead) -> bool:
    """Every character read sure by some read and disputed by none (a disputed character scores below
    LOW_CHAR_SCORE: picloss/engines/ocr/vin_read.py)."""
    return read.char_scores is not None and min(read.char_scores, default=0.0) >= LOW_CHAR_SCORE


def _vin_rule(read: FieldRead) -> FieldRead:
    check = check_vin(read.value, read.char_scores)
    if not check.valid:
        return failed(replace(read, value=check.value))
    if check.checksum:
        cap = CHECKSUM_CAP
    elif check.wmi and read.agreeing >= AGREEING_READS and _all_agreed(read):
        cap = AGREED_CAP  # no check digit, but a listed WMI and independent reads agreeing on every character
    else:
        cap = OPEN_CAP
    return passed(read, check.value, check.corrected or read.corrected, cap)


def _date_rule(read: FieldRead) -> FieldRead:
    parsed = parse_date(read.value)
    if parsed is None or not date(1900, 1, 1) <= parsed <= date.today():
        return failed(read)
    return passed(read, normalize_date(read.value) or read.value, False)


def _period_rule(style: str) -> Callable[[FieldRead], FieldRead]:
    def rule(read: FieldRead) -> FieldRead:
        result = normalize_period(read.value, style)
        if result is None:
            return failed(read)
        value, plausible = result
        return passed(read, value, False) if plausible else failed(replace(read, value=value))
    return rule


def _no_io_rule(pattern: re.Pattern[str], keep: int, cap: float) -> Callable[[FieldRead], FieldRead]:
    """Plates and engine numbers never use I/O/Q after the prefix: read them as 1/0/0 (forced readings)."""
    def rule(read: FieldRead) -> FieldRead:
        value = re.sub(r"[\s·.]", "", read.value).upper()
        mapped = value[:keep] + value[keep:].translate(_NO_IO)
        if not pattern.match(mapped):
            return failed(replace(read, value=value))
        return passed(read, mapped, mapped != value, cap)
    return rule


def _nation_rule(read: FieldRead) -> FieldRead:
    value = re.sub(r"\s", "", read.value).removesuffix("族")
    return passed(read, value, False) if value in NATIONS else failed(replace(read, value=value))


def _open_rule(pattern: re.Pattern[str] | None = None, min_len: int = 1) -> Callable[[FieldRead], FieldRead]:
    """Free text (names, addresses, authority, 品牌型号…): a shape check only; failing it is a failure."""
    def rule(read: FieldRead) -> FieldRead:
        value = read.value.strip()
        if len(value) < min_len or (pattern is not None and not pattern.match(value)):
            return failed(replace(read, value=value))
        return open_field(read, value)
    return rule


_ADDRESS = re.compile(r"^[\u4e00-\u9fff0-9A-Za-z\-#()（）·]{6,}$")
_TEXT = re.compile(r"^[\u4e00-\u9fff0-9A-Za-z\-·()（）]+$")
_MODEL = re.compile(r"^[\u4e00-\u9fff]*[0-9A-Z\-]*[0-9A-Z][0-9A-Z\-]*$|^[\u4e00-\u9fff]{2,}$")

# The rules a field's row names (its `validator`).
VALIDATORS: dict[str, Callable[[FieldRead], FieldRead]] = {
    "id_number": _id_rule,
    "vin": _vin_rule,
    "date": _date_rule,
    "idcard_period": _period_rule("idcard"),
    "licence_period": _period_rule("licence"),
    "sex": _set_rule(lambda v: v in SEXES),
    "nation": _nation_rule,
    "china": _set_rule(lambda v: v == "中国"),
    "plate": _no_io_rule(PLATE, 2, PATTERN_CAP),
    "engine_number": _no_io_rule(ENGINE_NUMBER, 0, OPEN_CAP),
    "licence_classes": _set_rule(lambda v: bool(VEHICLE_CLASSES.match(v))),
    "use_character": _set_rule(lambda v: v in USE_CHARACTERS),
    "person_name": _open_rule(NAME),
    "owner": _open_rule(_TEXT, 2),
    "address": _open_rule(_ADDRESS),
    "authority": _open_rule(AUTHORITY),
    "vehicle_type": _open_rule(re.compile(r"^[\u4e00-\u9fff]{2,10}$")),
    "brand_model": _open_rule(_MODEL, 3),
    "open": open_field,
}
# field name -> its rule (every field has one: tests/unit/shared/test_document_fields.py)
RULES: dict[str, Callable[[FieldRead], FieldRead]] = {f.name: VALIDATORS[f.validator] for f in FIELDS}


def validate_field(read: FieldRead) -> FieldRead:
    rule = RULES.get(read.name)
    return rule(read) if rule else open_field(read)


def validate_fields(fields: list[FieldRead]) -> list[FieldRead]:
    """Validate each field, then check the birth date and sex against a valid ID number (never adding)."""
    checked = [validate_field(f) for f in fields]
    return _agree_with_id_number(checked)


def _agree_with_id_number(fields: list[FieldRead]) -> list[FieldRead]:
    """A checksum-valid ID number encodes the birth date and sex. A read that agrees is confirmed by the
    checksum (its confidence may rise to the ID number's); a read that disagrees keeps its text but loses
    its confidence (one of the two is misread and the read cannot say which: no silent rewrite). Fields
    that were not read stay absent: a value nobody read is never reported."""
    id_read = next((f for f in fields if f.name in ID_FIELDS and f.validated), None)
    if id_read is None:
        return fields
    birth = id_birth_date(id_read.value)
    expected = {
        **{name: birth.isoformat() for name in BIRTH_FIELDS if birth is not None},
        **{name: "男" if int(id_read.value[16]) % 2 else "女" for name in SEX_FIELDS},
    }
    out = []
    for f in fields:
        want = expected.get(f.name)
        if want is not None and f.validated:
            if f.value == want:
                f = replace(f, confidence=round(max(f.confidence, min(id_read.confidence, CHECKSUM_CAP)), 4))
            else:
                f = replace(f, confidence=round(min(f.confidence, FAILED_CAP), 4), validated=False)
        out.append(f)
    return out
