"""The final class of a photo from the classifier's answer and the OCR text's second opinion."""

from __future__ import annotations

from picloss.protocol.codes import DOCUMENT_CLASSES


def resolve_class(classified: str, ocr_detected: str | None) -> str:
    """The OCR keywords (公民身份号码, 居民身份证, 驾驶证, 行驶证, a VIN) win over the image classifier for
    documents: the classifier sees a 224-pixel thumbnail, the OCR reads the printed title and labels."""
    if classified in DOCUMENT_CLASSES and ocr_detected in DOCUMENT_CLASSES:
        return ocr_detected
    return classified
