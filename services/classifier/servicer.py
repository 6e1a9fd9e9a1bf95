"""gRPC ClassifierService: one class + score per image, same order as the request."""

from __future__ import annotations

import asyncio

import grpc
import numpy as np
import structlog

from picloss.engines.classifier.classify import classify, decode, to_proto
from picloss.platform.imaging import DEFAULT_MAX_PIXELS, ImageRejected
from picloss.platform.inference import ModelRunner
from picloss.rpc.classifier.v1 import classifier_pb2, classifier_pb2_grpc
from services.classifier.metrics import PHOTOS_CLASSIFIED

MODEL_VERSION = "photo_classifier/1 (EfficientNet-Lite0 features + MLP head)"
SERVICE = classifier_pb2.DESCRIPTOR.services_by_name["ClassifierService"]

log = structlog.get_logger()


def _decode_all(images: list[bytes], max_pixels: int) -> list[np.ndarray | None]:
    out: list[np.ndarray | None] = []
    for data in images:
        try:
            out.append(decode(data, max_pixels))
        except ImageRejected:
            out.append(None)
    return out


class ClassifierServicer(classifier_pb2_grpc.ClassifierServiceServicer):
    """The runner is passed in; an image that cannot be decoded gets IMAGE_CLASS_UNSPECIFIED, score 0."""

    def __init__(self, runner: ModelRunner, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self._runner = runner
        self._max_pixels = max_pixels

    async def warm_up(self) -> None:
        """The model answers one photo before the service reports SERVING."""
        await self._runner.wait_ready()
        await classify(self._runner, [np.zeros((240, 320, 3), np.uint8)])
        log.info("classifier warm", backend=self._runner.backend)

    async def close(self) -> None:
        await self._runner.close()

    async def Classify(self, request: classifier_pb2.ClassifyRequest,
                       context: grpc.aio.ServicerContext) -> classifier_pb2.ClassifyResponse:
        decoded = await asyncio.to_thread(_decode_all, [img.data for img in request.images], self._max_pixels)
        readable = [rgb for rgb in decoded if rgb is not None]
        predictions = iter(await classify(self._runner, readable))
        results = []
        for image, rgb in zip(request.images, decoded, strict=True):
            if rgb is None:
                log.warning("undecodable image", fileid=image.fileid)
                results.append(classifier_pb2.Classification(fileid=image.fileid))
                PHOTOS_CLASSIFIED.labels("UNSPECIFIED").inc()
                continue
            prediction = next(predictions)
            PHOTOS_CLASSIFIED.labels(prediction.image_class).inc()
            results.append(to_proto(image.fileid, prediction))
        return classifier_pb2.ClassifyResponse(results=results, model_version=MODEL_VERSION)
