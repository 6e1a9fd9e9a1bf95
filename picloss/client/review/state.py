"""The adjuster's review of one claim: what it holds, how it is checked, saved, and exported as labels.

One file per claim, `DIR/review/<claim id>.json` (the claim id is the callback file's stem), written atomically
(`picloss.client.review.atomic`): a save cut by a kill leaves the previous review or the new one, never a torn file.

    {"format": "picloss-review/1", "claim": "PL2026...", "accept_seqno": "...", "revision": 3, "saved_at": "...",
     "photos": {"<fileid>": {"boxes": [
         {"box": [x0, y0, x1, y1], "component_id": 1, "degree": "repair", "damage_type": "scratch",
          "status": "accepted" | "rejected" | "pending", "origin": 0 | null, "edited": false}]}},
     "documents": {"<fileid>": {"<field name>": "corrected value"}}}

`origin` is the index of the service's box on that photo (`service_boxes` of the page's API) or null for a box the
adjuster drew. A photo is *reviewed* once it is in the file with no pending box. Export (`reviewed_labels`): the
accepted boxes of reviewed photos, `source="adjuster"`; rejected boxes are absent; with `include_unreviewed`, also
the photos not (fully) reviewed, their undecided boxes as the service reported them (`source="service"`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picloss.client.review.atomic import remove_stale_temporaries, write_atomic
from picloss.client.sdk.labels import DEGREE_NAMES, LabelBox, LabelError, PhotoLabels, from_callback
from picloss.protocol.results import IDCARD_FIELDS, Callback, ResultError

FORMAT = "picloss-review/1"
STATUSES = ("accepted", "rejected", "pending")
MAX_BOXES_PER_PHOTO = 500
MAX_FIELD_CHARS = 500
MAX_DAMAGE_TYPE_CHARS = 64


class StateError(ResultError):
    """A review body or file that is not a review of this claim (names the place)."""


@dataclass(frozen=True)
class ServiceBox:
    """A damage box as the service reported it, on one photo (the page numbers them per photo: `origin`)."""

    box: tuple[float, float, float, float]
    component_id: int
    degree: str | None
    damage_type: str | None
    existence_score: int | None
    degree_score: int | None = None


def service_boxes(callback: Callback) -> dict[str, list[ServiceBox]]:
    """fileid -> the service's boxes, in the order `labels.from_callback` lists them (SINGLE and BATCH)."""
    out: dict[str, list[ServiceBox]] = {}
    for loss in callback.single_loss:
        for d in loss.damages:
            if d.main_part is None:
                continue
            b = d.box
            out.setdefault(loss.file.fileid, []).append(ServiceBox(
                (float(b.xmin), float(b.ymin), float(b.xmax), float(b.ymax)), d.main_part.component.id,
                d.degree if d.degree in DEGREE_NAMES else None, d.damage_type, d.existence_score, d.degree_score))
    if callback.batch_loss is not None:
        for entry in callback.batch_loss.entries:
            for photo in entry.photos:
                for b in photo.boxes:
                    out.setdefault(photo.file.fileid, []).append(ServiceBox(
                        (float(b.xmin), float(b.ymin), float(b.xmax), float(b.ymax)), entry.component.id,
                        entry.degree if entry.degree in DEGREE_NAMES else None, None, None, entry.degree_score))
    return out


def editable_fields(callback: Callback) -> dict[str, set[str]]:
    """fileid -> the document fields the adjuster may correct: those the service read, and for an ID card or a
    VIN plate every field of the kind (a field the service missed can be filled in)."""
    out: dict[str, set[str]] = {}
    for doc in callback.documents:
        names = out.setdefault(doc.file.fileid, set())
        names.update(f.name for f in doc.fields)
        if doc.kind == "idcard":
            names.update(IDCARD_FIELDS)
        elif doc.kind == "vin":
            names.add("vin")
    return out


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise StateError(f"{where}: not a number")
    return float(value)


