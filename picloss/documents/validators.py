"""Field validation for every document type: normalise, correct sound OCR confusions, set confidence.

A value that fails its rule keeps its text but its confidence is multiplied by FAILED_FACTOR and capped
at FAILED_CAP, so it is never presented as certain. A corrected value is capped at CORRECTED_CAP.
Fields without a rule (names, addresses, authority) keep the recogniser's confidence, validated=False.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date

from picloss.documents.dates import normalize_date, normalize_period, parse_date
from picloss.documents.idnumber import check_id_number, id_birth_date
from picloss.documents.model import FieldRead
from picloss.documents.vin import check_vin

FAILED_FACTOR = 0.3
FAILED_CAP = 0.3
CORRECTED_CAP = 0.8

ID_FIELDS = frozenset({"id", "证号"})
VIN_FIELDS = frozenset({"vin", "车辆识别代号"})
DATE_FIELDS = frozenset({"birth", "出生日期", "初次领证日期", "注册日期", "发证日期"})
BIRTH_FIELDS = ("birth", "出生日期")
SEX_FIELDS = ("sex", "性别")

NATIONS = frozenset(
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 "
    "拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 "
    "怒 乌孜别克 俄罗斯 鄂温克 德昂 "
    "保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺".split()
)
PLATE = re.compile(r"^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z]"
                   r"[A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警港澳]$")
ENGINE_NUMBER = re.compile(r"^[0-9A-HJ-NPR-Z]{5,16}$")
_NO_IO = str.maketrans({"I": "1", "O": "0", "Q": "0"})
VEHICLE_CLASSES = re.compile(r"^(A1|A2|A3|B1|B2|C1|C2|C3|C4|C5|C6|D|E|F|M|N|P)+$")


def failed(read: FieldRead) -> FieldRead:
    return replace(read, confidence=min(read.confidence * FAILED_FACTOR, FAILED_CAP), validated=False)


def passed(read: FieldRead, value: str, corrected: bool) -> FieldRead:
    confidence = min(read.confidence, CORRECTED_CAP) if corrected else read.confidence
    return replace(read, value=value, confidence=confidence, validated=True, corrected=corrected)


def _set_rule(allowed: Callable[[str], bool]) -> Callable[[FieldRead], FieldRead]:
    def rule(read: FieldRead) -> FieldRead:
        value = re.sub(r"\s", "", read.value)
        return passed(read, value, False) if allowed(value) else failed(replace(read, value=value))
    return rule


def _id_rule(read: FieldRead) -> FieldRead:
    check = check_id_number(read.value)
    if check.valid:
        return passed(read, check.value, check.corrected)
    return failed(replace(read, value=check.value))


def _vin_rule(read: FieldRead) -> FieldRead:
    check = check_vin(read.value)
    if check.valid:
        return passed(read, check.value, check.corrected)
    return failed(replace(read, value=check.value))


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


def _no_io_rule(pattern: re.Pattern[str], keep: int) -> Callable[[FieldRead], FieldRead]:
    """Plates and engine numbers never use I/O/Q after the prefix: read them as 1/0/0."""
    def rule(read: FieldRead) -> FieldRead:
        value = re.sub(r"[\s·.]", "", read.value).upper()
        mapped = value[:keep] + value[keep:].translate(_NO_IO)
        if not pattern.match(mapped):
            return failed(replace(read, value=value))
        return passed(read, mapped, mapped != value)
    return rule


def _nation_rule(read: FieldRead) -> FieldRead:
    value = re.sub(r"\s", "", read.value).removesuffix("族")
    return passed(read, value, False) if value in NATIONS else failed(replace(read, value=value))


RULES: dict[str, Callable[[FieldRead], FieldRead]] = {
    **{name: _id_rule for name in ID_FIELDS},
    **{name: _vin_rule for name in VIN_FIELDS},
    **{name: _date_rule for name in DATE_FIELDS},
    "valid_date": _period_rule("idcard"),
    "有效期限": _period_rule("licence"),
    "sex": _set_rule(lambda v: v in ("男", "女")),
    "性别": _set_rule(lambda v: v in ("男", "女")),
    "nation": _nation_rule,
    "国籍": _set_rule(lambda v: v == "中国"),
    "号牌号码": _no_io_rule(PLATE, 2),
    "发动机号码": _no_io_rule(ENGINE_NUMBER, 0),
    "准驾车型": _set_rule(lambda v: bool(VEHICLE_CLASSES.match(v))),
}


def validate_field(read: FieldRead) -> FieldRead:
    rule = RULES.get(read.name)
    return rule(read) if rule else replace(read, value=read.value.strip(), validated=False)


def validate_fields(fields: list[FieldRead]) -> list[FieldRead]:
    """Validate each field, then check the birth date and sex against a valid ID number."""
    checked = [validate_field(f) for f in fields]
    return _agree_with_id_number(checked)


def _agree_with_id_number(fields: list[FieldRead]) -> list[FieldRead]:
    id_read = next((f for f in fields if f.name in ID_FIELDS and f.validated), None)
    if id_read is None:
        return fields
    birth = id_birth_date(id_read.value)
    sex = "男" if int(id_read.value[16]) % 2 else "女"
    out = []
    for f in fields:
        if f.name in BIRTH_FIELDS and birth is not None and f.value != birth.isoformat():
            # The checksum-valid ID number fixes the birth date; a differing read is a misread.
            f = replace(f, value=birth.isoformat(), confidence=min(f.confidence, id_read.confidence,
                        CORRECTED_CAP), validated=True, corrected=True)
        elif f.name in SEX_FIELDS and f.value != sex:
            f = replace(f, value=sex, confidence=min(f.confidence, id_read.confidence, CORRECTED_CAP),
                        validated=True, corrected=True)
        out.append(f)
    # Birth date and sex are encoded in a valid ID number: supply them when the photo's own read is missing.
    birth_name, sex_name = ("birth", "sex") if id_read.name == "id" else ("出生日期", "性别")
    names = {f.name for f in out}
    derived_conf = min(id_read.confidence, CORRECTED_CAP)
    if birth_name not in names and birth is not None:
        out.append(FieldRead(birth_name, birth.isoformat(), derived_conf, validated=True, corrected=True))
    if sex_name not in names:
        out.append(FieldRead(sex_name, sex, derived_conf, validated=True, corrected=True))
    return out
