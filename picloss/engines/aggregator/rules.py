"""BATCH rules: per-photo damages of one claim -> one entry per damaged component (pure functions).

0. One damage seen in a close-up and in a wider photo gets one component
   (`adopt_from_wider`): when a photo registers into a wider photo of the claim (ORB features
   + RANSAC homography, picloss/engines/registration.py), each of its damages is projected into that
   photo. If it lands on a damage there (IoU >= MERGE_IOU, or its centre inside that damage's
   box), both take one component (`_winner`): of the same kind, the sided id; of different
   kinds, the more confident one, the wide view winning ties (it sees the car). If it lands on
   no damage but on a damaged part the damage service saw there, the same choice is made
   against that part. When several wider photos register, the widest view (smallest frame
   share) wins. Only the first MAX_REGISTERED_PHOTOS photos with damage are registered
   (pairwise matching is quadratic: 20 photos are 380 pairs, a few seconds on one core).
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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from picloss.engines.boxes import box_iou
from picloss.engines.registration import PhotoFeatures, Registration, project_box, register
from picloss.protocol.codes import DamageDegree
from picloss.protocol.components import ID_TO_KIND, UNKNOWN_IDS, UNKNOWN_PART_ID

CONFIDENT_REPLACE = 60
MERGE_IOU = 0.1
MAX_REGISTERED_PHOTOS = 20
REPAIR, REPLACE = int(DamageDegree.REPAIR), int(DamageDegree.REPLACE)
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
    component_score: int = 0  # 0..100, the service's confidence in component_id


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
        if cid not in UNKNOWN_IDS or cid == UNKNOWN_PART_ID:
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


def _landing(projected: tuple[float, float, float, float], others: Sequence[Sighting]) -> Sighting | None:
    """The sighting a projected box lands on: its centre inside the sighting's box, or else the
    best IoU >= MERGE_IOU; None if it lands on none."""
    if not others:
        return None
    boxes = np.array([t.box for t in others], dtype=np.float64)
    cx, cy = (projected[0] + projected[2]) / 2, (projected[1] + projected[3]) / 2
    inside = (boxes[:, 0] <= cx) & (cx <= boxes[:, 2]) & (boxes[:, 1] <= cy) & (cy <= boxes[:, 3])
    overlap = np.where(inside, 1.0, box_iou(np.array([projected], dtype=np.float64), boxes)[0])
    best = int(np.argmax(overlap))
    return others[best] if overlap[best] >= MERGE_IOU else None


def _winner(close: Sighting, wide: Sighting) -> int:
    """The component of one damage seen in a close-up and in a wider photo: of the same kind, the
    sided id (the wide one when both are); of different kinds, the more confident one, the wide
    view winning ties (it sees the car)."""
    if ID_TO_KIND[close.component_id] == ID_TO_KIND[wide.component_id]:
        return close.component_id if wide.component_id in UNKNOWN_IDS else wide.component_id
    return close.component_id if close.component_score > wide.component_score else wide.component_id


def adopt_from_wider(
    sightings: Sequence[Sighting],
    features: Mapping[str, PhotoFeatures],
    parts: Mapping[str, Sequence[Sighting]] | None = None,
) -> tuple[list[Sighting], dict[str, str]]:
    """Rule 0. Returns the sightings (close-up ones re-labelled where they land on a damage, or
    else on a damaged part, of a wider photo) and, per registered close-up, the fileid of the
    wider photo it was mapped into."""
    parts = parts or {}
    by_photo: dict[str, list[Sighting]] = {}
    for s in sightings:
        by_photo.setdefault(s.fileid, []).append(s)
    seen = list(dict.fromkeys([*by_photo, *(f for f, p in parts.items() if p)]))
    candidates = [fileid for fileid in seen if fileid in features][:MAX_REGISTERED_PHOTOS]
    targets: dict[str, tuple[str, Registration]] = {}
    for close in candidates:
        if close not in by_photo:
            continue
        for wide in candidates:
            if wide == close:
                continue
            reg = register(features[close], features[wide])
            if reg is not None and (close not in targets or reg.frame_share < targets[close][1].frame_share):
                targets[close] = (wide, reg)
    out = list(sightings)
    index = {id(x): n for n, x in enumerate(sightings)}
    for n, s in enumerate(sightings):
        if s.fileid not in targets:
            continue
        wide, reg = targets[s.fileid]
        projected = project_box(reg.homography, s.box)
        landing = _landing(projected, by_photo.get(wide, []))
        on_damage = landing is not None
        if landing is None:
            landing = _landing(projected, parts.get(wide, []))
        if landing is None:
            continue
        winner = _winner(out[n], out[index[id(landing)]] if on_damage else landing)
        out[n] = replace(out[n], component_id=winner)
        if on_damage:
            m = index[id(landing)]
            out[m] = replace(out[m], component_id=winner)
    return out, {close: wide for close, (wide, _) in targets.items()}


def aggregate(
    sightings: Sequence[Sighting],
    photo_order: Sequence[str],
    features: Mapping[str, PhotoFeatures] | None = None,
    parts: Mapping[str, Sequence[Sighting]] | None = None,
) -> list[ComponentEntry]:
    if features:
        sightings, _ = adopt_from_wider(sightings, features, parts)
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
        entries.append(ComponentEntry(cid, degree_id, degree_score, tuple((f, tuple(b)) for f, b in per_photo.items())))
    return entries
