"""The orchestrator's own routing on evaluation photos.

`picloss.engines.pipeline.pipeline.Pipeline` runs unchanged (download stage, classification, OCR | damage, the second
opinions of `picloss/engines/pipeline/routing.py`, class switches); only its model clients are replaced by
`InProcessServices`, which call the same code the gRPC servicers call (classifier `classify`, OCR `read_document`,
damage `DamageAssessor` with the car detector and damage gate at the service's default settings). So the
evaluation's "pipeline" class is the class the service would report, not a re-implementation of its rules.

The photos are already decoded (arrays): the fake fetcher hands the pipeline a JPEG only so that its download stage
can check the image; the services read the array of the photo the RPC names.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from picloss.engines.classifier.classify import classify
from picloss.engines.classifier.classify import to_proto as classification_to_proto
from picloss.engines.ocr.engine import OcrEngine
from picloss.engines.ocr.reader import DocumentResult, read_document, to_response
from picloss.engines.pipeline.fetch import Fetched
from picloss.engines.pipeline.pipeline import FileWork, Pipeline
from picloss.platform.inference import ModelRunner, OnnxRunner
from picloss.protocol.proto import class_name
from picloss.rpc.classifier.v1 import classifier_pb2
from picloss.rpc.common.v1 import common_pb2
from picloss.rpc.damage.v1 import damage_pb2
from picloss.rpc.ocr.v1 import ocr_pb2


@dataclass
class Read:
    result: DocumentResult
    response: ocr_pb2.ReadDocumentResponse
    seconds: float


@dataclass
class InProcessServices:
    """The orchestrator's `ModelClients` interface over in-process models; reads are cached per (photo, class)."""

    classifier: ModelRunner
    engine: OcrEngine
    assessor: object | None  # picloss.engines.damage.assess.DamageAssessor; None: no damage service (car photos fail)
    photos: dict[str, np.ndarray] = field(default_factory=dict)  # RPC fileid -> photo
    reads: dict[tuple[str, str], Read] = field(default_factory=dict)
    detect_calls: int = 0

    def load(self, photos: list[np.ndarray]) -> None:
        self.photos = {str(i): rgb for i, rgb in enumerate(photos)}
        self.reads = {}

    def read(self, fileid: str, image_class: str) -> Read:
        key = (fileid, image_class)
        if key not in self.reads:
            t0 = time.perf_counter()
            result = read_document(self.engine, self.photos[fileid], image_class)
            self.reads[key] = Read(result, to_response(fileid, result), time.perf_counter() - t0)
        return self.reads[key]

    async def classify(self, images: list[common_pb2.Image]) -> classifier_pb2.ClassifyResponse:
        preds = await classify(self.classifier, [self.photos[i.fileid] for i in images])
        return classifier_pb2.ClassifyResponse(
            results=[classification_to_proto(i.fileid, p) for i, p in zip(images, preds, strict=True)])

    async def read_document(self, image: common_pb2.Image, image_class: int) -> ocr_pb2.ReadDocumentResponse:
        return self.read(image.fileid, class_name(image_class).value).response

    async def detect(self, images: list[common_pb2.Image], *, features: bool = True) -> damage_pb2.DetectResponse:
        """As ModelClients.detect; `features` is ignored: no registration features here (nothing aggregates)."""
        from picloss.engines.pipeline.clients import ModelCallFailed

        if self.assessor is None:
            raise ModelCallFailed("damage", "UNAVAILABLE", "no damage models in this evaluation")
        from picloss.engines.damage.wire import result_to_proto

        self.detect_calls += len(images)
        assessments = await self.assessor.assess([self.photos[i.fileid] for i in images])  # type: ignore[attr-defined]
        return damage_pb2.DetectResponse(results=[
            result_to_proto(i.fileid, a, damage_pb2.PhotoFeatures()) for i, a in zip(images, assessments, strict=True)])

    async def aggregate(self, request: object) -> object:
        raise NotImplementedError("SINGLE mode only")


def damage_assessor(models_dir: Path, threads: int) -> object:
    """The damage service's wiring at its default settings (services/damage/config.py takes its defaults from
    these same constants): detector, damage gate and car gate; the view model is not used here."""
    from picloss.engines.damage import gate, vehicles
    from picloss.engines.damage.assess import DamageAssessor
    from picloss.engines.damage.detector import DEFAULT_SCORE_THRESHOLD, DamageDetector
    from picloss.engines.models import car_detector, damage_gate
    from picloss.engines.models.damage_detector import DAMAGE_DETECTOR

    def runner(spec):  # type: ignore[no-untyped-def]
        return OnnxRunner(spec, models_dir, threads=threads)

    return DamageAssessor.from_runners(
        DamageDetector(runner(DAMAGE_DETECTOR), DEFAULT_SCORE_THRESHOLD),
        gate_runner=runner(damage_gate.GATE_SPEC), gate_threshold=gate.DAMAGE_THRESHOLD,
        car_runner=runner(car_detector.CAR_DETECTOR), car_threshold=vehicles.DEFAULT_SCORE_THRESHOLD)


class _Fetcher:
    def __init__(self, photos: list[np.ndarray]) -> None:
        self._photos = photos

    async def fetch(self, url: str) -> Fetched:
        buf = io.BytesIO()
        Image.fromarray(self._photos[int(url.rsplit("/", 1)[1])]).save(buf, "JPEG", quality=90)
        data = buf.getvalue()
        return Fetched(data, hashlib.md5(data).hexdigest())


async def run_pipeline(services: InProcessServices, photos: list[np.ndarray]) -> list[FileWork]:
    """One SINGLE request of these photos through the orchestrator's Pipeline; the files carry the final
    `image_class`, the classifier's own `classified`, the document read and the damages."""
    files = [FileWork(idx=i, fileid=f"f{i}", fileurl=f"mem://photo/{i}", md5_given=None) for i in range(len(photos))]
    pipeline = Pipeline(clients=services, fetcher=_Fetcher(photos), max_pixels=60_000_000,  # type: ignore[arg-type]
                        fetch_concurrency=4, damage_batch=8)
    outcome = await pipeline.run("eval", "SINGLE", files)
    return outcome.files
