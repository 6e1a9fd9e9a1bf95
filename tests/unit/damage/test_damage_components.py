"""Part kind -> PROTOCOL §6 ids, with sides only where the photo supports them."""

from __future__ import annotations

from picloss.engines.damage.components import PartSighting, View, component_id, side_decided, view_of

W = 1000


def test_kinds_without_context_get_unknown_side_ids() -> None:
    assert component_id("bumper", 0.9, 500, W, []) == 21
    assert component_id("door", 0.9, 500, W, []) == 5
    assert component_id("fender", 0.9, 500, W, []) == 15
    assert component_id("lamp", 0.9, 500, W, []) == 29


def test_kinds_that_need_no_side() -> None:
    assert component_id("bonnet", 0.9, 500, W, []) == 22
    assert component_id("trunk", 0.9, 500, W, []) == 23
    assert component_id("windshield", 0.9, 500, W, []) == 6


def test_no_recognisable_part_is_40() -> None:
    assert component_id(None, 0.9, 500, W, []) == 40
    assert component_id("door", 0.1, 500, W, []) == 40


def test_view_from_other_parts() -> None:
    assert view_of([PartSighting("bonnet", 0.8, 500)]) is View.FRONT
    assert view_of([PartSighting("trunk", 0.8, 500)]) is View.REAR
    assert view_of([PartSighting("trunk", 0.8, 500), PartSighting("bonnet", 0.8, 300)]) is View.UNKNOWN
    assert view_of([PartSighting("bonnet", 0.1, 500)]) is View.UNKNOWN  # too weak to count


def test_bumper_front_or_rear_from_view() -> None:
    assert component_id("bumper", 0.9, 500, W, [PartSighting("windshield", 0.9, 500)]) == 19
    assert component_id("bumper", 0.9, 500, W, [PartSighting("trunk", 0.9, 500)]) == 20


def test_lamp_side_relative_to_bonnet_or_trunk() -> None:
    front = [PartSighting("bonnet", 0.9, 500)]
    assert component_id("lamp", 0.9, 200, W, front) == 26  # viewer's left = car's right
    assert component_id("lamp", 0.9, 800, W, front) == 25
    rear = [PartSighting("trunk", 0.9, 500)]
    assert component_id("lamp", 0.9, 200, W, rear) == 27  # viewer's left = car's left
    assert component_id("lamp", 0.9, 800, W, rear) == 28
    assert component_id("lamp", 0.9, 530, W, front) == 29  # too close to the centre to tell


def test_fender_side_from_a_front_or_rear_cue() -> None:
    # Side view, car's front to the viewer's left: the bonnet is left of the fender -> car's left.
    assert component_id("fender", 0.9, 600, W, [PartSighting("bonnet", 0.9, 200)]) == 11
    # Front view: a fender on the viewer's left is the car's right one (cue to its right).
    assert component_id("fender", 0.9, 150, W, [PartSighting("windshield", 0.9, 500)]) == 12
    # Rear view: a quarter panel on the viewer's left is the car's left one.
    assert component_id("fender", 0.9, 150, W, [PartSighting("trunk", 0.9, 500)]) == 13
    assert component_id("fender", 0.9, 850, W, [PartSighting("trunk", 0.9, 500)]) == 14
    assert component_id("fender", 0.9, 520, W, [PartSighting("trunk", 0.9, 500)]) == 15  # too close
    # Doors stay unknown: one door never tells front from rear.
    assert component_id("door", 0.9, 600, W, [PartSighting("bonnet", 0.9, 200)]) == 5


def test_side_decided_flags() -> None:
    assert side_decided(19) and side_decided(26) and side_decided(13)
    assert not side_decided(21) and not side_decided(22) and not side_decided(40)
