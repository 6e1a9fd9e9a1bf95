"""Photos -> class probabilities through a ModelRunner (onnxruntime in-process or Triton)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picloss.engines.models.photo_classifier import (
    CLASSES,
    INPUT_NAME,
    INPUT_SIZE,
    MAX_BATCH_SIZE,
    OUTPUT_NAME,
    to_batch,
)
from picloss.platform.imaging import DEFAULT_MAX_PIXELS, decode_image
from picloss.platform.inference import ModelRunner
from picloss.protocol.proto import class_value
from picloss.rpc.classifier.v1 import classifier_pb2


@dataclass(frozen=True)
class Prediction:
    image_class: str
    score: float
    scores: list[tuple[str, float]]  # every class, highest first


# Both sides stay >= twice the model's 224 px input: to_input squashes the whole photo to 224 x 224, and from a
# DCT reduction to ~224 it scores 2 of 240 held-out documents worse than from a full decode, from >= 448 none
# (eval-docs, "Classifier on the service's reduced decode"; 224 / 320 / 448 / full compared on the same photos).
DECODE_MIN_SIDE = 2 * INPUT_SIZE


def decode(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The photo at the size the classifier needs: a JPEG decoded reduced (1/2, 1/4 or 1/8 in its DCT) while both
    sides stay >= DECODE_MIN_SIDE. Raises ImageRejected."""
    return decode_image(data, max_pixels, min_short_side=DECODE_MIN_SIDE).rgb


async def classify(runner: ModelRunner, images: list[np.ndarray]) -> list[Prediction]:
    predictions: list[Prediction] = []
    for start in range(0, len(images), MAX_BATCH_SIZE):
        batch = to_batch(images[start:start + MAX_BATCH_SIZE])
        probs = (await runner.infer({INPUT_NAME: batch}))[OUTPUT_NAME]
        predictions.extend(_prediction(row) for row in np.asarray(probs, dtype=np.float32))
    return predictions


def _prediction(probs: np.ndarray) -> Prediction:
    ranked = sorted(zip(CLASSES, (float(p) for p in probs), strict=True), key=lambda cp: -cp[1])
    return Prediction(ranked[0][0], ranked[0][1], ranked)


def to_proto(fileid: str, p: Prediction) -> classifier_pb2.Classification:
    return classifier_pb2.Classification(
        fileid=fileid, image_class=class_value(p.image_class), score=p.score,
        scores=[classifier_pb2.ClassScore(image_class=class_value(c), score=s) for c, s in p.scores])
