"""picloss.aggregator.v1.AggregatorService: one claim's per-photo damages -> BATCH entries."""

from __future__ import annotations

import grpc

from picloss.aggregator.v1 import aggregator_pb2, aggregator_pb2_grpc
from picloss.common.v1 import common_pb2
from services.aggregator.rules import ComponentEntry, Sighting, aggregate
from services.damage.components import UNKNOWN_PART


def sightings_of(request: aggregator_pb2.AggregateRequest) -> list[Sighting]:
    return [
        Sighting(
            fileid=photo.fileid,
            component_id=d.components[0].component_part_id if d.components else UNKNOWN_PART,
            degree_id=d.degree_id,
            degree_score=d.degree_score,
            box=(d.box.xmin, d.box.ymin, d.box.xmax, d.box.ymax),
        )
        for photo in request.photos
        for d in photo.damages
    ]


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
    async def Aggregate(self, request: aggregator_pb2.AggregateRequest,
                        context: grpc.aio.ServicerContext) -> aggregator_pb2.AggregateResponse:
        entries = aggregate(sightings_of(request), [p.fileid for p in request.photos])
        return aggregator_pb2.AggregateResponse(results=[to_proto(e) for e in entries])
