"""One document photo -> validated fields: preprocessing, OCR, layout, extraction, validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picloss.documents.model import FieldRead
from picloss.documents.validators import validate_fields
from services.ocr.engine import OcrEngine
from services.ocr.extract import detect_class, extract_fields
from services.ocr.layout import group_rows

MAX_OCR_SIDE = 1600  # larger photos are shrunk first: the recogniser works on 48-pixel-high lines


@dataclass(frozen=True)
class DocumentResult:
    fields: list[FieldRead]
    detected_class: str | None


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


def read_document(engine: OcrEngine, rgb: np.ndarray, image_class: str,
                  red_for_driving: bool = True) -> DocumentResult:
    image = shrink(rgb)
    if red_for_driving and image_class == "DRIVING_LICENSE":
        image = red_channel(image)
    rows = group_rows(engine.read(image))
    fields = validate_fields(extract_fields(image_class, rows))
    seen = detect_class(rows)
    return DocumentResult(fields, seen if seen not in (None, image_class) else None)
