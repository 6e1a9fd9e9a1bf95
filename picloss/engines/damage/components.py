"""Part kind -> PROTOCOL §6 component ids, deciding a side only where the photo supports it.

Method (documented in docs/models.md):
* view of the photo, from the *other* damaged part kinds the detector sees in it (score
  >= CONTEXT_SCORE): bonnet or windshield => front view; trunk => rear view; both or
  neither => undecided;
* bumper: front view => front bumper (19), rear view => rear bumper (20), else 21;
* lamp and fender: in a decided view, a part clearly left or right (by LATERAL_MARGIN of the
  photo width) of the view's cue parts (bonnet/windshield for front, trunk for rear) gets its
  side. A front cue on the viewer's left of the part means the car's front points to the
  viewer's left (or, seen from the front, the part is on the viewer's right): either way the
  part is on the car's LEFT; a rear cue on the viewer's left means the car's RIGHT. The same
  rule holds in front, rear, side and three-quarter views. Front view: headlamp 25/26, front
  fender 11/12; rear view: tail lamp 27/28, rear fender (quarter panel) 13/14. Otherwise 29, 15;
* door: a single damaged door never tells front from rear door => 5;
* bonnet 22, trunk 23 and windshield 6 need no side;
* no recognisable part (best part probability < MIN_PART_PROB) => 40.

With the car's pose (picloss/engines/damage/pose.py: which end of the vehicle of interest the photo shows and which way
its nose points, from the view classifier) and the vehicle's box, `posed_component` decides more sides
(docs/sides.md), and `sided_component` combines both: the pose's decision where it gives one, the cue rule
above otherwise, and no side at all when the two disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from picloss.protocol.components import ID_TO_KIND, UNKNOWN_PART_ID

CONTEXT_SCORE = 0.25
MIN_PART_PROB = 0.30
LATERAL_MARGIN = 0.10

# part kind -> (id when the side is unknown / not needed)
KIND_TO_ID = {"bonnet": 22, "trunk": 23, "windshield": 6, "bumper": 21, "door": 5, "fender": 15, "lamp": 29}
FRONT_CUES = frozenset({"bonnet", "windshield"})
REAR_CUES = frozenset({"trunk"})


class View(Enum):
    FRONT = "front"
    REAR = "rear"
    UNKNOWN = "unknown"


# kind -> view -> (car's left id, car's right id)
SIDED = {
    "lamp": {View.FRONT: (25, 26), View.REAR: (27, 28)},
    "fender": {View.FRONT: (11, 12), View.REAR: (13, 14)},
}


@dataclass(frozen=True)
class PartSighting:
    kind: str
    score: float  # detection confidence
    cx: float  # box centre x, photo pixels


def view_of(sightings: Sequence[PartSighting]) -> View:
    kinds = {s.kind for s in sightings if s.score >= CONTEXT_SCORE}
    front, rear = bool(kinds & FRONT_CUES), bool(kinds & REAR_CUES)
    if front and not rear:
        return View.FRONT
    if rear and not front:
        return View.REAR
    return View.UNKNOWN


def _reference_x(sightings: Sequence[PartSighting], kinds: frozenset[str]) -> float | None:
    xs = [s.cx for s in sightings if s.kind in kinds and s.score >= CONTEXT_SCORE]
    return sum(xs) / len(xs) if xs else None


def component_id(
    kind: str | None, part_prob: float, cx: float, photo_width: int, sightings: Sequence[PartSighting]
) -> int:
    """The component id of one damage on a part `kind` at horizontal centre `cx`."""
    if kind is None or part_prob < MIN_PART_PROB or kind not in KIND_TO_ID:
        return UNKNOWN_PART_ID
    view = view_of(sightings)
    if kind == "bumper":
        return {View.FRONT: 19, View.REAR: 20}.get(view, 21)
    if kind in SIDED and view is not View.UNKNOWN:
        ref = _reference_x(sightings, FRONT_CUES if view is View.FRONT else REAR_CUES)
        if ref is not None and abs(cx - ref) > LATERAL_MARGIN * photo_width:
            cue_on_viewer_left = ref < cx
            car_left = cue_on_viewer_left if view is View.FRONT else not cue_on_viewer_left
            left_id, right_id = SIDED[kind][view]
            return left_id if car_left else right_id
    return KIND_TO_ID[kind]


def side_decided(component: int) -> bool:
    """True when the id carries a side or position the kind alone did not give."""
    return component in SIDED_IDS


# ---------------------------------------------------------------- sides from the car's pose (docs/sides.md)

SIDED_IDS = frozenset({1, 2, 3, 4, 7, 11, 12, 13, 14, 19, 20, 25, 26, 27, 28})
# Where the vehicle box touches the photo's edge (within this share of the photo's width) the car is cut off there:
# positions measured from that end of the box mean nothing.
EDGE_MARGIN = 0.02
# Positions along the vehicle box, as a share of its width measured from the end the nose points to ("a"). Set from
# the geometry of a car seen end-on or three-quarter (docs/sides.md), not fitted: a three-quarter view shows the
# end face on about 15-55 % of the box next to the nose end (rear three-quarter: next to the tail end).
END_PART_REACH = 0.7  # a bumper of the end seen lies within this share of the box from that end
NEAR_LAMP = (0.12, 0.5)  # three-quarter view: the near-side lamp of the end seen (the far one is nearer the end)
FENDER_REACH = 0.6  # three-quarter view: a fender this near the end seen is that end's fender, on the flank seen


class Nose(Enum):
    """Which way the car's nose points in the photo; LEFT/RIGHT also name the flank seen (nose to the viewer's
    left => the car's left side faces the camera), STRAIGHT: an end-on view (front or rear face only)."""

    LEFT = "left"
    RIGHT = "right"
    STRAIGHT = "straight"


