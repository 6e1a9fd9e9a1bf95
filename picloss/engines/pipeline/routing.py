"""A photo's final class from three opinions: the image classifier, the OCR text and the car detector.

The classifier sees a 224-pixel thumbnail; it is wrong most on documents that fill the frame (scans, tight
crops) and on real VIN plates against damage close-ups. Two cheap facts decide those cases:

- the text: a photo whose OCR text names a document (its title, its labels, a VIN) and yields at least one
  field is that document, never DAMAGE; a VIN line names a VIN plate even when its VIN does not validate;
- the vehicle: a photo with a vehicle of interest (car gate of the damage service), or damage boxes the damage
  gate finds more likely than not, and no document text is DAMAGE, whatever the classifier said.

Every switch is logged and counted (`picloss_class_switches_total{from,to,reason}`), so a dashboard shows
how often each opinion overrules the classifier.
"""

from __future__ import annotations

from collections.abc import Iterable

from picloss.protocol.codes import DOCUMENT_CLASSES, FileCode, ImageClass
from picloss.protocol.proto import class_name
from picloss.rpc.damage.v1 import damage_pb2
from picloss.rpc.ocr.v1 import ocr_pb2

CAR_PHOTO_CLASSES = frozenset({ImageClass.DAMAGE, ImageClass.OTHER})
# A DAMAGE or OTHER photo is read by the OCR as well when the classifier gives a document class at least this
# probability (or when no vehicle and no damaged part is seen on it): a document misread as a car photo costs a
# made-up damage, one OCR pass costs ~0.5 s.
TEXT_CHECK_SCORE = 0.05

# Damage boxes without a vehicle make a photo a car photo only when the damage gate gives at least this: the service's
# gate threshold (picloss.engines.damage.gate.DAMAGE_THRESHOLD, 0.27) is set for damage recall, and a VIN plate's
# embossed
# characters pass it as scratches. Train photos (issue 22): 0.5 keeps ~19 of the 2,797 vin_plates/train photos VIN
# (1 of 156 classed DAMAGE/OTHER, 2 of a sample of 300 classed VIN) and makes 7 of the 5,078 damage and clean-car
# train photos not DAMAGE (all classed VIN by the classifier, with the gate between 0.27 and 0.5); 0.6 kept no more
# VIN photos and lost 10, 0.45 kept half as many.
CLOSE_UP_GATE = 0.5

# reasons, the `reason` label of the switch counter
DOCUMENT_TEXT = "document_text"
VEHICLE_SEEN = "vehicle_seen"
TEXT_NAMES_OTHER_DOCUMENT = "text_names_other_document"


def document_hint(scores: Iterable[tuple[ImageClass, float]]) -> tuple[ImageClass, float]:
    """The classifier's most likely document class and its probability (the class the OCR is asked to read)."""
    docs = [(c, s) for c, s in scores if c in DOCUMENT_CLASSES]
    if not docs:
        return ImageClass.IDCARD_FRONT, 0.0
    return max(docs, key=lambda cs: cs[1])


def vehicle_seen(damages: damage_pb2.ImageDamages | None) -> bool:
    return damages is not None and any(v.of_interest for v in damages.vehicles)


def car_evidence(damages: damage_pb2.ImageDamages | None) -> bool:
    """A vehicle of interest, or damage past the photo-level gate that the gate finds more likely than not (a close-up
    of one damaged panel)."""
    if damages is None:
        return False
    return vehicle_seen(damages) or (damages.damage_gate_passed and len(damages.damages) > 0
                                     and damages.damage_probability >= CLOSE_UP_GATE)


def needs_text_check(classified: ImageClass, doc_score: float, damages: damage_pb2.ImageDamages | None) -> bool:
    """A car-photo-classed photo is OCRed when the classifier hesitates or nothing car-like is seen on it.

    An OTHER photo is always read: the classifier itself says it is no car photo, so damage found on it by the
    damage gate alone (a document scan's print passes for scratches) must not make it a DAMAGE photo unread."""
    if classified not in CAR_PHOTO_CLASSES:
        return False
    if classified is ImageClass.OTHER:
        return True
    return doc_score >= TEXT_CHECK_SCORE or not car_evidence(damages)


def text_document(document: ocr_pb2.ReadDocumentResponse | None) -> ImageClass | None:
    """The document class the text names, when the OCR also read at least one field of it, or a VIN plate: a VIN line
    in the text (picloss/engines/ocr/reader.py) is itself the evidence, whether or not its VIN validates (a VIN photo
    the
    classifier took for a close-up of a car is answered as a VIN photo without field, not as a car photo)."""
    if document is None or not document.text_class:
        return None
    klass = class_name(document.text_class)
    if klass not in DOCUMENT_CLASSES:
        return None
    return klass if document.fields or klass is ImageClass.VIN else None


def needs_vehicle_check(classified: ImageClass, document: ocr_pb2.ReadDocumentResponse | None) -> bool:
    """A document-classed photo whose text names no document and gave no field may be a car photo."""
    if classified not in DOCUMENT_CLASSES or document is None:
        return False
    return document.result_code != FileCode.OK and not document.text_class
