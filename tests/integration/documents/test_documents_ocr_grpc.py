"""Rendered fake documents through the real OCR service over gRPC (in-process grpc.aio server)."""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator, Iterator

import grpc
import numpy as np
import pytest

from picloss.platform.grpcserver import CHANNEL_OPTIONS
from picloss.platform.imaging import encode_jpeg
from picloss.rpc.common.v1 import common_pb2
from picloss.rpc.ocr.v1 import ocr_pb2, ocr_pb2_grpc

layouts = pytest.importorskip("training.documents.layouts")
try:
    layouts.font_path()
except layouts.FontMissing:
    pytest.skip("CJK font missing: run `make fonts` (fonts-wqy-zenhei)", allow_module_level=True)

from picloss.engines.ocr.engine import OcrEngine  # noqa: E402
from services.ocr.servicer import OcrServicer  # noqa: E402
from training.documents.render import render_document  # noqa: E402


@pytest.fixture(scope="module")
def no_network() -> Iterator[None]:
    """Any Python-level connection attempt (a model download) fails the test."""
    original = socket.socket.connect

    def refuse(self: socket.socket, address: object) -> None:
        raise AssertionError(f"network access attempted: {address}")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    yield
    socket.socket.connect = original  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def engine(no_network: None) -> OcrEngine:
    engine = OcrEngine(threads=2)
    engine.warm_up()
    return engine


@pytest.fixture
async def stub(engine: OcrEngine) -> AsyncIterator[ocr_pb2_grpc.OcrServiceStub]:
    server = grpc.aio.server(options=CHANNEL_OPTIONS)
    ocr_pb2_grpc.add_OcrServiceServicer_to_server(OcrServicer([engine]), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS) as channel:
        yield ocr_pb2_grpc.OcrServiceStub(channel)
    await server.stop(None)


def _request(data: bytes, image_class: str, fileid: str = "f1") -> ocr_pb2.ReadDocumentRequest:
    return ocr_pb2.ReadDocumentRequest(
        image=common_pb2.Image(fileid=fileid, data=data),
        image_class=common_pb2.ImageClass.Value(f"IMAGE_CLASS_{image_class}"))


@pytest.mark.parametrize(("image_class", "seed"), [
    ("IDCARD_FRONT", 11), ("IDCARD_BACK", 12), ("DRIVER_LICENSE", 13), ("DRIVING_LICENSE", 14), ("VIN", 15),
])
async def test_rendered_document_fields_are_read(stub: ocr_pb2_grpc.OcrServiceStub, image_class: str,
                                                 seed: int) -> None:
    doc = render_document(image_class, random.Random(seed), size=(1024, 768))
    response = await stub.ReadDocument(_request(doc.jpeg(), image_class, f"doc-{seed}"))
    got = {f.name: f for f in response.fields}
    assert response.result_code == 0 and response.fileid == f"doc-{seed}"
    exact = [name for name, value in doc.truth.items() if name in got and got[name].value == value]
    assert len(exact) >= len(doc.truth) - 1, {n: (v, got[n].value if n in got else None)
                                               for n, v in doc.truth.items()}
    for key in ("id", "证号", "车辆识别代号", "vin"):
        if key in doc.truth:
            assert got[key].value == doc.truth[key] and got[key].validated
    assert response.detected_class == common_pb2.IMAGE_CLASS_UNSPECIFIED
    # the text itself names the document: the orchestrator relies on it to keep documents out of DAMAGE
    assert response.text_class == common_pb2.ImageClass.Value(f"IMAGE_CLASS_{image_class}")


async def test_blank_photo_gets_no_field_code(stub: ocr_pb2_grpc.OcrServiceStub) -> None:
    blank = encode_jpeg(np.full((600, 800, 3), 128, np.uint8))
    response = await stub.ReadDocument(_request(blank, "IDCARD_FRONT"))
    assert response.result_code == 2001 and not response.fields
    assert response.text_class == common_pb2.IMAGE_CLASS_UNSPECIFIED  # no text: it names no document


async def test_other_document_type_is_reported(stub: ocr_pb2_grpc.OcrServiceStub) -> None:
    back = render_document("IDCARD_BACK", random.Random(21), size=(1024, 768))
    response = await stub.ReadDocument(_request(back.jpeg(), "IDCARD_FRONT"))
    assert response.detected_class == common_pb2.IMAGE_CLASS_IDCARD_BACK


async def test_switched_class_is_read_with_the_final_class(stub: ocr_pb2_grpc.OcrServiceStub) -> None:
    """Issue 10: a 行驶证 sent as an ID card came back with ID-card (or `vin`) items."""
    doc = render_document("DRIVING_LICENSE", random.Random(31), size=(1024, 768))
    response = await stub.ReadDocument(_request(doc.jpeg(), "IDCARD_FRONT"))
    assert response.detected_class == common_pb2.IMAGE_CLASS_DRIVING_LICENSE
    assert response.text_class == common_pb2.IMAGE_CLASS_DRIVING_LICENSE
    names = {f.name for f in response.fields}
    assert names <= set(doc.truth) and "vin" not in names and len(names) >= len(doc.truth) - 1


async def test_photo_turned_by_90_degrees_is_read(stub: ocr_pb2_grpc.OcrServiceStub) -> None:
    doc = render_document("IDCARD_FRONT", random.Random(32), size=(1024, 768))
    turned = encode_jpeg(np.ascontiguousarray(np.rot90(doc.rgb, 1)))
    response = await stub.ReadDocument(_request(turned, "IDCARD_FRONT"))
    got = {f.name: f.value for f in response.fields}
    assert response.result_code == 0 and got.get("id") == doc.truth["id"]


async def test_undecodable_image_is_invalid_argument(stub: ocr_pb2_grpc.OcrServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ReadDocument(_request(b"not an image", "VIN"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
