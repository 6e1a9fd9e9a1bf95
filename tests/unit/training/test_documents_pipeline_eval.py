"""`make eval-docs` measures the service's own routing: the orchestrator's Pipeline on in-process services
(training/documents/pipeline_eval.py). Fake models here, so each opinion is set exactly; no torch."""

from __future__ import annotations

import asyncio

import numpy as np

from picloss.engines.damage.assess import Assessment
from picloss.engines.damage.vehicles import Vehicle
from picloss.engines.models.photo_classifier import CLASSES, OUTPUT_NAME
from picloss.engines.ocr.engine import OcrLine
from training.documents.pipeline_eval import InProcessServices, run_pipeline

ID = "11010519491231002X"


def _line(text: str, x: float, y: float, w: float = 200) -> OcrLine:
    return OcrLine(text, 0.99, np.array([[x, y], [x + w, y], [x + w, y + 30], [x, y + 30]], np.float32))


ID_FRONT = [_line("姓名 张三", 40, 40), _line("性别 男 民族 汉", 40, 100), _line("公民身份号码", 40, 300, 180),
            _line(ID, 240, 300, 360)]


class Runner:
    """The classifier: the class of each photo is written in its first pixel (index into CLASSES)."""

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = next(iter(inputs.values()))
        probs = np.full((len(batch), len(CLASSES)), 0.001, np.float32)
        for i, image in enumerate(batch):
            probs[i, round(float(image[0, 0, 0])) % len(CLASSES)] = 0.99
        return {OUTPUT_NAME: probs}


class Engine:
    """The OCR: ID-card text on photos whose second pixel is 1, nothing elsewhere."""

    def read(self, rgb: np.ndarray) -> list[OcrLine]:
        return ID_FRONT if rgb[0, 1, 0] == 1 else []

    def detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        return []  # no VIN line to read again (picloss/engines/ocr/vin_read.py)


class Assessor:
    """The damage service: a car of interest on photos whose third pixel is 1."""

    def __init__(self) -> None:
        self.seen = 0

    async def assess(self, photos: list[np.ndarray]) -> list[Assessment]:
        self.seen += len(photos)
        out = []
        for rgb in photos:
            car = [Vehicle((0.0, 0.0, 50.0, 50.0), "car", 0.9)] if rgb[0, 2, 0] == 1 else []
            out.append(Assessment([], [], car, car[0] if car else None, 0.1, False, "no_damage_gate"))
        return out


def _photo(klass: str, text: bool = False, car: bool = False) -> np.ndarray:
    rgb = np.full((224, 224, 3), 200, np.uint8)
    rgb[0, 0] = CLASSES.index(klass)
    rgb[0, 1], rgb[0, 2] = int(text), int(car)
    return rgb


def test_pipeline_gives_the_class_the_service_reports() -> None:
    services = InProcessServices(Runner(), Engine(), Assessor())  # type: ignore[arg-type]
    photos = [_photo("DAMAGE", text=True),  # a document scan the classifier calls DAMAGE, no car: read, ID front
              _photo("VIN", car=True),  # a car photo called VIN, unread: the vehicle check makes it DAMAGE
              _photo("VIN"),  # an unread VIN photo without a vehicle: stays VIN (2001)
              _photo("IDCARD_FRONT", text=True)]
    services.load(photos)
    files = asyncio.run(run_pipeline(services, photos))
    assert [f.image_class.value for f in files] == ["IDCARD_FRONT", "DAMAGE", "VIN", "IDCARD_FRONT"]
    assert [f.classified.value for f in files] == ["DAMAGE", "VIN", "VIN", "IDCARD_FRONT"]
    assert files[0].damages is None and files[3].document is not None
    # a read is cached per (photo, class): the evaluation's read with the true class is the pipeline's read
    assert services.read("3", "IDCARD_FRONT").response is services.read("3", "IDCARD_FRONT").response