@dataclass(frozen=True)
class CarView:
    """The pose of the vehicle of interest and its box: what `posed_component` needs."""

    end: View  # the end of the car the photo shows (UNKNOWN: not decided)
    nose: Nose | None  # None: not decided
    box: tuple[float, float, float, float]  # the vehicle's x1, y1, x2, y2 in photo pixels
    photo_width: int

    @property
    def cut_left(self) -> bool:
        return self.box[0] <= EDGE_MARGIN * self.photo_width

    @property
    def cut_right(self) -> bool:
        return self.box[2] >= (1 - EDGE_MARGIN) * self.photo_width


# kind -> end seen -> (id on the car's left, id on the car's right)
POSED = {
    "lamp": {View.FRONT: (25, 26), View.REAR: (27, 28)},
    "fender": {View.FRONT: (11, 12), View.REAR: (13, 14)},
}


def posed_component(kind: str, cx: float, car: CarView) -> int | None:
    """The component id the car's pose gives a damage on a part `kind` centred at `cx`; None: no decision.

    * end-on view: the bumper is that end's; a lamp or fender clearly left or right of the car's middle (by
      LATERAL_MARGIN of the box width, the car not cut off by the photo's edge) takes its side (front: the viewer's
      left is the car's right; rear: the viewer's left is the car's left);
    * three-quarter view (the nose points left or right: that flank is seen): a bumper or fender near the end
      seen (END_PART_REACH, FENDER_REACH of the box from that end) is that end's, the fender on the flank seen; a
      lamp at NEAR_LAMP of the box from that end is the near-side lamp of that end. When the end seen is cut off
      by the photo's edge (a close-up of that corner), the bumper and fender are still that end's, the lamp is not
      decided (near from far lamp cannot be told);
    * with the end decided but not the nose direction, only the bumper (that end's) and the windshield kind;
    * a windshield kind seen in a rear view is the rear window (7); doors are never decided (one door never tells
      front from rear door).
    """
    if car.end is View.UNKNOWN:
        return None
    x0, _, x1, _ = car.box
    width = x1 - x0
    if width <= 0:
        return None
    u = (cx - x0) / width  # 0 at the box's left edge, 1 at its right edge
    if kind == "windshield":
        return 7 if car.end is View.REAR else 6
    if kind == "bumper":
        end_bumper = 19 if car.end is View.FRONT else 20
        if car.nose is None or car.nose is Nose.STRAIGHT:
            return end_bumper
        a = _from_end(u, car)
        return end_bumper if a is None or a <= END_PART_REACH else None
    if kind not in POSED or car.nose is None:
        return None
    left_id, right_id = POSED[kind][car.end]
    if car.nose is Nose.STRAIGHT:
        if car.cut_left or car.cut_right or abs(u - 0.5) <= LATERAL_MARGIN:
            return None
        viewer_left = u < 0.5
        car_left = viewer_left if car.end is View.REAR else not viewer_left
        return left_id if car_left else right_id
    a = _from_end(u, car)
    if kind == "lamp":
        near = a is not None and NEAR_LAMP[0] <= a <= NEAR_LAMP[1]
    else:
        near = a is None or a <= FENDER_REACH
    if not near:
        return None
    return left_id if car.nose is Nose.LEFT else right_id


def _from_end(u: float, car: CarView) -> float | None:
    """Position along the box from the end the photo shows (0 there, 1 at the other end); None when that end is
    cut off by the photo's edge. The front is at the end the nose points to, the rear at the other end."""
    front_at_left = car.nose is Nose.LEFT
    seen_at_left = front_at_left if car.end is View.FRONT else not front_at_left
    if (car.cut_left if seen_at_left else car.cut_right):
        return None
    return u if seen_at_left else 1 - u


def refine_component(component: int, cx: float, car: CarView | None) -> int:
    """A component id decided by the part-cue rule (`component_id`), refined by the car's pose where it decides:
    the pose's id when the cue rule gave no side or the same one; no side (the kind's unknown id) when the two
    disagree."""
    kind = ID_TO_KIND.get(component)
    if car is None or kind is None or kind not in KIND_TO_ID:
        return component
    posed = posed_component(kind, cx, car)
    if posed is None or posed == component:
        return component
    if component in SIDED_IDS:
        return KIND_TO_ID[kind]  # the pose and the parts disagree: do not guess
    return posed


def sided_component(kind: str | None, part_prob: float, cx: float, photo_width: int,
                    sightings: Sequence[PartSighting], car: CarView | None) -> int:
    """`component_id` refined by the car's pose (`refine_component`)."""
    return refine_component(component_id(kind, part_prob, cx, photo_width, sightings), cx, car)
