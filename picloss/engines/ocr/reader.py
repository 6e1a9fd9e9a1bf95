"""One document photo -> validated fields: preprocessing, OCR once, the text's class, extraction, validation.

The photo is OCRed once; the class is then decided from the text (labels and titles at label positions,
`decide_class`) and the fields are extracted AND validated with that final class, so a 行驶证 sent as an
ID card gets 行驶证 fields, never ID-card fields. Only when a pass yields no validated field is the photo
tried rotated (90/270° when most text boxes stand upright, else 180°), and a photo whose text runs vertically is
tried at 90° and 270° (both, the better read kept) whatever it yielded: ordinary photos pay nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from picloss.domain.documents.model import FieldRead
from picloss.domain.documents.validators import validate_fields
from picloss.engines.ocr.engine import OcrEngine
from picloss.engines.ocr.extract import MIN_EVIDENCE, class_scores, decide_class, extract_fields
from picloss.engines.ocr.layout import Row, group_rows
from picloss.engines.ocr.vin_read import names_vin, read_vin
from picloss.protocol.codes import FileCode
from picloss.protocol.proto import class_value
from picloss.rpc.ocr.v1 import ocr_pb2

MAX_OCR_SIDE = 1600  # larger photos are shrunk first: the recogniser works on 48-pixel-high lines
LICENCES = frozenset({"DRIVER_LICENSE", "DRIVING_LICENSE"})
VIN_FIELD_NAMES = frozenset({"vin"})


@dataclass(frozen=True)
class DocumentResult:
    fields: list[FieldRead]
    detected_class: str | None  # the final class when it differs from the one asked for, else None
    rotation: int = 0  # degrees (counter-clockwise) the photo was turned for the kept read
    ocr_passes: int = 1
    text_class: str | None = None  # the document class the text itself names (labels, title, a VIN line), or None


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


@dataclass(frozen=True)
class Pass:
    """One OCR pass: its rows, the evidence per class, the final class and its validated fields."""

    rows: list[Row]
    scores: dict[str, int]
    final: str
    fields: list[FieldRead]


def fields_for(rows: list[Row], asked: str) -> Pass:
    """The final class and validated fields of one pass. A VIN that fails validation is no VIN: dropped."""
    scores = class_scores(rows)
    final = decide_class(rows, asked, scores)
    fields = validate_fields(extract_fields(final, rows))
    if final == "VIN":
        fields = [f for f in fields if f.name not in VIN_FIELD_NAMES or f.validated]
    return Pass(rows, scores, final, fields)


def with_vin_reread(engine: OcrEngine, image: np.ndarray, found: Pass) -> Pass:
    """On a VIN photo, the VIN of the pass's rows read again properly (picloss/engines/ocr/vin_read.py: the VIN line
    rectified, enlarged, inverted and contrast-stretched, a consensus of the reads); the pass's own VIN stays when
    the re-read validates nothing."""
    if found.final != "VIN":
        return found
    reread = [f for f in validate_fields(read_vin(engine, image, found.rows)) if f.validated]
    if not reread:
        return found
    return replace(found, fields=[f for f in found.fields if f.name not in VIN_FIELD_NAMES] + reread)


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
    best = with_vin_reread(engine, image, fields_for(group_rows(engine.read(image)), image_class))
    rotation, passes = 0, 1
    # The photo may be turned when nothing validated (no field, or only garbage that fails its rules), or when
    # most text boxes stand upright (the text runs vertically: a document on its side, of which a few long
    # numbers may still read, e.g. the VIN of a 行驶证 without any of its labels). No text: turning cannot help.
    on_its_side = _upright_boxes(best.rows)
    if best.rows and (on_its_side or not any(f.validated for f in best.fields)):
        for degrees in ((90, 270) if on_its_side else (180,)):
            turned_image = rotate(image, degrees)
            turned = with_vin_reread(engine, turned_image, fields_for(group_rows(engine.read(turned_image)),
                                                                      image_class))
            passes += 1
            if _quality(turned.fields) > _quality(best.fields):
                best, rotation = turned, degrees
            # a photo on its side is read both ways: text read upside down still yields a closed value by chance
            # (a vehicle class, a nation), so a first side with a field is not proof it was the right one
    final, fields = best.final, best.fields
    # values without their label, claimed by content only now that the orientation is decided (upside-down text
    # yields closed values by chance, and a pass with a validated field would not be turned)
    if final != "VIN":
        read = {f.name for f in fields}
        fields = fields + [f for f in validate_fields(extract_fields(final, best.rows, by_content=True))
                           if f.name not in read]
    named = best.scores.get(final, 0) >= MIN_EVIDENCE or (final == "VIN" and bool(fields))
    # A VIN line (vin_read.names_vin: letters and digits ending in a serial) names a VIN plate even when its VIN does
    # not validate (a character misread, cut or covered): a VIN photo without field, never a car photo
    # (picloss/engines/pipeline/routing.py).
    text_class = final if named else "VIN" if names_vin(best.rows) else None
    return DocumentResult(fields, final if final != image_class else None, rotation, passes, text_class)


MODEL_VERSION = "rapidocr-3.10.0/PP-OCRv6-small"


def to_response(fileid: str, result: DocumentResult) -> ocr_pb2.ReadDocumentResponse:
    """The wire form of one read (also used by the evaluation's in-process pipeline)."""
    fields = [ocr_pb2.Field(name=f.name, value=f.value, confidence=f.confidence, validated=f.validated,
                            corrected=f.corrected) for f in result.fields]
    return ocr_pb2.ReadDocumentResponse(
        fileid=fileid, fields=fields, result_code=FileCode.OK if fields else FileCode.NO_FIELD,
        model_version=MODEL_VERSION, detected_class=class_value(result.detected_class),
        text_class=class_value(result.text_class))