def validate(body: Any, callback: Callback, sizes: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """The review body the page saves, checked against the claim; the normalised `photos` and `documents`."""
    if not isinstance(body, dict):
        raise StateError("review: not a JSON object")
    photos_in = body.get("photos", {})
    docs_in = body.get("documents", {})
    if not isinstance(photos_in, dict) or not isinstance(docs_in, dict):
        raise StateError("review: `photos` and `documents` must be objects keyed by fileid")
    file_ids = {f.file.fileid for f in callback.all_files()}
    originals = service_boxes(callback)
    photos: dict[str, Any] = {}
    for fileid, photo in photos_in.items():
        where = f"photos[{fileid!r}]"
        if fileid not in file_ids:
            raise StateError(f"{where}: not a file of this claim")
        if not isinstance(photo, dict) or not isinstance(photo.get("boxes"), list):
            raise StateError(f"{where}: needs `boxes`, a list")
        if len(photo["boxes"]) > MAX_BOXES_PER_PHOTO:
            raise StateError(f"{where}: more than {MAX_BOXES_PER_PHOTO} boxes")
        width, height = sizes.get(fileid, (None, None))
        boxes = []
        seen_origins: set[int] = set()
        for k, b in enumerate(photo["boxes"]):
            boxes.append(_box(b, f"{where}.boxes[{k}]", originals.get(fileid, []), seen_origins, width, height))
        missing = set(range(len(originals.get(fileid, [])))) - seen_origins
        if missing:
            raise StateError(f"{where}: the service's boxes {sorted(missing)} are missing (a box is rejected, "
                             "never dropped)")
        photos[fileid] = {"boxes": boxes}
    fields = editable_fields(callback)
    documents: dict[str, Any] = {}
    for fileid, corrections in docs_in.items():
        where = f"documents[{fileid!r}]"
        if fileid not in fields:
            raise StateError(f"{where}: not a document photo of this claim")
        if not isinstance(corrections, dict):
            raise StateError(f"{where}: not an object of field name -> value")
        for name, value in corrections.items():
            if name not in fields[fileid]:
                raise StateError(f"{where}.{name}: not a field of this document "
                                 f"(one of {', '.join(sorted(fields[fileid]))})")
            if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
                raise StateError(f"{where}.{name}: not a text of at most {MAX_FIELD_CHARS} characters")
        if corrections:
            documents[fileid] = {str(k): str(v) for k, v in corrections.items()}
    return {"photos": photos, "documents": documents}


def _box(b: Any, where: str, originals: list[ServiceBox], seen: set[int], width: int | None,
         height: int | None) -> dict[str, Any]:
    if not isinstance(b, dict):
        raise StateError(f"{where}: not an object")
    coords = b.get("box")
    if not isinstance(coords, list) or len(coords) != 4:
        raise StateError(f"{where}.box: not [x0, y0, x1, y1]")
    x0, y0, x1, y1 = (round(_number(v, f"{where}.box"), 2) for v in coords)
    if width is not None and height is not None:
        slack = 1.0
        if x0 < -slack or y0 < -slack or x1 > width + slack or y1 > height + slack:
            raise StateError(f"{where}.box {[x0, y0, x1, y1]}: outside the {width}×{height} photo")
    status = b.get("status")
    if status not in STATUSES:
        raise StateError(f"{where}.status {status!r}: not one of {', '.join(STATUSES)}")
    origin = b.get("origin")
    if origin is not None:
        if isinstance(origin, bool) or not isinstance(origin, int) or not 0 <= origin < len(originals):
            raise StateError(f"{where}.origin {origin!r}: not the index of one of the service's boxes on this photo")
        if origin in seen:
            raise StateError(f"{where}.origin {origin}: the same service box twice")
        seen.add(origin)
    elif status != "accepted":
        raise StateError(f"{where}: a box the adjuster drew is accepted (delete it instead of rejecting it)")
    damage_type = b.get("damage_type")
    if damage_type is not None and (not isinstance(damage_type, str) or len(damage_type) > MAX_DAMAGE_TYPE_CHARS):
        raise StateError(f"{where}.damage_type: not a short text")
    degree = b.get("degree")
    component = b.get("component_id")
    if isinstance(component, bool) or not isinstance(component, int):
        raise StateError(f"{where}.component_id: not an integer (a protocol component id, 1-40)")
    try:
        LabelBox((x0, y0, x1, y1), component, degree, damage_type)  # the labels' own checks
    except LabelError as exc:
        raise StateError(f"{where}: {exc}") from None
    if status == "accepted" and degree is None:
        raise StateError(f"{where}: an accepted box needs its degree ({' or '.join(DEGREE_NAMES)})")
    return {"box": [x0, y0, x1, y1], "component_id": component, "degree": degree, "damage_type": damage_type,
            "status": status, "origin": origin, "edited": bool(b.get("edited", False))}


# -------------------------------------------------------------------------------------------- the file

def state_path(folder: Path, claim_id: str) -> Path:
    return folder / "review" / f"{claim_id}.json"


def load(folder: Path, claim_id: str) -> dict[str, Any] | None:
    """The saved review, or None. A file that does not parse is an error (never silently replaced)."""
    path = state_path(folder, claim_id)
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateError(f"{path}: the saved review is not JSON ({exc}); move it away to start again") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise StateError(f"{path}: not a {FORMAT} file")
    return state


def save(folder: Path, claim_id: str, callback: Callback, review: dict[str, Any], revision: int) -> dict[str, Any]:
    """Write the (validated) review as the next revision; returns what was written."""
    path = state_path(folder, claim_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": FORMAT, "claim": claim_id, "accept_seqno": callback.accept_seqno,
             "req_seqno": callback.req_seqno, "revision": revision,
             "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "photos": review["photos"], "documents": review["documents"]}
    write_atomic(path, json.dumps(state, ensure_ascii=False, indent=1))
    remove_stale_temporaries(path.parent, path.name)
    return state


def is_reviewed(photo: dict[str, Any] | None) -> bool:
    return photo is not None and all(b["status"] != "pending" for b in photo["boxes"])


def reviewed_labels(callback: Callback, state: dict[str, Any] | None, sizes: dict[str, tuple[int, int]],
                    include_unreviewed: bool = False) -> list[PhotoLabels]:
    """The claim's labels after review (`sizes`: fileid -> upright size; a photo without one is left out)."""
    saved = (state or {}).get("photos", {})
    originals = service_boxes(callback)
    names = {f.file.fileid: f.file.name for f in callback.all_files()}
    damage_photos = {names[f.file.fileid] for f in callback.all_files() if f.image_class == "DAMAGE"}
    service = {p.file_name: p for p in from_callback(callback, {names[fid]: s for fid, s in sizes.items()
                                                                if fid in names})}
    out = []
    for fileid, name in names.items():
        if fileid not in sizes:
            continue
        photo = saved.get(fileid)
        reviewed = is_reviewed(photo)
        if not reviewed and not include_unreviewed:
            continue
        width, height = sizes[fileid]
        if photo is None:
            if name in service:
                out.append(service[name])  # the verdicts as they came, source="service"
            continue
        boxes = []
        for b in photo["boxes"]:
            origin = originals[fileid][b["origin"]] if b["origin"] is not None else None
            if b["status"] == "accepted":
                x0, y0, x1, y1 = (float(v) for v in b["box"])
                boxes.append(LabelBox((x0, y0, x1, y1), b["component_id"], b["degree"], b["damage_type"],
                                      "adjuster", origin.existence_score if origin else None))
            elif b["status"] == "pending" and origin is not None:
                boxes.append(LabelBox(origin.box, origin.component_id, origin.degree, origin.damage_type,
                                      "service", origin.existence_score))
        if boxes or name in damage_photos or originals.get(fileid):
            # the claim, as `from_callback` records it: retraining holds out whole claims
            out.append(PhotoLabels(name, width, height, tuple(boxes), callback.accept_seqno or None))
    return out


def document_corrections(callback: Callback, state: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every corrected document field: photo, kind, field, the value read and the adjuster's value."""
    saved = (state or {}).get("documents", {})
    out = []
    for doc in callback.documents:
        for name, value in sorted(saved.get(doc.file.fileid, {}).items()):
            read = doc.get(name)
            out.append({"fileid": doc.file.fileid, "file_name": doc.file.name, "kind": doc.kind, "field": name,
                        "read": read.value if read else None, "corrected": value})
    return out
