"""picloss.aggregator.v1.AggregatorService: one claim's per-photo damages -> BATCH entries."""

from __future__ import annotations

import asyncio

import grpc

from picloss.engines.aggregator.rules import ComponentEntry, Sighting, adopt_from_wider, aggregate
from picloss.engines.registration import PhotoFeatures, from_wire
from picloss.protocol.components import UNKNOWN_PART_ID
from picloss.rpc.aggregator.v1 import aggregator_pb2, aggregator_pb2_grpc
from picloss.rpc.common.v1 import common_pb2
from picloss.rpc.damage.v1 import damage_pb2
from services.aggregator.metrics import BATCH_PHOTOS, BATCH_PHOTOS_REGISTERED

SERVICE = aggregator_pb2.DESCRIPTOR.services_by_name["AggregatorService"]


def _sighting(fileid: str, d: damage_pb2.Damage) -> Sighting:
    return Sighting(
        fileid=fileid,
        component_id=d.components[0].component_part_id if d.components else UNKNOWN_PART_ID,
        degree_id=d.degree_id,
        degree_score=d.degree_score,
        box=(d.box.xmin, d.box.ymin, d.box.xmax, d.box.ymax),
        component_score=d.components[0].score if d.components else 0,
    )


def sightings_of(request: aggregator_pb2.AggregateRequest) -> list[Sighting]:
    return [_sighting(photo.fileid, d) for photo in request.photos for d in photo.damages]


def parts_of(request: aggregator_pb2.AggregateRequest) -> dict[str, list[Sighting]]:
    """Per photo, the damaged parts the damage service saw (the context close-ups map onto)."""
    return {photo.fileid: [_sighting(photo.fileid, d) for d in photo.parts] for photo in request.photos}


def features_of(request: aggregator_pb2.AggregateRequest) -> dict[str, PhotoFeatures]:
    """Per photo, the features the damage service sent (photos without any are not registered)."""
    return {
        photo.fileid: from_wire(photo.features.points, photo.features.descriptors, photo.width, photo.height)
        for photo in request.photos
        if photo.HasField("features") and len(photo.features.points)
    }


def to_proto(entry: ComponentEntry) -> aggregator_pb2.ComponentDamage:
    return aggregator_pb2.ComponentDamage(
        damage_component_id=entry.component_id,
        damage_degree_id=entry.degree_id,
        damage_degree_score=entry.degree_score,
        image_contain=[
            aggregator_pb2.ImageBoxes(
                fileid=fileid,
                boxes=[common_pb2.Box(xmin=b[0], ymin=b[1], xmax=b[2], ymax=b[3]) for b in boxes],
            )
            for fileid, boxes in entry.image_contain
        ],
    )


class AggregatorServicer(aggregator_pb2_grpc.AggregatorServiceServicer):
    async def Aggregate(
        self, request: aggregator_pb2.AggregateRequest, context: grpc.aio.ServicerContext
    ) -> aggregator_pb2.AggregateResponse:
        entries = await asyncio.to_thread(merge, request)
        return aggregator_pb2.AggregateResponse(results=[to_proto(e) for e in entries])


def merge(request: aggregator_pb2.AggregateRequest) -> list[ComponentEntry]:
    """The BATCH rules over one claim (rule 0, registration, then the component rules), counted."""
    sightings = sightings_of(request)
    features = features_of(request)
    links: dict[str, str] = {}
    if features:
        sightings, links = adopt_from_wider(sightings, features, parts_of(request))
    BATCH_PHOTOS.inc(len({s.fileid for s in sightings}))
    BATCH_PHOTOS_REGISTERED.inc(len(links))
    return aggregate(sightings, [p.fileid for p in request.photos])
