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

BUNDLED_MODELS = (
    "PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx", "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
)


@dataclass(frozen=True)
class OcrLine:
    text: str
    score: float
    box: np.ndarray  # 4x2 float, corners clockwise from top-left, pixels of the input image


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
        from rapidocr import RapidOCR

        self._ocr = RapidOCR(params=engine_params(model_dir or bundled_model_dir(), threads, det_side))
        self._lock = threading.Lock()

    def read(self, rgb: np.ndarray) -> list[OcrLine]:
        if not isinstance(rgb, np.ndarray) or rgb.ndim != 3:
            raise TypeError("OcrEngine.read takes an HxWx3 uint8 array only")
        with self._lock:
            result: Any = self._ocr(np.ascontiguousarray(rgb[:, :, ::-1]))  # rapidocr expects BGR arrays
        if result.boxes is None or result.txts is None:
            return []
        return [OcrLine(str(t), float(s), np.asarray(b, dtype=np.float32))
                for t, s, b in zip(result.txts, result.scores, result.boxes, strict=True)]

    def warm_up(self) -> None:
        canvas = np.full((240, 640, 3), 255, np.uint8)
        canvas[100:140, 40:600] = 0
        self.read(canvas)
