"""Date normalisation: every date field becomes YYYY-MM-DD; validity periods keep their printed form.

Chosen formats (docs/documents.md):
  - dates (birth, 出生日期, 初次领证日期, 注册日期, 发证日期): ``YYYY-MM-DD``;
  - ID card ``valid_date``: ``YYYY.MM.DD-YYYY.MM.DD`` or ``YYYY.MM.DD-长期`` as printed on the card;
  - 驾驶证 ``有效期限``: ``YYYY-MM-DD至YYYY-MM-DD`` or ``YYYY-MM-DD至长期``.
"""

from __future__ import annotations

import re
from datetime import date

from picloss.domain.documents.confusions import TO_DIGIT

_DATE = re.compile(r"(\d{4})\D{0,2}?(\d{1,2})\D{0,2}?(\d{1,2})")
_LONG_TERM = "长期"


def _digits_fixed(text: str) -> str:
    return "".join(TO_DIGIT.get(ch, ch) for ch in text)


def parse_date(text: str) -> date | None:
    """The first plausible date in text (e.g. 1990年1月2日, 19900102, 1990.01.02), or None."""
    compact = _digits_fixed(re.sub(r"\s", "", text))
    for m in _DATE.finditer(compact):
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
    return None


def normalize_date(text: str) -> str | None:
    parsed = parse_date(text)
    return parsed.isoformat() if parsed else None


def _add_years(start: date, years: int) -> date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


def _period(text: str) -> tuple[date, date | None] | None:
    compact = _digits_fixed(re.sub(r"\s", "", text))
    found = []
    for m in _DATE.finditer(compact):
        try:
            found.append(date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        except ValueError:
            return None
    if len(found) == 2 and found[1] > found[0]:
        return found[0], found[1]
    if len(found) == 1 and _LONG_TERM in text:
        return found[0], None
    return None


def normalize_period(text: str, style: str) -> tuple[str, bool] | None:
    """(normalised period, plausible) or None when no period is found.

    style "idcard" -> ``2015.03.01-2035.03.01``; "licence" -> ``2015-03-01至2021-03-01``.
    Plausible: ID cards run 5, 10 or 20 years or 长期; driver licences 6 or 10 years or 长期.
    """
    parsed = _period(text)
    if parsed is None:
        return None
    start, end = parsed
    terms = (5, 10, 20) if style == "idcard" else (6, 10)
    plausible = end is None or any(_add_years(start, n) == end for n in terms)
    if style == "idcard":
        fmt = "{:%Y.%m.%d}-{}"
        end_text = _LONG_TERM if end is None else f"{end:%Y.%m.%d}"
    else:
        fmt = "{:%Y-%m-%d}至{}"
        end_text = _LONG_TERM if end is None else end.isoformat()
    return fmt.format(start, end_text), plausible
