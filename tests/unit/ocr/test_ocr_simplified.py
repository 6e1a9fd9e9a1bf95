"""The recogniser sometimes reads a simplified character of a mainland document as its traditional form (seen on
training-family B documents printed in AR PL UKai: 中國, 江蘇省, 鄧國霞): the engine
reports such a character as its simplified form, one for one, and leaves every other character alone."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from picloss.engines.ocr.engine import OcrEngine, simplified
from picloss.engines.ocr.simplified import SIMPLIFIED, TRADITIONAL


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def test_traditional_forms_read_on_documents_become_the_printed_simplified_ones() -> None:
    assert simplified("江蘇省歷下區利結街205號") == "江苏省历下区利结街205号"
    assert simplified("鄧國霞") == "邓国霞"
    assert simplified("國籍 中國") == "国籍 中国"


def test_characters_mainland_text_uses_as_they_are_are_never_changed() -> None:
    # in GB 2312 themselves: 於 (a surname), 乾, 著 stay; Latin letters, digits and simplified text stay
    assert simplified("於乾著") == "於乾著"
    assert simplified("LSV6ND2P4L4034093 粤B12345 汉族 公民身份号码") == "LSV6ND2P4L4034093 粤B12345 汉族 公民身份号码"


def test_the_table_maps_one_character_outside_gb2312_to_one_inside() -> None:
    assert len(TRADITIONAL) == len(SIMPLIFIED) == len(set(TRADITIONAL)) > 2000
    assert all(not _in_gb2312(t) and _in_gb2312(s) and t != s for t, s in zip(TRADITIONAL, SIMPLIFIED, strict=True))


@dataclass
class _WordInfo:
    confs: list[float] = field(default_factory=list)


@dataclass
class _Result:  # the shape of rapidocr's output that OcrEngine.read uses
    txts: tuple[str, ...]
    scores: tuple[float, ...]
    boxes: np.ndarray
    word_results: tuple[_WordInfo, ...]


def test_the_engine_reports_lines_simplified_with_their_scores_still_aligned() -> None:
    engine = object.__new__(OcrEngine)  # no models: the rapidocr call is replaced by its recorded output
    boxes = np.zeros((1, 4, 2), np.float32)
    engine._ocr = lambda bgr: _Result(("國籍 中國",), (0.9,), boxes,  # type: ignore[attr-defined]
                                      (_WordInfo([0.99, 0.98, 0.5, 0.97, 0.6]),))
    engine._lock = threading.Lock()  # type: ignore[attr-defined]
    (line,) = engine.read(np.zeros((32, 64, 3), np.uint8))
    assert line.text == "国籍 中国"
    assert line.char_scores == (0.99, 0.98, 0.97, 0.6)
    assert line.scores_per_char() == [0.99, 0.98, 0.9, 0.97, 0.6]


@dataclass
class _DetResult:  # the shape of rapidocr's detector output that OcrEngine.detect uses
    boxes: np.ndarray | None


class _DetOnly:
    """rapidocr with only its detector used: records the image it was given."""

    def __init__(self, boxes: np.ndarray | None) -> None:
        self.boxes = boxes
        self.seen: list[np.ndarray] = []

    def _load_det_model(self) -> Callable[[np.ndarray], _DetResult]:
        def detector(bgr: np.ndarray) -> _DetResult:
            self.seen.append(bgr)
            return _DetResult(self.boxes)
        return detector


def test_the_detector_alone_gives_the_boxes_of_the_photo_as_sent_in_bgr() -> None:
    engine = object.__new__(OcrEngine)
    boxes = np.array([[[1, 2], [30, 2], [30, 9], [1, 9]]], np.float64)
    engine._ocr = _DetOnly(boxes)  # type: ignore[attr-defined]
    engine._lock = threading.Lock()  # type: ignore[attr-defined]
    rgb = np.zeros((16, 32, 3), np.uint8)
    rgb[..., 0] = 200  # red
    (box,) = engine.detect(rgb)
    assert box.dtype == np.float32 and box.shape == (4, 2) and box[1, 0] == 30
    assert engine._ocr.seen[0][0, 0].tolist() == [0, 0, 200]  # type: ignore[attr-defined]  # rapidocr wants BGR
    engine._ocr = _DetOnly(None)  # type: ignore[attr-defined]  # nothing found
    assert engine.detect(rgb) == []
