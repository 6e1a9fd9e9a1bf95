"""Every document field in one row (issue 25): its document, protocol name, printed labels, kind and validator.

The OCR's label tables (`picloss/engines/ocr/labels.py`: LABELS, MULTILINE_FIELDS), its value rules
(`picloss/engines/ocr/extract.py`: NO_SPACE_FIELDS, CLOSED_VALUES, DATES, DATE_LIKE, SELF_PROVING), the validators'
rules
(`picloss/domain/documents/validators.py`: RULES, DATE_FIELDS, ID_FIELDS, VIN_FIELDS…), the report's ID card words, the
SDK's masked fields and the training renderers (`training/documents/layouts.py`, `layouts_b.py`) derive from
`FIELDS`; contracts/callback.schema.json and the protocol's IDCARD_FIELDS are checked against it
(tests/unit/shared/test_document_fields.py). The held-back layout family (`training/documents/heldout_layouts.py`)
is written apart on purpose: it is the evaluation's independent drawing of the documents.

Adding a field is one row here plus its renderer line in each training family (docs/documents.md). The rows of a
document are in its reading order, which the label matcher keeps for ties: append, never reorder.

Standard library only: the SDK (picloss.client.sdk, picloss.client.report) imports it with nothing else installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# The 56 ethnic groups (民族) as the ID card prints them without 族.
NATIONS = frozenset(
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 "
    "拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 "
    "怒 乌孜别克 俄罗斯 鄂温克 德昂 "
    "保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺".split()
)
SEXES = ("男", "女")
# A nation as printed: with 族 first, then without (the longest value a text starts with wins).
NATION_VALUES = tuple(sorted((n + "族" for n in NATIONS), key=len, reverse=True)) + \
    tuple(sorted(NATIONS, key=len, reverse=True))


@dataclass(frozen=True)
class DocumentField:
    """One field of one document class.

    document: the image class (PROTOCOL §7) whose photo carries it. name: the protocol's name (§5: the ID
    card's English names, the licences' own Chinese labels). labels / english: the printed Chinese labels and
    the English sub-labels of new-style licences, with their variants; the first of each is the one the
    training renderers print. validator: the name of its rule in `picloss.domain.documents.validators.VALIDATORS`.
    Kinds: `date` a calendar date normalised to YYYY-MM-DD; `digits_first` a value that starts with a digit
    (periods, ID numbers; dates are too); `closed` its complete values as printed (a closed set), and with it
    `closed_label` (its label at a box start counts only when one of them follows: 民族大道 is no nation label);
    `multiline` continues on the rows below; `no_spaces` loses the OCR's spaces; `self_proving` ("id" or "vin")
    is the checksum that makes a number its field without its label (one per document). `id_encoded` ("birth"
    or "sex"): what a checksum-valid ID number of the same document encodes. `personal`: masked where people
    look (picloss.client.sdk.masking). `chinese_first`: the value starts with a Chinese character (a name, an address, a
    Chinese closed value, a plate's province), so a Latin run before it is a misread English sub-label.
    `words`: the English words the report prints after the first label (default: the name).
    """

    document: str
    name: str
    labels: tuple[str, ...] = ()
    english: tuple[str, ...] = ()
    validator: str = "open"
    date: bool = False
    digits_first: bool = False
    closed: tuple[str, ...] = ()
    closed_label: bool = True
    multiline: bool = False
    no_spaces: bool = False
    self_proving: str | None = None
    id_encoded: str | None = None
    personal: bool = False
    chinese_first: bool = False
    words: str = ""

    @property
    def label(self) -> str:
        """The Chinese label the renderers print."""
        return self.labels[0]

    @property
    def english_label(self) -> str:
        """The English sub-label the renderers print."""
        return self.english[0]


F = DocumentField
FIELDS: tuple[DocumentField, ...] = (
    # ID card, front
    F("IDCARD_FRONT", "name", ("姓名",), ("Name",), "person_name", no_spaces=True, personal=True, chinese_first=True),
    F("IDCARD_FRONT", "sex", ("性别",), ("Sex",), "sex", closed=SEXES, no_spaces=True, id_encoded="sex",
      chinese_first=True),
    F("IDCARD_FRONT", "nation", ("民族",), ("Ethnicity", "Nation"), "nation", closed=NATION_VALUES, no_spaces=True,
      chinese_first=True),
    F("IDCARD_FRONT", "birth", ("出生",), ("Date of Birth", "Birth"), "date", date=True, id_encoded="birth"),
    F("IDCARD_FRONT", "address", ("住址",), ("Address",), "address", multiline=True, no_spaces=True, personal=True,
      chinese_first=True),
    F("IDCARD_FRONT", "id", ("公民身份号码",), ("Citizen ID Number", "ID Number", "ID No."), "id_number",
      digits_first=True, no_spaces=True, self_proving="id", personal=True, words="ID number"),
    # ID card, back
    F("IDCARD_BACK", "authority", ("签发机关",), ("Issuing Authority", "Authority"), "authority", multiline=True,
      no_spaces=True, chinese_first=True),
    F("IDCARD_BACK", "valid_date", ("有效期限",), ("Valid Period", "Period of Validity"), "idcard_period",
      digits_first=True, words="valid"),
    # 驾驶证
    F("DRIVER_LICENSE", "证号", ("证号",), ("License No.", "Licence No.", "Driving License No."), "id_number",
      digits_first=True, no_spaces=True, self_proving="id", personal=True),
    F("DRIVER_LICENSE", "姓名", ("姓名",), ("Name",), "person_name", no_spaces=True, personal=True, chinese_first=True),
    F("DRIVER_LICENSE", "性别", ("性别",), ("Sex",), "sex", closed=SEXES, no_spaces=True, id_encoded="sex",
      chinese_first=True),
    F("DRIVER_LICENSE", "国籍", ("国籍",), ("Nationality",), "china", closed=("中国",), closed_label=False,
      no_spaces=True, chinese_first=True),
    F("DRIVER_LICENSE", "住址", ("住址",), ("Address",), "address", multiline=True, no_spaces=True, personal=True,
      chinese_first=True),
    F("DRIVER_LICENSE", "出生日期", ("出生日期",), ("Date of Birth",), "date", date=True, id_encoded="birth"),
    F("DRIVER_LICENSE", "初次领证日期", ("初次领证日期",), ("Date of First Issue", "First Issue Date", "Issue Date"),
      "date", date=True),
    F("DRIVER_LICENSE", "准驾车型", ("准驾车型",), ("Class", "Permitted Class", "Vehicle Class"), "licence_classes",
      no_spaces=True),
    F("DRIVER_LICENSE", "有效期限", ("有效期限",), ("Valid Period", "Valid From", "Period of Validity", "Valid For"),
      "licence_period", digits_first=True),
    # 行驶证
    F("DRIVING_LICENSE", "号牌号码", ("号牌号码",), ("Plate No.", "Plate Number"), "plate", no_spaces=True,
      chinese_first=True),
    F("DRIVING_LICENSE", "车辆类型", ("车辆类型",), ("Vehicle Type",), "vehicle_type", no_spaces=True,
      chinese_first=True),
    F("DRIVING_LICENSE", "所有人", ("所有人",), ("Owner",), "owner", no_spaces=True, personal=True, chinese_first=True),
    F("DRIVING_LICENSE", "住址", ("住址",), ("Address",), "address", multiline=True, no_spaces=True, personal=True,
      chinese_first=True),
    F("DRIVING_LICENSE", "使用性质", ("使用性质",), ("Use Character", "Use Nature"), "use_character", no_spaces=True,
      chinese_first=True),
    F("DRIVING_LICENSE", "品牌型号", ("品牌型号",), ("Model", "Brand Model"), "brand_model", no_spaces=True,
      chinese_first=True),
    F("DRIVING_LICENSE", "车辆识别代号", ("车辆识别代号", "车辆识别代码"), ("VIN",), "vin", no_spaces=True,
      self_proving="vin"),
    F("DRIVING_LICENSE", "发动机号码", ("发动机号码",), ("Engine No.", "Engine Number"), "engine_number",
      no_spaces=True),
    F("DRIVING_LICENSE", "注册日期", ("注册日期",), ("Register Date", "Registration Date"), "date", date=True),
    F("DRIVING_LICENSE", "发证日期", ("发证日期",), ("Issue Date", "Date of Issue"), "date", date=True),
    # VIN plate: no label to read (the VIN is found by its structure: picloss/engines/ocr/extract.py, extract_vin)
    F("VIN", "vin", validator="vin", no_spaces=True),
)
del F

IDCARD_DOCUMENTS = ("IDCARD_FRONT", "IDCARD_BACK")


def documents() -> tuple[str, ...]:
    """The document classes of the table, in its order."""
    return tuple(dict.fromkeys(f.document for f in FIELDS))


def fields_of(document: str) -> tuple[DocumentField, ...]:
    """The rows of one document class, in reading order."""
    return tuple(f for f in FIELDS if f.document == document)


def document_field(document: str, name: str) -> DocumentField:
    for f in FIELDS:
        if f.document == document and f.name == name:
            return f
    raise KeyError(f"{document} has no field {name!r} in the table (picloss/domain/documents/fields.py)")


def names(where: Callable[[DocumentField], bool]) -> frozenset[str]:
    """The protocol names of the rows that `where` accepts."""
    return frozenset(f.name for f in FIELDS if where(f))

