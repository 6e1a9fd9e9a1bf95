"""picloss.damage.v1.DamageService: a batch of photos in, damages per photo out."""

from __future__ import annotations

import asyncio

import grpc
import structlog

from picloss.damage.assess import DamageAssessor
from picloss.damage.v1 import damage_pb2, damage_pb2_grpc
from picloss.damage.wire import result_to_proto
from picloss.imaging import ImageRejected, decode_image
from picloss.registration import extract, to_wire

log = structlog.get_logger()


class DamageServicer(damage_pb2_grpc.DamageServiceServicer):
    def __init__(self, assessor: DamageAssessor, model_version: str) -> None:
        self._assessor = assessor
        self._model_version = model_version

    async def Detect(
        self, request: damage_pb2.DetectRequest, context: grpc.aio.ServicerContext
    ) -> damage_pb2.DetectResponse:
        decoded, positions = [], []
        for i, image in enumerate(request.images):
            try:
                decoded.append((await asyncio.to_thread(decode_image, image.data)).rgb)
                positions.append(i)
            except ImageRejected as exc:
                # The orchestrator decodes photos before sending them. An image that still fails here gets no
                # result entry at all (never an empty, "no damage" one): the orchestrator reports it as 5001.
                log.warning("image not decodable", fileid=image.fileid, code=exc.code, reason=exc.reason)
        assessments = await self._assessor.assess(decoded)
        by_position = dict(zip(positions, assessments, strict=True))
        features = {position: damage_pb2.PhotoFeatures() for position in positions}
        if not request.skip_features:  # BATCH only: the aggregator registers the photos of a claim
            for position, rgb in zip(positions, decoded, strict=True):
                points, descriptors = to_wire(await asyncio.to_thread(extract, rgb))
                features[position] = damage_pb2.PhotoFeatures(points=points, descriptors=descriptors)
        return damage_pb2.DetectResponse(
            model_version=self._model_version,
            results=[
                result_to_proto(image.fileid, by_position[i], features[i])
                for i, image in enumerate(request.images)
                if i in by_position
            ],
        )
