"""The exported photo classifier through the real ClassifierService over gRPC (onnxruntime in-process)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import grpc
import numpy as np
import pytest

from picloss.platform.grpcserver import CHANNEL_OPTIONS
from picloss.platform.inference import OnnxRunner
from picloss.rpc.classifier.v1 import classifier_pb2, classifier_pb2_grpc
from picloss.rpc.common.v1 import common_pb2

layouts = pytest.importorskip("training.documents.layouts")
try:
    layouts.font_path()
except layouts.FontMissing:
    pytest.skip("CJK font missing: run `make fonts` (fonts-wqy-zenhei)", allow_module_level=True)

from picloss.engines.models.photo_classifier import CLASSES, PHOTO_CLASSIFIER  # noqa: E402
from services.classifier.servicer import ClassifierServicer  # noqa: E402
from training.documents.render import render_document  # noqa: E402

DOCUMENTS = ("IDCARD_FRONT", "IDCARD_BACK", "DRIVER_LICENSE", "DRIVING_LICENSE", "VIN")


@pytest.fixture(scope="module")
def runner() -> OnnxRunner:
    if not PHOTO_CLASSIFIER.onnx_path().exists():
        pytest.fail("models/photo_classifier/1/model.onnx missing: run `make train-classifier`")
    return OnnxRunner(PHOTO_CLASSIFIER, threads=2)


@pytest.fixture
async def stub(runner: OnnxRunner) -> AsyncIterator[classifier_pb2_grpc.ClassifierServiceStub]:
    server = grpc.aio.server(options=CHANNEL_OPTIONS)
    classifier_pb2_grpc.add_ClassifierServiceServicer_to_server(ClassifierServicer(runner), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS) as channel:
        yield classifier_pb2_grpc.ClassifierServiceStub(channel)
    await server.stop(None)


def _name(value: int) -> str:
    return common_pb2.ImageClass.Name(value).removeprefix("IMAGE_CLASS_")


async def test_rendered_documents_and_a_car_like_image_are_classified(
        stub: classifier_pb2_grpc.ClassifierServiceStub) -> None:
    rng = random.Random(99)
    docs = [render_document(c, rng, size=(1024, 768)) for c in DOCUMENTS]
    images = [common_pb2.Image(fileid=d.image_class, data=d.jpeg()) for d in docs]
    images.append(common_pb2.Image(fileid="broken", data=b"not an image"))
    response = await stub.Classify(classifier_pb2.ClassifyRequest(images=images))

    assert [r.fileid for r in response.results] == [i.fileid for i in images]
    for result in response.results[:len(DOCUMENTS)]:
        assert _name(result.image_class) == result.fileid
        assert len(result.scores) == len(CLASSES)
        assert [s.score for s in result.scores] == sorted((s.score for s in result.scores), reverse=True)
        assert sum(s.score for s in result.scores) == pytest.approx(1.0, abs=1e-3)
    broken = response.results[-1]
    assert broken.image_class == common_pb2.IMAGE_CLASS_UNSPECIFIED and broken.score == 0


async def test_real_car_photos_are_not_documents(stub: classifier_pb2_grpc.ClassifierServiceStub) -> None:
    """Whole cars of clean_cars valid (never trained on). The issue-3 test drew a synthetic "car" of shapes instead;
    the issue-10 classifier is trained on real car photos and calls that drawing VIN, so real photos are the
    measure now (make eval-docs: 0.949 of the 195 valid photos are DAMAGE)."""
    from training.documents.classifier_data import clean_car_paths

    paths = clean_car_paths("eval")[:: 10]
    if not paths:
        pytest.skip("shared datasets not present")
    images = [common_pb2.Image(fileid=str(i), data=p.read_bytes()) for i, p in enumerate(paths)]
    response = await stub.Classify(classifier_pb2.ClassifyRequest(images=images))
    not_documents = sum(_name(r.image_class) not in DOCUMENTS for r in response.results)
    assert not_documents >= 0.85 * len(paths), f"{not_documents} of {len(paths)} car photos not classed a document"


async def test_empty_request_gives_empty_response(stub: classifier_pb2_grpc.ClassifierServiceStub) -> None:
    response = await stub.Classify(classifier_pb2.ClassifyRequest())
    assert list(response.results) == [] and response.model_version


def test_model_file_is_small_enough() -> None:
    assert PHOTO_CLASSIFIER.onnx_path().stat().st_size < 25 * 1024 * 1024


def test_batch_of_blank_images_runs(runner: OnnxRunner) -> None:
    out = runner.infer_sync({"images": np.zeros((3, 3, 224, 224), np.float32)})
    assert out["probs"].shape == (3, len(CLASSES))
