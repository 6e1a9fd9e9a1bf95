"""Cross-document checks over all the documents of one claim.

The same ID number is printed on the ID card (id) and the driver licence (证号); the same VIN on the
vehicle licence (车辆识别代号) and the VIN plate (vin). Reads of one number on several photos:
  - that agree raise each other's confidence (independent reads: 1 - prod(1 - c), capped at AGREE_CAP);
  - that differ by a few characters (NEAR_DISTANCE) are the same number misread: for ID numbers, a value that
    passed its checksum replaces the ones that did not (corrected); when no single validated value decides, and
    always for VINs, every read's confidence is multiplied by DISAGREE_FACTOR;
  - that differ a lot are different people or vehicles (a claim may hold two ID cards) and stay untouched.
A VIN read is never changed by another photo (issue 22): a VIN plate that disagrees with the 行驶证 is one of the
first fraud signals an adjuster checks, so both reads stay as read and the claim carries the comparison
(`vin_matches`: the callback's `vin_checks` extension, docs/protocol-decisions.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from picloss.domain.documents.model import DocumentRead, FieldRead
from picloss.domain.documents.validators import CORRECTED_CAP

AGREE_CAP = 0.99
DISAGREE_FACTOR = 0.5
NEAR_DISTANCE = 3

# (image_class, field name) pairs that carry the same number.
SAME_NUMBER_GROUPS: tuple[tuple[tuple[str, str], ...], ...] = (
    (("IDCARD_FRONT", "id"), ("DRIVER_LICENSE", "证号")),
    (("DRIVING_LICENSE", "车辆识别代号"), ("VIN", "vin")),
)

VIN_GROUP = SAME_NUMBER_GROUPS[1]

Key = tuple[int, int]  # (document index, field index)


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cross_check(reads: list[DocumentRead]) -> list[DocumentRead]:
    """Return the documents with confidences (and possibly values) adjusted across documents."""
    fields = {(d, f): field for d, doc in enumerate(reads) for f, field in enumerate(doc.fields)}
    for group in SAME_NUMBER_GROUPS:
        members = [key for key, field in fields.items()
                   if (reads[key[0]].image_class, field.name) in group and field.value]
        for cluster in _near_clusters(members, fields):
            fields.update(_reconcile(cluster, fields, correct=group is not VIN_GROUP))
    return [replace(doc, fields=[fields[(d, f)] for f in range(len(doc.fields))])
            for d, doc in enumerate(reads)]


def _near_clusters(members: list[Key], fields: dict[Key, FieldRead]) -> list[list[Key]]:
    """Groups of reads on different photos whose values are within NEAR_DISTANCE of each other."""
    clusters: list[list[Key]] = []
    for key in members:
        value = fields[key].value
        home = next((c for c in clusters
                     if any(edit_distance(value, fields[k].value) <= NEAR_DISTANCE for k in c)), None)
        if home is None:
            clusters.append([key])
        else:
            home.append(key)
    return [c for c in clusters if len({k[0] for k in c}) > 1]


def _reconcile(cluster: list[Key], fields: dict[Key, FieldRead], correct: bool = True) -> dict[Key, FieldRead]:
    values = {fields[k].value for k in cluster}
    if len(values) == 1:
        doubt = 1.0
        for k in cluster:
            doubt *= 1.0 - fields[k].confidence
        confidence = min(AGREE_CAP, 1.0 - doubt)
        return {k: replace(fields[k], confidence=max(fields[k].confidence, confidence)) for k in cluster}
    validated = {fields[k].value for k in cluster if fields[k].validated}
    if correct and len(validated) == 1:
        winner_value = validated.pop()
        winner_conf = max(fields[k].confidence for k in cluster if fields[k].value == winner_value)
        out = {}
        for k in cluster:
            f = fields[k]
            if f.value != winner_value:
                f = replace(f, value=winner_value, validated=True, corrected=True,
                            confidence=min(winner_conf, CORRECTED_CAP))
            out[k] = f
        return out
    return {k: replace(fields[k], confidence=fields[k].confidence * DISAGREE_FACTOR) for k in cluster}


@dataclass(frozen=True)
class VinMatch:
    """One VIN plate photo compared with one 行驶证 of the same claim (both reads as they were reported)."""

    plate_fileid: str
    licence_fileid: str
    match: bool
    differing: int  # edit distance between the two VINs (1–3: likely a misread; more: another vehicle)

    def as_json(self) -> dict[str, object]:
        return {"vin_fileid": self.plate_fileid, "driving_license_fileid": self.licence_fileid,
                "result": "MATCH" if self.match else "MISMATCH", "differing_characters": self.differing}


def vin_matches(reads: list[DocumentRead]) -> list[VinMatch]:
    """Every VIN plate photo against every 行驶证 of the claim, where both have a VIN value; values untouched."""
    def vins(image_class: str, name: str) -> list[tuple[str, str]]:
        return [(doc.fileid, f.value) for doc in reads if doc.image_class == image_class
                for f in doc.fields if f.name == name and f.value]

    plates = vins("VIN", "vin")
    licences = vins("DRIVING_LICENSE", "车辆识别代号")
    return [VinMatch(p, lic, a == b, edit_distance(a, b)) for p, a in plates for lic, b in licences]
