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

from picloss.domain.documents.crosscheck import cross_check
from picloss.domain.documents.model import DocumentRead, FieldRead
from picloss.engines.pipeline import routing
from picloss.engines.pipeline.clients import ModelCallFailed, ModelClients
from picloss.engines.pipeline.fetch import FetchFailed, PhotoFetcher
from picloss.engines.pipeline.metrics import CLASS_SWITCHES, FILES_PROCESSED, STAGE_LATENCY
from picloss.engines.pipeline.routing import CAR_PHOTO_CLASSES
from picloss.platform.imaging import ImageRejected, validate_image
from picloss.protocol.codes import DOCUMENT_CLASSES, FileCode, ImageClass
from picloss.protocol.proto import class_name, class_value
from picloss.rpc.aggregator.v1 import aggregator_pb2
from picloss.rpc.common.v1 import common_pb2
from picloss.rpc.damage.v1 import damage_pb2
from picloss.rpc.ocr.v1 import ocr_pb2

log = structlog.get_logger()

CLASSIFY_BATCH = 16
MAX_IN_FLIGHT = 4  # requests one orchestrator runs at once by default (MAX_IN_FLIGHT)


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
    classified: ImageClass | None = None  # the image classifier's own answer, before the text and car checks
    doc_score: float = 0.0  # the classifier's probability of its most likely document class
    doc_hint: ImageClass = ImageClass.IDCARD_FRONT  # that class
    code: int = FileCode.OK
    detail: str | None = None
    document: ocr_pb2.ReadDocumentResponse | None = None
    damages: damage_pb2.ImageDamages | None = None
    damage_model: str = ""  # the damage service's models behind `damages` (`name/version+...`; issue 24)

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
    a checksum-valid ID number corrects a near miss, disagreeing ones lose confidence; a VIN is never changed
    by another photo (the callback's vin_checks reports the comparison) (picloss.domain.documents)."""
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


def switch(f: FileWork, to: ImageClass, reason: str) -> None:
    """Set a photo's final class; a change from the classifier's answer is logged and counted."""
    if f.image_class is to:
        return
    before = f.image_class or ImageClass.OTHER
    log.info("class switched", fileid=f.fileid, from_class=before.value, to_class=to.value, reason=reason,
             classifier_score=round(f.class_score, 3))
    CLASS_SWITCHES.labels(before.value, to.value, reason).inc()
    f.image_class = to


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
        features = model == "BATCH"  # registration features: only BATCH aggregation uses them
        await self._stage(outcome, "download", asyncio.gather(*(self._download(f) for f in files)))
        await self._stage(outcome, "classify", self._classify([f for f in files if f.ok]))
        docs = [f for f in files if f.ok and f.image_class in DOCUMENT_CLASSES]
        cars = [f for f in files if f.ok and f.image_class in CAR_PHOTO_CLASSES]
        await asyncio.gather(self._stage(outcome, "ocr", self._read_documents(docs)),
                             self._stage(outcome, "damage", self._detect(cars, features)))
        await self._stage(outcome, "second_opinion", self._second_opinions(docs, cars, features))
        docs = [f for f in files if f.image_class in DOCUMENT_CLASSES and f.document is not None]
        damage = [f for f in files if f.image_class is ImageClass.DAMAGE and f.damages is not None]
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
            f.classified = f.image_class
            f.doc_hint, f.doc_score = routing.document_hint((class_name(s.image_class), s.score)
                                                            for s in result.scores)

    async def _read_documents(self, files: list[FileWork]) -> None:
        async def read(f: FileWork) -> None:
            assert f.image_class is not None
            try:
                resp = await self._clients.read_document(f.image(), class_value(f.image_class))
            except ModelCallFailed as exc:
                f.fail(FileCode.PROCESSING_FAILED, f"OCR failed: {exc.code}")
                return
            f.document = resp
            f.code = resp.result_code
            if resp.detected_class:
                # the OCR read the fields of the class its text names (picloss/engines/ocr/reader.py)
                switch(f, class_name(resp.detected_class), routing.TEXT_NAMES_OTHER_DOCUMENT)

        await asyncio.gather(*(read(f) for f in files))

    async def _detect(self, files: list[FileWork], features: bool) -> None:
        versions: dict[str, str] = {}

        async def detect(images: list[common_pb2.Image]) -> damage_pb2.DetectResponse:
            resp = await self._clients.detect(images, features=features)
            versions.update({r.fileid: resp.model_version for r in resp.results})
            return resp

        for f, result in await batched_results(files, self._damage_batch, detect, "damage detection"):
            f.damages, f.damage_model = result, versions.get(str(f.idx), "")
            f.code = FileCode.OK if len(result.damages) else FileCode.NO_DAMAGE

    async def _second_opinions(self, docs: list[FileWork], cars: list[FileWork], features: bool) -> None:
        """The text check of car photos and the vehicle check of unread documents, then each photo's final class.

        A check that fails (service down) leaves the photo as the first pass decided: a second opinion never
        turns a processed photo into a failed one."""
        cars = [f for f in cars if f.damages is not None]  # detection failed: 5001 stays
        text_check = [f for f in cars if f.classified is not None
                      and routing.needs_text_check(f.classified, f.doc_score, f.damages)]
        vehicle_check = [f for f in docs if f.classified is not None and f.document is not None
                         and routing.needs_vehicle_check(f.classified, f.document)]
        texts: dict[int, ocr_pb2.ReadDocumentResponse] = {}
        vehicles: dict[int, damage_pb2.ImageDamages] = {}
        vehicle_models: dict[int, str] = {}

        async def read(f: FileWork) -> None:
            try:
                texts[f.idx] = await self._clients.read_document(f.image(), class_value(f.doc_hint))
            except ModelCallFailed as exc:
                log.warning("text check failed", fileid=f.fileid, code=exc.code)

        async def detect(chunk: list[FileWork]) -> None:
            try:
                resp = await self._clients.detect([f.image() for f in chunk], features=features)
            except ModelCallFailed as exc:
                log.warning("vehicle check failed", files=len(chunk), code=exc.code)
                return
            vehicles.update({int(r.fileid): r for r in resp.results})
            vehicle_models.update({int(r.fileid): resp.model_version for r in resp.results})

        chunks = [vehicle_check[i:i + self._damage_batch] for i in range(0, len(vehicle_check), self._damage_batch)]
        await asyncio.gather(*(read(f) for f in text_check), *(detect(c) for c in chunks))
        for f in cars:
            text_class = routing.text_document(texts.get(f.idx))
            if text_class is not None:
                f.damages, f.document = None, texts[f.idx]
                f.code = f.document.result_code
                switch(f, text_class, routing.DOCUMENT_TEXT)
            elif f.image_class is ImageClass.OTHER:
                if routing.car_evidence(f.damages):
                    switch(f, ImageClass.DAMAGE, routing.VEHICLE_SEEN)
                else:
                    f.damages, f.code = None, FileCode.OK  # an OTHER photo has no typed result
        for f in vehicle_check:
            found = vehicles.get(f.idx)
            if routing.car_evidence(found):  # a vehicle, or damage past the photo-level gate (a close-up)
                assert found is not None
                f.document, f.damages, f.damage_model = None, found, vehicle_models.get(f.idx, "")
                f.code = FileCode.OK if len(found.damages) else FileCode.NO_DAMAGE
                switch(f, ImageClass.DAMAGE, routing.VEHICLE_SEEN)

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
