"""Masking of personal data where people look (issue 23): the reviewer's report, the command line's print-out
and the demo's. The way Chinese services show them: the first and the last character, every other one a `*`
(张*丰, 1****************X); two characters keep the first (张*). `--show-personal` shows them in full.

Masked: ID numbers (the ID card's and the driver licence's 证号, 档案编号), names (姓名, the owner 所有人) and
addresses (住址). Plates and VINs stay readable: they identify the vehicle the reviewer assesses. Photos of
documents are left out of the report unless shown in full (they show the same fields)."""

from __future__ import annotations

from picloss.client.sdk._protocol import codes
from picloss.domain.documents.fields import names

# the personal fields of the table (picloss/domain/documents/fields.py), and the 驾驶证's 档案编号, not read today
MASKED_FIELDS = names(lambda f: f.personal) | {"档案编号"}
# photos of the documents that carry them (a VIN plate's photo does not)
PERSONAL_PHOTO_CLASSES = frozenset(c.value for c in codes.DOCUMENT_CLASSES if c is not codes.ImageClass.VIN)
SHOW_PERSONAL_HELP = "show ID numbers, names and addresses in full (default: masked, 张*丰)"


def mask(value: str) -> str:
    """`张三丰` → `张*丰`, `张三` → `张*`, `11010519491231002X` → `1****************X`."""
    if len(value) <= 1:
        return "*" * len(value)
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def shown(field: str, value: str, reveal: bool = False) -> str:
    """What to print of a document field: masked when it is personal, unless `reveal`."""
    return value if reveal or field not in MASKED_FIELDS else mask(value)
