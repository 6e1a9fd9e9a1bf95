"""Plain value objects for fields read from a document photo."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldRead:
    """One field: its protocol name, the value, a 0..1 confidence and what the validators said."""

    name: str
    value: str
    confidence: float
    validated: bool = False  # a checksum/format rule accepted the value
    corrected: bool = False  # an OCR-confusion correction was applied
    # The recogniser's per-character probabilities of `value` as read (None when unknown); only the
    # validators use them, to change a character that was read with low confidence.
    char_scores: tuple[float, ...] | None = field(default=None, compare=False, repr=False)
    # How many independent reads of the photo gave exactly `value` (VIN plates are read several times:
    # picloss/engines/ocr/vin_read.py); 0 when the value comes from one read only.
    agreeing: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class DocumentRead:
    """The fields of one photo; image_class is the PROTOCOL §7 name, e.g. IDCARD_FRONT."""

    fileid: str
    image_class: str
    fields: list[FieldRead]

    def field(self, name: str) -> FieldRead | None:
        return next((f for f in self.fields if f.name == name), None)
