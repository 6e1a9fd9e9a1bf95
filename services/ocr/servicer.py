"""gRPC OcrService: reads the fields of one document photo whose class is already known."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import grpc
import structlog

from picloss.engines.ocr.engine import OcrEngine
from picloss.engines.ocr.reader import read_document, to_response
from picloss.platform.imaging import DEFAULT_MAX_PIXELS, ImageRejected, decode_image
from picloss.protocol.codes import DOCUMENT_CLASSES
from picloss.protocol.proto import class_of
from picloss.rpc.ocr.v1 import ocr_pb2, ocr_pb2_grpc
from services.ocr.metrics import DOCUMENTS_READ

SERVICE = ocr_pb2.DESCRIPTOR.services_by_name["OcrService"]

log = structlog.get_logger()


class OcrServicer(ocr_pb2_grpc.OcrServiceServicer):
    """One engine per worker; each request takes a free one. Engines are passed in, or made by `make_engine`
    (`workers` of them) in `warm_up`, after the server started; requests wait for a free one.

    The photo is decoded at full resolution: the text recogniser reads line crops of the photo itself (only the
    text detector works on a reduced copy, OCR_DET_SIDE)."""

    def __init__(self, engines: Sequence[OcrEngine] = (), red_for_driving: bool = True,
                 max_pixels: int = DEFAULT_MAX_PIXELS, *, make_engine: Callable[[], OcrEngine] | None = None,
                 workers: int = 0) -> None:
        self._free: asyncio.Queue[OcrEngine] = asyncio.Queue()
        for engine in engines:
            self._free.put_nowait(engine)
        self._red = red_for_driving
        self._max_pixels = max_pixels
        self._make_engine = make_engine
        self._workers = workers

    async def warm_up(self) -> None:
        """Each engine reads one photo before the service reports SERVING."""
        for _ in range(self._workers if self._make_engine else 0):
            assert self._make_engine is not None
            engine = await asyncio.to_thread(self._make_engine)
            await asyncio.to_thread(engine.warm_up)
            self._free.put_nowait(engine)
        log.info("ocr engines warm", engines=self._free.qsize())

    async def close(self) -> None:
        return None  # the engines hold no connection

    async def ReadDocument(self, request: ocr_pb2.ReadDocumentRequest,
                           context: grpc.aio.ServicerContext) -> ocr_pb2.ReadDocumentResponse:
        asked = class_of(request.image_class)
        if asked not in DOCUMENT_CLASSES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"image_class must be a document class, got {asked or 'UNSPECIFIED'}")
        assert asked is not None
        image_class = asked  # an ImageClass from here on (a str: the reader compares it with its class names)
        try:
            decoded = await asyncio.to_thread(decode_image, request.image.data, self._max_pixels)
        except ImageRejected as exc:
            DOCUMENTS_READ.labels(image_class, "rejected").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"image rejected ({exc.code}): {exc.reason}")
        engine = await self._free.get()
        try:
            result = await asyncio.to_thread(read_document, engine, decoded.rgb, image_class, self._red)
        finally:
            self._free.put_nowait(engine)
        outcome = "other_class" if result.detected_class else ("fields" if result.fields else "no_field")
        DOCUMENTS_READ.labels(image_class, outcome).inc()
        log.info("document read", fileid=request.image.fileid, image_class=image_class, fields=len(result.fields),
                 detected_class=result.detected_class, rotation=result.rotation, ocr_passes=result.ocr_passes)
        return to_response(request.image.fileid, result)
