"""The classifier servicer: each photo decoded once at the model's size, one answer per image, in order."""

from __future__ import annotations

import asyncio
import io

import numpy as np
from PIL import Image

from picloss.engines.classifier.classify import decode
from picloss.engines.models.photo_classifier import CLASSES, INPUT_NAME, OUTPUT_NAME
from picloss.platform.observability.metrics import REGISTRY
from picloss.protocol.proto import class_name
from picloss.rpc.classifier.v1 import classifier_pb2
from picloss.rpc.common.v1 import common_pb2
from services.classifier.servicer import SERVICE, ClassifierServicer


def jpeg(width: int, height: int, value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


class BrightnessRunner:
    """Stands in for the model: DAMAGE for a bright photo, VIN for a dark one; records what it was given."""

    backend = "onnxruntime"

    def __init__(self) -> None:
        self.batches: list[np.ndarray] = []
        self.waited = self.closed = 0

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = inputs[INPUT_NAME]
        self.batches.append(batch)
        probs = np.full((len(batch), len(CLASSES)), 0.01, np.float32)
        for i, image in enumerate(batch):
            probs[i, CLASSES.index("DAMAGE" if image.mean() > 128 else "VIN")] = 0.9
        return {OUTPUT_NAME: probs}

    async def wait_ready(self) -> None:
        self.waited += 1

    async def close(self) -> None:
        self.closed += 1


def test_decode_reduces_a_large_photo_but_keeps_both_sides_at_twice_the_model_input() -> None:
    assert decode(jpeg(4000, 3000, 200)).shape == (750, 1000, 3)  # 1/4: 1/8 would give a 375 px short side
    assert decode(jpeg(1000, 900, 200)).shape == (450, 500, 3)
    assert decode(jpeg(800, 600, 200)).shape == (600, 800, 3)  # 1/2 would give 300 < 448
    assert decode(jpeg(300, 250, 200)).shape == (250, 300, 3)


def test_every_image_gets_its_answer_in_order_and_an_undecodable_one_unspecified() -> None:
    runner = BrightnessRunner()
    servicer = ClassifierServicer(runner)  # type: ignore[arg-type]
    before = REGISTRY.get_sample_value("picloss_classifier_photos_total", {"image_class": "UNSPECIFIED"}) or 0.0
    images = [jpeg(4000, 3000, 230), b"broken", jpeg(640, 480, 20)]
    request = classifier_pb2.ClassifyRequest(
        images=[common_pb2.Image(fileid=f"f{i}", data=d) for i, d in enumerate(images)])
    resp = asyncio.run(servicer.Classify(request, None))  # type: ignore[arg-type]
    assert [r.fileid for r in resp.results] == ["f0", "f1", "f2"]
    assert [class_name(resp.results[i].image_class) for i in (0, 2)] == ["DAMAGE", "VIN"]
    assert resp.results[1].image_class == 0 and resp.results[1].score == 0.0  # IMAGE_CLASS_UNSPECIFIED
    assert [b.shape for b in runner.batches] == [(2, 3, 224, 224)]  # the two readable photos, one batch
    after = REGISTRY.get_sample_value("picloss_classifier_photos_total", {"image_class": "UNSPECIFIED"})
    assert after == before + 1


def test_warm_up_waits_for_the_model_and_runs_one_photo() -> None:
    runner = BrightnessRunner()
    servicer = ClassifierServicer(runner)  # type: ignore[arg-type]
    asyncio.run(servicer.warm_up())
    asyncio.run(servicer.close())
    assert (runner.waited, len(runner.batches), runner.closed) == (1, 1, 1)
    assert SERVICE.full_name == "picloss.classifier.v1.ClassifierService"
