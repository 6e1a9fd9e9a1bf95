"""One request's photos through download → classify → OCR | damage → aggregate (BATCH).

Each file ends with a per-file code (PROTOCOL §5): 1001–1004 before classification, 2001 / 3001
when a document has no field or a damage photo no damage, 5001 (our extension) when a model
service failed; a failure is never replaced by a made-up result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from picloss.aggregator.v1 import aggregator_pb2
from picloss.common.v1 import common_pb2
from picloss.damage.v1 import damage_pb2
from picloss.documents.classes import resolve_class
from picloss.documents.crosscheck import cross_check
from picloss.documents.model import DocumentRead, FieldRead
from picloss.imaging import ImageRejected, validate_image
from picloss.observability.metrics import FILES_PROCESSED, STAGE_LATENCY
from picloss.ocr.v1 import ocr_pb2
from picloss.protocol.codes import FileCode, ImageClass
from services.orchestrator.clients import ModelCallFailed, ModelClients
from services.orchestrator.fetch import FetchFailed, PhotoFetcher

log = structlog.get_logger()

DOCUMENT_CLASSES = {ImageClass.IDCARD_FRONT, ImageClass.IDCARD_BACK, ImageClass.DRIVER_LICENSE,
                    ImageClass.DRIVING_LICENSE, ImageClass.VIN}
CLASSIFY_BATCH = 16


def class_name(value: int) -> ImageClass:
    name = common_pb2.ImageClass.Name(value).removeprefix("IMAGE_CLASS_")  # type: ignore[arg-type]
    return ImageClass.OTHER if name == "UNSPECIFIED" else ImageClass(name)


def class_value(image_class: ImageClass) -> int:
    return int(common_pb2.ImageClass.Value("IMAGE_CLASS_" + image_class.value))


@dataclass
class FileWork:
    idx: int
    fileid: str
    fileurl: str
    md5_given: str | None
    data: bytes | None = None
    md5: str | None = None
    width: int = 0
    height: int = 0
    image_class: ImageClass | None = None
    class_score: float = 0.0
    code: int = FileCode.OK
    detail: str | None = None
    document: ocr_pb2.ReadDocumentResponse | None = None
    damages: damage_pb2.ImageDamages | None = None

    @property
    def ok(self) -> bool:
        return self.code == FileCode.OK

    def fail(self, code: int, detail: str) -> None:
        self.code, self.detail = code, detail[:500]
        self.data = None

    def image(self) -> common_pb2.Image:
        # the index, not the caller's fileid, keys the RPCs: callers' ids need not be unique
        return common_pb2.Image(fileid=str(self.idx), data=self.data or b"", width=self.width, height=self.height)


@dataclass
class Outcome:
    files: list[FileWork]
    batch: aggregator_pb2.AggregateResponse | None = None
    batch_error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


async def batched_results(files: list[FileWork], size: int, call: Callable[[list[common_pb2.Image]], Awaitable[Any]],
                          what: str) -> list[tuple[FileWork, Any]]:
    """Send the files' images `size` at a time; pair each file with its result (matched by index). A failed
    call, or a file the service did not answer for, ends that file with code 5001."""
    pairs: list[tuple[FileWork, Any]] = []
    for start in range(0, len(files), size):
        chunk = files[start:start + size]
        try:
            resp = await call([f.image() for f in chunk])
        except ModelCallFailed as exc:
            for f in chunk:
                f.fail(FileCode.PROCESSING_FAILED, f"{what} failed: {exc.code}")
            continue
        by_id = {r.fileid: r for r in resp.results}
        for f in chunk:
            result = by_id.get(str(f.idx))
            if result is None:
                f.fail(FileCode.PROCESSING_FAILED, f"{what}: the service returned no result for this file")
                continue
            pairs.append((f, result))
    return pairs


def cross_check_documents(files: list[FileWork]) -> None:
    """Same ID number on ID card and 驾驶证, same VIN on 行驶证 and plate: agreeing reads gain confidence,
    a checksum-valid read corrects a near miss, disagreeing ones lose confidence (picloss.documents)."""
    read = [f for f in files if f.document is not None and f.image_class is not None]
    if len(read) < 2:
        return
    docs = [DocumentRead(str(f.idx), f.image_class.value, [  # type: ignore[union-attr]
        FieldRead(fld.name, fld.value, fld.confidence, fld.validated, fld.corrected)
        for fld in f.document.fields]) for f in read]  # type: ignore[union-attr]
    for f, checked in zip(read, cross_check(docs), strict=True):
        assert f.document is not None
        del f.document.fields[:]
        f.document.fields.extend(ocr_pb2.Field(name=x.name, value=x.value, confidence=x.confidence,
                                               validated=x.validated, corrected=x.corrected) for x in checked.fields)


class Pipeline:
    def __init__(self, *, clients: ModelClients, fetcher: PhotoFetcher, max_pixels: int, fetch_concurrency: int,
                 damage_batch: int) -> None:
        self._clients = clients
        self._fetcher = fetcher
        self._max_pixels = max_pixels
        self._fetch_slots = asyncio.Semaphore(fetch_concurrency)
        self._damage_batch = damage_batch

    async def run(self, accept_seqno: str, model: str, files: list[FileWork]) -> Outcome:
        outcome = Outcome(files)
        started = time.perf_counter()
        await self._stage(outcome, "download", asyncio.gather(*(self._download(f) for f in files)))
        await self._stage(outcome, "classify", self._classify([f for f in files if f.ok]))
        docs = [f for f in files if f.ok and f.image_class in DOCUMENT_CLASSES]
        damage = [f for f in files if f.ok and f.image_class is ImageClass.DAMAGE]
        await asyncio.gather(self._stage(outcome, "ocr", self._read_documents(docs)),
                             self._stage(outcome, "damage", self._detect(damage)))
        cross_check_documents(docs)
        if model == "BATCH":
            await self._stage(outcome, "aggregate", self._aggregate(accept_seqno, outcome, damage))
        for f in files:
            f.data = None  # release photo bytes before the result is built
            FILES_PROCESSED.labels((f.image_class or "NONE"), str(int(f.code))).inc()
        outcome.timings["request"] = time.perf_counter() - started
        STAGE_LATENCY.labels("request").observe(outcome.timings["request"])
        return outcome

    @staticmethod
    async def _stage(outcome: Outcome, name: str, work: object) -> None:
        start = time.perf_counter()
        await work  # type: ignore[misc]
        outcome.timings[name] = time.perf_counter() - start
        STAGE_LATENCY.labels(name).observe(outcome.timings[name])

    async def _download(self, f: FileWork) -> None:
        async with self._fetch_slots:
            try:
                fetched = await self._fetcher.fetch(f.fileurl)
            except FetchFailed as exc:
                f.fail(exc.code, exc.reason)
                return
        f.md5 = fetched.md5
        if f.md5_given and f.md5_given.lower() != fetched.md5:
            f.fail(FileCode.MD5_MISMATCH, "md5 of the downloaded file differs from filemd5")
            return
        try:
            width, height = await asyncio.to_thread(validate_image, fetched.data, self._max_pixels)
        except ImageRejected as exc:
            f.fail(exc.code, exc.reason)
            return
        f.data, f.width, f.height = fetched.data, width, height

    async def _classify(self, files: list[FileWork]) -> None:
        for f, result in await batched_results(files, CLASSIFY_BATCH, self._clients.classify, "classification"):
            f.image_class, f.class_score = class_name(result.image_class), result.score

    async def _read_documents(self, files: list[FileWork]) -> None:
        async def read(f: FileWork) -> None:
            assert f.image_class is not None
            try:
                resp = await self._clients.read_document(f.image(), class_value(f.image_class))
            except ModelCallFailed as exc:
                f.fail(FileCode.PROCESSING_FAILED, f"OCR failed: {exc.code}")
                return
            detected = class_name(resp.detected_class).value if resp.detected_class else None
            f.image_class = ImageClass(resolve_class(f.image_class.value, detected))
            f.document = resp
            f.code = resp.result_code

        await asyncio.gather(*(read(f) for f in files))

    async def _detect(self, files: list[FileWork]) -> None:
        for f, result in await batched_results(files, self._damage_batch, self._clients.detect, "damage detection"):
            f.damages = result
            f.code = FileCode.OK if len(result.damages) else FileCode.NO_DAMAGE

    async def _aggregate(self, accept_seqno: str, outcome: Outcome, damage: list[FileWork]) -> None:
        photos = [aggregator_pb2.PhotoDamages(fileid=str(f.idx), width=f.width, height=f.height,
                                              damages=list(f.damages.damages), features=f.damages.features,
                                              parts=list(f.damages.parts))
                  for f in damage if f.damages is not None]
        if not photos:
            return
        try:
            outcome.batch = await self._clients.aggregate(
                aggregator_pb2.AggregateRequest(accept_seqno=accept_seqno, photos=photos))
        except ModelCallFailed as exc:
            outcome.batch_error = f"aggregation failed: {exc.code}"
