"""Sides from the car's pose (picloss/engines/damage/components.py posed_component / refine_component): synthetic
views."""

from __future__ import annotations

from picloss.engines.damage.components import (
    CarView,
    Nose,
    PartSighting,
    View,
    posed_component,
    refine_component,
    side_decided,
    sided_component,
)

W = 1000
BOX = (100.0, 100.0, 900.0, 600.0)  # the whole car inside the photo
FRONT = CarView(View.FRONT, Nose.STRAIGHT, BOX, W)
REAR = CarView(View.REAR, Nose.STRAIGHT, BOX, W)


def three_quarter(end: View, nose: Nose, box: tuple[float, float, float, float] = BOX) -> CarView:
    return CarView(end, nose, box, W)


def test_undecided_end_decides_nothing() -> None:
    for kind in ("bumper", "lamp", "fender", "door", "windshield"):
        assert posed_component(kind, 500, CarView(View.UNKNOWN, Nose.LEFT, BOX, W)) is None


def test_end_without_nose_direction_decides_only_end_parts() -> None:
    car = CarView(View.REAR, None, BOX, W)
    assert posed_component("bumper", 200, car) == 20
    assert posed_component("windshield", 500, car) == 7
    for kind in ("lamp", "fender", "door"):
        assert posed_component(kind, 200, car) is None


def test_end_on_views_give_the_bumper() -> None:
    assert posed_component("bumper", 500, FRONT) == 19
    assert posed_component("bumper", 500, REAR) == 20


def test_end_on_front_view_mirrors_left_and_right() -> None:
    # Seen from the front the car faces the camera: the viewer's left is the car's right.
    assert posed_component("lamp", 200, FRONT) == 26
    assert posed_component("lamp", 800, FRONT) == 25
    assert posed_component("fender", 150, FRONT) == 12
    assert posed_component("fender", 850, FRONT) == 11


def test_end_on_rear_view_keeps_left_and_right() -> None:
    assert posed_component("lamp", 200, REAR) == 27
    assert posed_component("lamp", 800, REAR) == 28
    assert posed_component("fender", 150, REAR) == 13
    assert posed_component("fender", 850, REAR) == 14


def test_end_on_view_abstains_near_the_middle_or_when_cut_off() -> None:
    assert posed_component("lamp", 520, FRONT) is None  # within LATERAL_MARGIN of the car's middle
    cut = CarView(View.FRONT, Nose.STRAIGHT, (0.0, 0.0, 700.0, 600.0), W)  # the car runs out of the photo
    assert posed_component("lamp", 100, cut) is None
    assert posed_component("bumper", 100, cut) == 19  # the end is still known


def test_front_three_quarter_nose_left_is_the_cars_left_flank() -> None:
    car = three_quarter(View.FRONT, Nose.LEFT)  # the front face at the box's left end
    assert posed_component("bumper", 200, car) == 19
    assert posed_component("fender", 400, car) == 11  # front fender, car's left
    assert posed_component("lamp", 300, car) == 25  # near-side headlamp (a = 0.25)
    assert posed_component("lamp", 120, car) is None  # at the very end: could be the far-side lamp
    assert posed_component("fender", 850, car) is None  # far end: maybe the rear quarter panel
    assert posed_component("bumper", 850, car) is None
    assert posed_component("door", 500, car) is None  # front from rear door is not told


def test_front_three_quarter_nose_right_is_the_cars_right_flank() -> None:
    car = three_quarter(View.FRONT, Nose.RIGHT)  # the front face at the box's right end
    assert posed_component("fender", 600, car) == 12
    assert posed_component("lamp", 700, car) == 26
    assert posed_component("bumper", 800, car) == 19


def test_rear_three_quarter_uses_the_tail_end() -> None:
    # Nose to the left, rear face at the box's right end, the car's left flank seen.
    car = three_quarter(View.REAR, Nose.LEFT)
    assert posed_component("bumper", 800, car) == 20
    assert posed_component("lamp", 700, car) == 27  # near-side tail lamp, car's left
    assert posed_component("fender", 650, car) == 13
    assert posed_component("fender", 150, car) is None  # near the nose: maybe the front fender
    car = three_quarter(View.REAR, Nose.RIGHT)  # rear face at the left end, right flank
    assert posed_component("lamp", 300, car) == 28
    assert posed_component("fender", 350, car) == 14


def test_close_up_of_a_corner_keeps_end_parts_but_not_lamps() -> None:
    # The end seen is cut off by the photo's edge: bumper and fender are that end's, the lamp is not decided.
    car = three_quarter(View.FRONT, Nose.LEFT, (0.0, 0.0, 1000.0, 600.0))
    assert posed_component("bumper", 900, car) == 19
    assert posed_component("fender", 900, car) == 11
    assert posed_component("lamp", 300, car) is None


def test_mirrored_photo_gets_the_mirrored_side() -> None:
    for end in (View.FRONT, View.REAR):
        for kind in ("lamp", "fender", "bumper"):
            for cx in (150, 300, 450, 650, 850):
                left = posed_component(kind, cx, three_quarter(end, Nose.LEFT))
                right = posed_component(kind, W - cx, three_quarter(end, Nose.RIGHT))
                mirror = {11: 12, 12: 11, 13: 14, 14: 13, 25: 26, 26: 25, 27: 28, 28: 27}
                assert right == (mirror.get(left, left) if left is not None else None)


def test_windshield_in_a_rear_view_is_the_rear_window() -> None:
    assert posed_component("windshield", 500, REAR) == 7
    assert posed_component("windshield", 500, FRONT) == 6
    assert side_decided(7)


def test_refine_prefers_the_pose_and_never_guesses_on_disagreement() -> None:
    assert refine_component(21, 500, FRONT) == 19  # cue rule gave no end: the pose's
    assert refine_component(19, 500, FRONT) == 19  # both agree
    assert refine_component(20, 500, FRONT) == 21  # the parts say rear, the pose front: no end
    assert refine_component(29, 500, FRONT) == 29  # the pose abstains (middle): unchanged
    assert refine_component(21, 500, None) == 21  # no pose
    assert refine_component(40, 500, FRONT) == 40
    assert refine_component(22, 500, REAR) == 22  # bonnet: no side to give


def test_sided_component_combines_cues_and_pose() -> None:
    trunk = [PartSighting("trunk", 0.9, 500)]
    assert sided_component("bumper", 0.9, 500, W, trunk, REAR) == 20
    assert sided_component("bumper", 0.9, 500, W, trunk, FRONT) == 21  # contradiction
    assert sided_component("lamp", 0.9, 200, W, [], FRONT) == 26
    assert sided_component(None, 0.9, 200, W, [], FRONT) == 40
