"""Which car-photo-classed photos the orchestrator also reads by OCR (picloss/engines/pipeline/routing.py)."""

from __future__ import annotations

from picloss.engines.pipeline import routing
from picloss.protocol.codes import ImageClass
from picloss.rpc.damage.v1 import damage_pb2


def _gated(vehicle: bool = False) -> damage_pb2.ImageDamages:
    return damage_pb2.ImageDamages(vehicles=[damage_pb2.Vehicle(of_interest=True)] if vehicle else [],
                                   damages=[damage_pb2.Damage(score=0.7)], damage_gate_passed=True,
                                   damage_probability=0.9)


def test_other_photo_is_read_even_when_the_damage_gate_passed() -> None:
    # a document scan classed OTHER whose print passed the damage gate: read, never made a DAMAGE photo unread
    assert routing.needs_text_check(ImageClass.OTHER, 0.0, _gated())
    assert routing.needs_text_check(ImageClass.OTHER, 0.0, _gated(vehicle=True))


def test_confident_damage_photo_with_car_evidence_is_not_read() -> None:
    assert not routing.needs_text_check(ImageClass.DAMAGE, 0.01, _gated())
    assert routing.needs_text_check(ImageClass.DAMAGE, 0.2, _gated())
