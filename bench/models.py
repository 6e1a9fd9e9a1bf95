"""The model work of a set of photos without any orchestration: direct gRPC calls to the running model
services (the same ModelClients the orchestrator uses), no download, ledger, broker or callback."""

from __future__ import annotations

import time

from picloss.engines.pipeline.clients import ModelClients
from picloss.platform.imaging import decode_image
from picloss.protocol.codes import DOCUMENT_CLASSES, ImageClass
from picloss.protocol.proto import class_name, class_value
from picloss.rpc.aggregator.v1 import aggregator_pb2
from picloss.rpc.common.v1 import common_pb2

CLASSIFY_BATCH, DAMAGE_BATCH = 16, 8


def images_of(photos: list[bytes]) -> list[common_pb2.Image]:
    out = []
    for i, data in enumerate(photos):
        decoded = decode_image(data)
        out.append(common_pb2.Image(fileid=str(i), data=data, width=decoded.width, height=decoded.height))
    return out


async def _per_class(
    clients: ModelClients, images: list[common_pb2.Image], batch: int
) -> dict[str, ImageClass]:
    classes: dict[str, ImageClass] = {}
    for start in range(0, len(images), batch):
        resp = await clients.classify(images[start : start + batch])
        classes.update({r.fileid: class_name(r.image_class) for r in resp.results})
    return classes


async def model_work(
    clients: ModelClients, images: list[common_pb2.Image], *, sequential: bool, aggregate: bool
) -> float:
    """Seconds for classify → OCR | damage (→ aggregate). `sequential`: one photo per call, one call at a
    time; otherwise batched as the pipeline batches (16 per classify, 8 per detect)."""
    started = time.perf_counter()
    classes = await _per_class(clients, images, 1 if sequential else CLASSIFY_BATCH)
    damage = [im for im in images if classes.get(im.fileid) is ImageClass.DAMAGE]
    for im in images:
        if classes.get(im.fileid) in DOCUMENT_CLASSES:
            await clients.read_document(im, class_value(classes[im.fileid]))
    step = 1 if sequential else DAMAGE_BATCH
    found = []
    for start in range(0, len(damage), step):
        resp = await clients.detect(damage[start : start + step])
        found += [(next(im for im in damage if im.fileid == r.fileid), r) for r in resp.results]
    if aggregate and found:
        await clients.aggregate(
            aggregator_pb2.AggregateRequest(
                accept_seqno="bench",
                photos=[
                    aggregator_pb2.PhotoDamages(
                        fileid=im.fileid, width=im.width, height=im.height, damages=list(r.damages)
                    )
                    for im, r in found
                ],
            )
        )
    return time.perf_counter() - started
