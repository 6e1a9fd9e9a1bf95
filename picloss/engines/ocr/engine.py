"""The rapidocr engine on the PP-OCR ONNX models bundled in the rapidocr wheel (never downloaded).

Every model path is passed explicitly, so rapidocr never resolves a model from its download table; input
is always a numpy array (a string would be read as a path or fetched as a URL by rapidocr). One engine
per worker: options are fixed at construction, never passed per call (per-call options mutate it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from picloss.engines.ocr.simplified import SIMPLIFIED, TRADITIONAL

BUNDLED_MODELS = (
    "PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx", "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
)


@dataclass(frozen=True)
class OcrLine:
    """One detected text box. `char_scores` are the recogniser's per-character probabilities, aligned with
    the non-space characters of `text` (None when unknown): they say which character may be corrected."""

    text: str
    score: float
    box: np.ndarray  # 4x2 float, corners clockwise from top-left, pixels of the input image
    char_scores: tuple[float, ...] | None = None

    def scores_per_char(self) -> list[float]:
        """A score for every character of `text` (spaces included); the line score where none is known."""
        if self.char_scores is None:
            return [self.score] * len(self.text)
        it = iter(self.char_scores)
        return [self.score if ch.isspace() else next(it, self.score) for ch in self.text]


# The documents read here are printed in simplified characters, but the recogniser's dictionary also holds
# traditional ones, and on a print it was not trained on it sometimes reads a character as its traditional form
# (中國, 江蘇省, 鄧). Such a character, one outside GB 2312 with a single simplified form inside it, is taken as that
# form: the same character, one for one, so the per-character scores stay aligned (docs/protocol-decisions.md).
_TO_SIMPLIFIED = str.maketrans(TRADITIONAL, SIMPLIFIED)


def simplified(text: str) -> str:
    return text.translate(_TO_SIMPLIFIED)


def _char_scores(text: str, word_info: Any) -> tuple[float, ...] | None:
    """The recogniser's per-character probabilities of one line (rapidocr's CTC `WordInfo.confs`, one per
    decoded character, spaces included), kept for the non-space characters; None when they do not align."""
    confs = getattr(word_info, "confs", None)
    if confs is None or len(confs) != len(text):
        return None
    try:
        return tuple(float(s) for ch, s in zip(text, confs, strict=True) if not ch.isspace())
    except (TypeError, ValueError):
        return None


def _rapidocr_class() -> type:
    """RapidOCR whose word results are the recogniser's own (text, per-character probabilities).

    With `return_word_box` rapidocr also computes a box per character (`CalRecBoxes`: ~5 % of a read, pure
    Python) that nothing here uses, and pairs the probabilities with the characters of the words, which drops
    the spaces and shifts every probability after a space by one. The recogniser's `WordInfo.confs` are
    aligned with the line's text itself.
    """
    from rapidocr import RapidOCR

    class CharScoreOCR(RapidOCR):  # type: ignore[misc]
        def calc_word_boxes(self, img: Any, dt_boxes: Any, rec_res: Any) -> Any:
            return tuple(rec_res.word_results)

    return CharScoreOCR


def bundled_model_dir() -> Path:
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


def engine_params(model_dir: Path, threads: int, det_side: int) -> dict[str, object]:
    for name in BUNDLED_MODELS:
        if not (model_dir / name).is_file():
            raise FileNotFoundError(f"bundled OCR model {model_dir / name} missing (rapidocr==3.10.0)")
    return {
        "Global.use_cls": False,  # the line-orientation classifier garbles stamped VINs; photos are upright
        "Global.log_level": "error",
        # Per-character scores (CTC probabilities): a VIN character may only be corrected where it was unsure.
        # (the per-character boxes rapidocr would compute with these are skipped: `_rapidocr_class`)
        "Global.return_word_box": True,
        "Global.return_single_char_box": True,
        "Global.model_root_dir": str(model_dir),
        "Det.model_path": str(model_dir / BUNDLED_MODELS[0]),
        "Rec.model_path": str(model_dir / BUNDLED_MODELS[1]),
        "Cls.model_path": str(model_dir / BUNDLED_MODELS[2]),
        "Det.limit_side_len": det_side,
        "Det.limit_type": "max",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
    }


class OcrEngine:
    """One rapidocr instance, used by one thread at a time."""

    def __init__(self, threads: int = 2, det_side: int = 736, model_dir: Path | None = None) -> None:
        self._ocr = _rapidocr_class()(params=engine_params(model_dir or bundled_model_dir(), threads, det_side))
        self._lock = threading.Lock()

    def read(self, rgb: np.ndarray) -> list[OcrLine]:
        if not isinstance(rgb, np.ndarray) or rgb.ndim != 3:
            raise TypeError("OcrEngine.read takes an HxWx3 uint8 array only")
        with self._lock:
            result: Any = self._ocr(np.ascontiguousarray(rgb[:, :, ::-1]))  # rapidocr expects BGR arrays
        if result.boxes is None or result.txts is None:
            return []
        words = list(result.word_results or ())
        if len(words) != len(result.txts):
            words = [None] * len(result.txts)
        return [OcrLine(simplified(str(t)), float(s), np.asarray(b, dtype=np.float32), _char_scores(str(t), w))
                for t, s, b, w in zip(result.txts, result.scores, result.boxes, words, strict=True)]

    def detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        """The detector alone: the text boxes (4x2 float, corners clockwise from top-left, pixels of `rgb`) in
        reading order, nothing recognised. Used to find a VIN line again on a small photo enlarged, where only the
        long boxes need reading (picloss/engines/ocr/vin_read.py)."""
        if not isinstance(rgb, np.ndarray) or rgb.ndim != 3:
            raise TypeError("OcrEngine.detect takes an HxWx3 uint8 array only")
        with self._lock:
            result: Any = self._ocr._load_det_model()(np.ascontiguousarray(rgb[:, :, ::-1]))
        if result.boxes is None:
            return []
        return [np.asarray(box, dtype=np.float32) for box in result.boxes]

    def recognize(self, crops: list[np.ndarray]) -> list[OcrLine]:
        """The recogniser alone on text-line crops (HxWx3 RGB, one line each): one read per crop, in order, with
        its per-character probabilities; the box is the crop's own rectangle. Used to read a VIN line again,
        rectified, enlarged and in other contrasts (picloss/engines/ocr/vin_read.py)."""
        if not crops:
            return []
        from rapidocr.ch_ppocr_rec.typings import TextRecInput

        with self._lock:
            recogniser = self._ocr._load_rec_model()
            result: Any = recogniser(TextRecInput(img=[np.ascontiguousarray(c[:, :, ::-1]) for c in crops],
                                                  return_word_box=True))
        words = list(result.word_results or ())
        if len(words) != len(crops):
            words = [None] * len(crops)
        out = []
        for crop, text, score, word in zip(crops, result.txts, result.scores, words, strict=True):
            h, w = crop.shape[:2]
            box = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
            out.append(OcrLine(simplified(str(text)), float(score), box, _char_scores(str(text), word)))
        return out

    def warm_up(self) -> None:
        canvas = np.full((240, 640, 3), 255, np.uint8)
        canvas[100:140, 40:600] = 0
        self.read(canvas)
