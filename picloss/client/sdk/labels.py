"""Damage labels in the formats labelling tools already use (issue 24, item 2): COCO, YOLO, Label Studio.

A claim's verdicts (a result callback) become *pre-annotations*: every reported damage box with its damaged
component (protocol ids 1-40), repair/replace and damage type, marked `source="service"`. What an adjuster accepts,
corrects or adds (the review page of issue 24, or Label Studio / CVAT) comes back through `from_coco` / `from_yolo`
as the same `PhotoLabels`, ready for retraining.

- **COCO** (`to_coco` / `from_coco`): one category per protocol component (`id` = the protocol id, so the file
  reads the same in every tool); degree, damage type, source and the service's existence score are annotation
  `attributes` (the key CVAT's COCO export uses). Lossless round trip.
- **YOLO** (`to_yolo` / `from_yolo`): `classes.txt` (line k = component id k+1) and one `<photo stem>.txt` per photo
  (`class cx cy w h`, normalised). YOLO carries the component only: degree and damage type are not in the format,
  and `from_yolo` leaves them unknown (`degree=None`). Boxes round-trip to 1e-6 of the photo's size.
- **Label Studio** (`to_label_studio`): import tasks with the verdicts as `predictions` (rectangle labels in percent,
  the component's English name, a `degree` choice per box), so the adjuster starts from the service's boxes.

Standard library only (the SDK's rule): photo sizes are given by the caller (`picloss labels export` reads them
with Pillow, the `client` extra).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from picloss.protocol.results import COMPONENTS, Callback, ResultError

DEGREE_NAMES = ("repair", "replace")
SOURCES = ("service", "adjuster")
COMPONENT_IDS = tuple(sorted(COMPONENTS))


class LabelError(ResultError):
    """A labels file that does not say what a label needs (names the place)."""


@dataclass(frozen=True)
class LabelBox:
    """One damage on one photo: xyxy in photo pixels, the damaged component, repair/replace, the damage type."""

    box: tuple[float, float, float, float]
    component_id: int
    degree: str | None = None  # "repair" | "replace"; None: not known (a YOLO import)
    damage_type: str | None = None  # scratch, dent, broken, ... as the service or the adjuster names it
    source: str = "adjuster"  # "service": a verdict not reviewed; "adjuster": set or confirmed by a person
    existence_score: int | None = None  # the service's damage_existence_score (0..100), verdicts only

    def __post_init__(self) -> None:
        if self.component_id not in COMPONENTS:
            raise LabelError(f"component {self.component_id}: not a protocol component id (1-40)")
        if self.degree is not None and self.degree not in DEGREE_NAMES:
            raise LabelError(f"degree {self.degree!r}: not one of {', '.join(DEGREE_NAMES)}")
        if self.source not in SOURCES:
            raise LabelError(f"source {self.source!r}: not one of {', '.join(SOURCES)}")
        x0, y0, x1, y1 = self.box
        if not (x1 > x0 and y1 > y0):
            raise LabelError(f"box {self.box}: not x0 < x1 and y0 < y1")


@dataclass(frozen=True)
class PhotoLabels:
    """The damage labels of one photo (`file_name`: the photo's file name, how every format refers to it)."""

    file_name: str
    width: int
    height: int
    boxes: tuple[LabelBox, ...] = field(default=())
    claim: str | None = None  # the claim the photo belongs to (accept_seqno): held-out splits are chosen by claim

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise LabelError(f"{self.file_name}: photo size {self.width}x{self.height}")


# -------------------------------------------------------------------------------------------- from a callback

def from_callback(callback: Callback, sizes: Mapping[str, tuple[int, int]]) -> list[PhotoLabels]:
    """The callback's damage verdicts as pre-annotations (`source="service"`), one entry per damage photo whose
    size is known (`sizes`: file name -> (width, height)); a photo the service found no damage on has no boxes.
    SINGLE: each `single_damage` with its main component; BATCH: each component's boxes on each photo."""
    boxes: dict[str, list[LabelBox]] = {}
    names: dict[str, str] = {}
    for loss in callback.single_loss:
        names[loss.file.fileid] = loss.file.name
        for d in loss.damages:
            part = d.main_part
            if part is None:
                continue
            b = d.box
            boxes.setdefault(loss.file.fileid, []).append(LabelBox(
                (float(b.xmin), float(b.ymin), float(b.xmax), float(b.ymax)), part.component.id,
                d.degree if d.degree in DEGREE_NAMES else None, d.damage_type, "service", d.existence_score))
    if callback.batch_loss is not None:
        for entry in callback.batch_loss.entries:
            for photo in entry.photos:
                names[photo.file.fileid] = photo.file.name
                for b in photo.boxes:
                    boxes.setdefault(photo.file.fileid, []).append(LabelBox(
                        (float(b.xmin), float(b.ymin), float(b.xmax), float(b.ymax)), entry.component.id,
                        entry.degree if entry.degree in DEGREE_NAMES else None, None, "service"))
    for f in callback.all_files():
        if f.image_class == "DAMAGE":
            names.setdefault(f.file.fileid, f.file.name)
    out = []
    for fileid, name in names.items():
        if name in sizes:
            w, h = sizes[name]
            out.append(PhotoLabels(name, int(w), int(h), tuple(boxes.get(fileid, ())), callback.accept_seqno or None))
    return out


# -------------------------------------------------------------------------------------------- COCO

def coco_categories() -> list[dict[str, Any]]:
    return [{"id": cid, "name": COMPONENTS[cid][1], "name_zh": COMPONENTS[cid][0], "supercategory": "component"}
            for cid in COMPONENT_IDS]


def to_coco(photos: Iterable[PhotoLabels]) -> dict[str, Any]:
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for n, photo in enumerate(photos, start=1):
        image: dict[str, Any] = {"id": n, "file_name": photo.file_name, "width": photo.width, "height": photo.height}
        if photo.claim:
            image["claim"] = photo.claim  # extra image key (COCO tools keep unknown keys)
        images.append(image)
        for lab in photo.boxes:
            x0, y0, x1, y1 = lab.box
            attributes: dict[str, Any] = {"source": lab.source}
            if lab.degree is not None:
                attributes["degree"] = lab.degree
            if lab.damage_type is not None:
                attributes["damage_type"] = lab.damage_type
            if lab.existence_score is not None:
                attributes["existence_score"] = lab.existence_score
            annotations.append({"id": len(annotations) + 1, "image_id": n, "category_id": lab.component_id,
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0,
                                "segmentation": [], "attributes": attributes})
    return {"info": {"description": "picloss damage labels (docs/sdk.md, labels)"}, "images": images,
            "annotations": annotations, "categories": coco_categories()}


def _get(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj or not isinstance(obj[key], kind) or isinstance(obj[key], bool):
        raise LabelError(f"{where}: `{key}` missing or not {getattr(kind, '__name__', kind)}")
    return obj[key]


def from_coco(coco: Mapping[str, Any]) -> list[PhotoLabels]:
    """COCO as `to_coco`, Label Studio or CVAT write it. Categories are matched by id when the file uses the
    protocol's ids (`to_coco`), else by name (English or Chinese component name: a tool that renumbers them)."""
    if not isinstance(coco, Mapping):
        raise LabelError("COCO: not a JSON object")
    by_name = {COMPONENTS[c][1]: c for c in COMPONENT_IDS} | {COMPONENTS[c][0]: c for c in COMPONENT_IDS}
    category: dict[int, int] = {}
    for i, cat in enumerate(coco.get("categories") or []):
        cid = _get(cat, "id", int, f"categories[{i}]")
        name = cat.get("name")
        if name in by_name:
            category[cid] = by_name[name]
        elif cid in COMPONENTS and name is None:
            category[cid] = cid
        else:
            raise LabelError(f"categories[{i}]: {name!r} is not a protocol component name")
    images: dict[int, dict[str, Any]] = {}
    for i, img in enumerate(coco.get("images") or []):
        images[_get(img, "id", int, f"images[{i}]")] = img
    boxes: dict[int, list[LabelBox]] = {k: [] for k in images}
    for i, ann in enumerate(coco.get("annotations") or []):
        where = f"annotations[{i}]"
        image_id = _get(ann, "image_id", int, where)
        if image_id not in images:
            raise LabelError(f"{where}: image_id {image_id} is not an image of the file")
        cat = _get(ann, "category_id", int, where)
        if cat not in category:
            raise LabelError(f"{where}: category_id {cat} is not a category of the file")
        bbox = _get(ann, "bbox", list, where)
        if len(bbox) != 4 or not all(isinstance(v, int | float) for v in bbox):
            raise LabelError(f"{where}: bbox is not [x, y, w, h]")
        x, y, w, h = (float(v) for v in bbox)
        attrs = ann.get("attributes") or {}
        boxes[image_id].append(LabelBox((x, y, x + w, y + h), category[cat], attrs.get("degree"),
                                        attrs.get("damage_type"), attrs.get("source", "adjuster"),
                                        attrs.get("existence_score")))
    out = []
    for image_id, img in images.items():
        where = f"image {image_id}"
        claim = img.get("claim")
        out.append(PhotoLabels(_get(img, "file_name", str, where).rsplit("/", 1)[-1], _get(img, "width", int, where),
                               _get(img, "height", int, where), tuple(boxes[image_id]),
                               claim if isinstance(claim, str) and claim else None))
    return out


# -------------------------------------------------------------------------------------------- YOLO

def yolo_classes() -> str:
    """classes.txt: line k (from 0) is component id k + 1, by its English name."""
    assert COMPONENT_IDS == tuple(range(1, len(COMPONENT_IDS) + 1)), "the protocol's ids are 1..N"
    return "".join(f"{COMPONENTS[c][1]}\n" for c in COMPONENT_IDS)


def to_yolo(photos: Iterable[PhotoLabels]) -> dict[str, str]:
    """File name -> text: `classes.txt` and `<photo stem>.txt` per photo (`class cx cy w h`, normalised)."""
    out = {"classes.txt": yolo_classes()}
    for photo in photos:
        lines = []
        for lab in photo.boxes:
            x0, y0, x1, y1 = lab.box
            cx, cy = (x0 + x1) / 2 / photo.width, (y0 + y1) / 2 / photo.height
            w, h = (x1 - x0) / photo.width, (y1 - y0) / photo.height
            lines.append(f"{lab.component_id - 1} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
        stem = photo.file_name.rsplit(".", 1)[0]
        if f"{stem}.txt" in out:
            raise LabelError(f"{photo.file_name}: two photos share the stem {stem!r} (YOLO names labels by it)")
        out[f"{stem}.txt"] = "".join(lines)
    return out


def from_yolo(files: Mapping[str, str], sizes: Mapping[str, tuple[int, int]]) -> list[PhotoLabels]:
    """`files`: label file name -> text (a YOLO export: `<stem>.txt` per photo, `classes.txt` optional: when
    present its names are matched to components); `sizes`: photo file name -> (width, height)."""
    names = [line.strip() for line in files.get("classes.txt", yolo_classes()).splitlines() if line.strip()]
    by_name = {COMPONENTS[c][1]: c for c in COMPONENT_IDS} | {COMPONENTS[c][0]: c for c in COMPONENT_IDS}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise LabelError(f"classes.txt: {', '.join(unknown[:3])} not protocol component names")
    stems = {name.rsplit(".", 1)[0]: name for name in sizes}
    out = []
    for label_file, text in sorted(files.items()):
        if label_file == "classes.txt" or not label_file.endswith(".txt"):
            continue
        stem = label_file[:-4]
        if stem not in stems:
            raise LabelError(f"{label_file}: no photo of that name (the size is needed)")
        w, h = sizes[stems[stem]]
        boxes = []
        for k, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                cls, cx, cy, bw, bh = int(parts[0]), *(float(v) for v in parts[1:5])
            except (ValueError, IndexError):
                raise LabelError(f"{label_file}:{k}: not `class cx cy w h`") from None
            if len(parts) != 5 or not 0 <= cls < len(names):
                raise LabelError(f"{label_file}:{k}: class {parts[0]} or {len(parts)} columns")
            boxes.append(LabelBox(((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h),
                                  by_name[names[cls]]))
        out.append(PhotoLabels(stems[stem], int(w), int(h), tuple(boxes)))
    return out


# -------------------------------------------------------------------------------------------- Label Studio

def to_label_studio(photos: Iterable[PhotoLabels], image_url: str = "/data/local-files/?d={file_name}",
                    model_version: str = "picloss") -> list[dict[str, Any]]:
    """Label Studio import tasks, the verdicts as predictions. `image_url` is formatted with the file name (the
    default suits Label Studio's local-files storage). The labelling config: docs/sdk.md."""
    tasks = []
    for photo in photos:
        result: list[dict[str, Any]] = []
        for k, lab in enumerate(photo.boxes):
            x0, y0, x1, y1 = lab.box
            value = {"x": 100 * x0 / photo.width, "y": 100 * y0 / photo.height,
                     "width": 100 * (x1 - x0) / photo.width, "height": 100 * (y1 - y0) / photo.height,
                     "rotation": 0}
            region = {"id": f"b{k}", "from_name": "component", "to_name": "image", "type": "rectanglelabels",
                      "original_width": photo.width, "original_height": photo.height,
                      "value": {**value, "rectanglelabels": [COMPONENTS[lab.component_id][1]]}}
            if lab.existence_score is not None:
                region["score"] = lab.existence_score / 100
            result.append(region)
            if lab.degree is not None:
                result.append({"id": f"b{k}", "from_name": "degree", "to_name": "image", "type": "choices",
                               "value": {**value, "choices": [lab.degree]}})
        tasks.append({"data": {"image": image_url.format(file_name=photo.file_name)},
                      "predictions": [{"model_version": model_version, "result": result}]})
    return tasks
