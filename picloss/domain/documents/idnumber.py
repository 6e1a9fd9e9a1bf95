"""Resident ID numbers (公民身份号码) per GB 11643-1999: region, birth date, order, check character."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from picloss.domain.documents.confusions import TO_DIGIT

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)

# First two digits: provinces, autonomous regions, municipalities (GB/T 2260), Taiwan, Hong Kong, Macao.
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
})
_SHAPE = re.compile(r"^\d{17}[\dX]$")


def id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def id_birth_date(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def is_valid_id_number(number: str, today: date | None = None) -> bool:
    """Shape, province code, a real birth date from 1800 on, not in the future, check character."""
    if not _SHAPE.match(number) or number[:2] not in PROVINCE_CODES:
        return False
    birth = id_birth_date(number)
    if birth is None or birth.year < 1800 or birth > (today or date.today()):
        return False
    return id_check_char(number[:17]) == number[17]


@dataclass(frozen=True)
class IdCheck:
    value: str
    valid: bool
    corrected: bool


def check_id_number(raw: str) -> IdCheck:
    """Validate, correcting OCR confusions only when exactly one candidate is valid."""
    value = re.sub(r"[\s\-]", "", raw).upper()
    if is_valid_id_number(value):
        return IdCheck(value, True, False)
    # Positions 1..17 are digits: a confusable letter there has one digit reading.
    digits = "".join(TO_DIGIT.get(ch, ch) for ch in value[:17]) + value[17:]
    if len(digits) == 18 and digits != value and is_valid_id_number(digits):
        return IdCheck(digits, True, True)
    return IdCheck(value, False, False)
