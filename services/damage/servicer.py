"""picloss.damage.v1.DamageService: a batch of photos in, damages per photo out."""

from __future__ import annotations

import asyncio

import grpc
import numpy as np
import structlog

from picloss.common.v1 import common_pb2
from picloss.damage.v1 import damage_pb2, damage_pb2_grpc
from picloss.imaging import ImageRejected, decode_image
from picloss.registration import extract, to_wire
from services.damage.assess import Assessment, DamageAssessor
from services.damage.detector import Detection
from services.damage.vehicles import Vehicle

log = structlog.get_logger()


def to_proto(d: Detection) -> damage_pb2.Damage:
    return damage_pb2.Damage(
        box=common_pb2.Box(xmin=d.box[0], ymin=d.box[1], xmax=d.box[2], ymax=d.box[3]),
        components=[damage_pb2.ComponentScore(component_part_id=c, score=s) for c, s in d.components],
        degree_id=d.degree_id,
        degree_score=d.degree_score,
        damage_type=d.damage_type,
        damage_type_score=d.damage_type_score,
        part_kind=d.part_kind or "unknown",
        score=d.score,
    )


def vehicle_to_proto(v: Vehicle, of_interest: bool) -> damage_pb2.Vehicle:
    x0, y0, x1, y1 = v.box
    box = common_pb2.Box(xmin=int(x0), ymin=int(y0), xmax=int(np.ceil(x1)), ymax=int(np.ceil(y1)))
    return damage_pb2.Vehicle(box=box, kind=v.kind, score=v.score, of_interest=of_interest)


def result_to_proto(fileid: str, a: Assessment, features: damage_pb2.PhotoFeatures) -> damage_pb2.ImageDamages:
    return damage_pb2.ImageDamages(
        fileid=fileid,
        damages=[to_proto(d) for d in a.damages],
        features=features,
        parts=[to_proto(d) for d in a.parts],
        vehicles=[vehicle_to_proto(v, v is a.of_interest) for v in a.vehicles],
        damage_probability=a.damage_probability if a.damage_probability is not None else 0.0,
        damage_gate_passed=a.gate_passed,
    )


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
