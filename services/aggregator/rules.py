"""BATCH rules: per-photo damages of one claim -> one entry per damaged component (pure functions).

1. Each damage counts for its best component id (`components[0]`).
2. Unknown sides are resolved with the whole claim (`resolve_unknown`):
   * an unknown-side id (5, 10, 15, 18, 21, 29, 32, 35, 38) becomes the sided id of the same
     kind when exactly one sided id of that kind is seen anywhere in the claim;
   * with none, an unknown bumper (21) becomes front (19) or rear (20) when the claim's other
     photos show only front parts (bonnet, windshield, grille, headlamps, front bumper) or only
     rear parts (trunk, tail lamps, rear bumper);
   * otherwise it stays unknown (two sided candidates are ambiguous).
3. All damages with the same final id form one entry: the same damage seen in several photos
   is one component; `image_contain` lists every photo and box that shows it.
4. Degree (`combine_degree`): replace when any member is a confident replace (score >=
   CONFIDENT_REPLACE) or most members say replace; the score is the mean score of the
   members that agree with the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.damage.components import ID_TO_KIND, UNKNOWN_IDS, UNKNOWN_PART

CONFIDENT_REPLACE = 60
REPAIR, REPLACE = 0, 1
FRONT_IDS = frozenset({6, 19, 22, 24, 25, 26})
REAR_IDS = frozenset({7, 20, 23, 27, 28})

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Sighting:
    """One damage in one photo, as the damage service reported it."""

    fileid: str
    component_id: int
    degree_id: int
    degree_score: int
    box: Box


@dataclass(frozen=True)
class ComponentEntry:
    component_id: int
    degree_id: int
    degree_score: int
    image_contain: tuple[tuple[str, tuple[Box, ...]], ...]  # (fileid, boxes), in photo order


def claim_view(component_ids: set[int]) -> str | None:
    front, rear = bool(component_ids & FRONT_IDS), bool(component_ids & REAR_IDS)
    if front and not rear:
        return "front"
    if rear and not front:
        return "rear"
    return None


def resolve_unknown(component_ids: Sequence[int]) -> dict[int, int]:
    """Unknown-side id -> the id it merges into, for the ids of one claim (identity if unresolved)."""
    present = set(component_ids)
    mapping = {}
    for cid in present:
        if cid not in UNKNOWN_IDS or cid == UNKNOWN_PART:
            mapping[cid] = cid
            continue
        kind = ID_TO_KIND[cid]
        sided = {other for other in present if ID_TO_KIND[other] == kind and other not in UNKNOWN_IDS}
        if len(sided) == 1:
            mapping[cid] = next(iter(sided))
        elif not sided and kind == "bumper":
            view = claim_view(present)
            mapping[cid] = {"front": 19, "rear": 20}.get(view or "", cid)
        else:
            mapping[cid] = cid
    return mapping


def combine_degree(members: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """(degree_id, score) of one component from its members' (degree_id, score)."""
    replaces = [s for d, s in members if d == REPLACE]
    repairs = [s for d, s in members if d == REPAIR]
    if any(s >= CONFIDENT_REPLACE for s in replaces) or len(replaces) > len(repairs):
        return REPLACE, round(sum(replaces) / len(replaces))
    return REPAIR, round(sum(repairs) / len(repairs)) if repairs else 50


def aggregate(sightings: Sequence[Sighting], photo_order: Sequence[str]) -> list[ComponentEntry]:
    mapping = resolve_unknown([s.component_id for s in sightings])
    groups: dict[int, list[Sighting]] = {}
    for s in sightings:
        groups.setdefault(mapping[s.component_id], []).append(s)
    rank = {fileid: i for i, fileid in enumerate(photo_order)}
    entries = []
    for cid in sorted(groups):
        members = groups[cid]
        degree_id, degree_score = combine_degree([(m.degree_id, m.degree_score) for m in members])
        per_photo: dict[str, list[Box]] = {}
        for m in sorted(members, key=lambda m: rank.get(m.fileid, len(rank))):
            per_photo.setdefault(m.fileid, []).append(m.box)
        entries.append(ComponentEntry(cid, degree_id, degree_score,
                                      tuple((f, tuple(b)) for f, b in per_photo.items())))
    return entries
