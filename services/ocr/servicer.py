"""gRPC OcrService: reads the fields of one document photo whose class is already known."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
import structlog

from picloss.imaging import ImageRejected, decode_image
from picloss.ocr.engine import OcrEngine
from picloss.ocr.reader import read_document, to_response
from picloss.ocr.v1 import ocr_pb2, ocr_pb2_grpc
from picloss.protocol.codes import DOCUMENT_CLASSES
from picloss.protocol.proto import class_of

log = structlog.get_logger()


class OcrServicer(ocr_pb2_grpc.OcrServiceServicer):
    """Engines are passed in (one per worker); each request takes a free one."""

    def __init__(self, engines: Sequence[OcrEngine] = (), red_for_driving: bool = True,
                 max_pixels: int = 60_000_000) -> None:
        self._free: asyncio.Queue[OcrEngine] = asyncio.Queue()
        for engine in engines:
            self.add_engine(engine)
        self._red = red_for_driving
        self._max_pixels = max_pixels

    def add_engine(self, engine: OcrEngine) -> None:
        """Engines may arrive after the server started (warmed up in `ready()`); requests wait for one."""
        self._free.put_nowait(engine)

    async def ReadDocument(self, request: ocr_pb2.ReadDocumentRequest,
                           context: grpc.aio.ServicerContext) -> ocr_pb2.ReadDocumentResponse:
        asked = class_of(request.image_class)
        if asked not in DOCUMENT_CLASSES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"image_class must be a document class, got {asked or 'UNSPECIFIED'}")
        assert asked is not None
        image_class = asked.value
        try:
            decoded = await asyncio.to_thread(decode_image, request.image.data, self._max_pixels)
        except ImageRejected as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"image rejected ({exc.code}): {exc.reason}")
        engine = await self._free.get()
        try:
            result = await asyncio.to_thread(read_document, engine, decoded.rgb, image_class, self._red)
        finally:
            self._free.put_nowait(engine)
        log.info("document read", fileid=request.image.fileid, image_class=image_class, fields=len(result.fields),
                 detected_class=result.detected_class, rotation=result.rotation, ocr_passes=result.ocr_passes)
        return to_response(request.image.fileid, result)
