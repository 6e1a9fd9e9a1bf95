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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

CONTEXT_SCORE = 0.25
MIN_PART_PROB = 0.30
LATERAL_MARGIN = 0.10

UNKNOWN_PART = 40
UNKNOWN_IDS = frozenset({5, 10, 15, 18, 21, 29, 32, 35, 38, UNKNOWN_PART})

# part kind -> (id when the side is unknown / not needed)
KIND_TO_ID = {"bonnet": 22, "trunk": 23, "windshield": 6, "bumper": 21, "door": 5, "fender": 15, "lamp": 29}
# component id -> side-free kind (for merging across photos)
ID_TO_KIND = {
    1: "door",
    2: "door",
    3: "door",
    4: "door",
    5: "door",
    6: "windshield",
    7: "window",
    8: "window",
    9: "window",
    10: "window",
    11: "fender",
    12: "fender",
    13: "fender",
    14: "fender",
    15: "fender",
    16: "handle",
    17: "handle",
    18: "handle",
    19: "bumper",
    20: "bumper",
    21: "bumper",
    22: "bonnet",
    23: "trunk",
    24: "grille",
    25: "lamp",
    26: "lamp",
    27: "lamp",
    28: "lamp",
    29: "lamp",
    30: "mirror",
    31: "mirror",
    32: "mirror",
    33: "rocker",
    34: "rocker",
    35: "rocker",
    36: "tire",
    37: "tire",
    38: "tire",
    39: "roof",
    40: "unknown",
}
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
        return UNKNOWN_PART
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
    return component in {11, 12, 13, 14, 19, 20, 25, 26, 27, 28}


def is_unknown_side(component: int) -> bool:
    return component in UNKNOWN_IDS and component != UNKNOWN_PART
