"""The wire form of a damage assessment (picloss.rpc.damage.v1): the service's answer, and the evaluation's
in-process pipeline's."""

from __future__ import annotations

import numpy as np

from picloss.engines.damage.assess import Assessment
from picloss.engines.damage.detector import Detection
from picloss.engines.damage.vehicles import Vehicle
from picloss.rpc.common.v1 import common_pb2
from picloss.rpc.damage.v1 import damage_pb2


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
        existence=d.existence if d.existence is not None else d.score,
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
