"""One document photo -> validated fields: preprocessing, OCR once, the text's class, extraction, validation.

The photo is OCRed once; the class is then decided from the text (labels and titles at label positions,
`decide_class`) and the fields are extracted AND validated with that final class, so a 行驶证 sent as an
ID card gets 行驶证 fields, never ID-card fields. Only when a pass yields no validated field is the photo
tried rotated (90/270° when most text boxes stand upright, else 180°): ordinary photos pay nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picloss.documents.model import FieldRead
from picloss.documents.validators import validate_fields
from services.ocr.engine import OcrEngine
from services.ocr.extract import MIN_EVIDENCE, class_scores, decide_class, extract_fields
from services.ocr.layout import Row, group_rows

MAX_OCR_SIDE = 1600  # larger photos are shrunk first: the recogniser works on 48-pixel-high lines
LICENCES = frozenset({"DRIVER_LICENSE", "DRIVING_LICENSE"})
VIN_FIELD_NAMES = frozenset({"vin"})


@dataclass(frozen=True)
class DocumentResult:
    fields: list[FieldRead]
    detected_class: str | None  # the final class when it differs from the one asked for, else None
    rotation: int = 0  # degrees (counter-clockwise) the photo was turned for the kept read
    ocr_passes: int = 1
    text_class: str | None = None  # the document class the text itself names (labels, title, a valid VIN), or None


def shrink(rgb: np.ndarray, max_side: int = MAX_OCR_SIDE) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return rgb
    return cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def red_channel(rgb: np.ndarray) -> np.ndarray:
    """Red seals vanish on the red channel while black print stays dark."""
    red = rgb[:, :, 0]
    return np.repeat(red[:, :, None], 3, axis=2)


def rotate(rgb: np.ndarray, degrees: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(rgb, k=degrees // 90))


def fields_for(rows: list[Row], asked: str) -> tuple[str, list[FieldRead]]:
    """(final class, validated fields) of one pass. A VIN that fails validation is no VIN: dropped."""
    final = decide_class(rows, asked)
    fields = validate_fields(extract_fields(final, rows))
    if final == "VIN":
        fields = [f for f in fields if f.name not in VIN_FIELD_NAMES or f.validated]
    return final, fields


def _upright_boxes(rows: list[Row]) -> bool:
    """Most text boxes taller than wide: the document lies on its side (90 or 270°)."""
    boxes = [line.box for row in rows for line in row.lines]
    if not boxes:
        return False
    upright = sum(np.linalg.norm(b[3] - b[0]) > 1.5 * np.linalg.norm(b[1] - b[0]) for b in boxes)
    return upright > len(boxes) / 2


def _quality(fields: list[FieldRead]) -> tuple[int, int, float]:
    return sum(f.validated for f in fields), len(fields), sum(f.confidence for f in fields)


def read_document(engine: OcrEngine, rgb: np.ndarray, image_class: str,
                  red_for_driving: bool = True) -> DocumentResult:
    image = shrink(rgb)
    if red_for_driving and image_class in LICENCES:
        image = red_channel(image)
    rows = group_rows(engine.read(image))
    final, fields = fields_for(rows, image_class)
    kept_rows = rows
    rotation, passes = 0, 1
    # Nothing validated (no field, or only garbage that fails its rules): the photo may be turned. No text
    # at all: turning cannot help.
    if not any(f.validated for f in fields) and rows:
        for degrees in ((90, 270) if _upright_boxes(rows) else (180,)):
            turned_rows = group_rows(engine.read(rotate(image, degrees)))
            passes += 1
            turned_final, turned = fields_for(turned_rows, image_class)
            if _quality(turned) > _quality(fields):
                final, fields, rotation, kept_rows = turned_final, turned, degrees, turned_rows
            if any(f.validated for f in fields):
                break
    named = class_scores(kept_rows).get(final, 0) >= MIN_EVIDENCE or (final == "VIN" and bool(fields))
    return DocumentResult(fields, final if final != image_class else None, rotation, passes,
                          final if named else None)
