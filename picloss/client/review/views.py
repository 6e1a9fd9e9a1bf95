"""What the review page shows of a claim, and its export: plain data, no web framework (the CLI's
`picloss review --export-coco` uses it without aiohttp)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picloss.client.report.html import CLASS_WORDS, DOC_TITLES, IDCARD_LABELS, _check
from picloss.client.review import state as review_state
from picloss.client.review.atomic import write_atomic
from picloss.client.review.folder import ClaimFile, PhotoFinder, PhotoInfo
from picloss.client.sdk import labels
from picloss.protocol.results import COMPONENTS, DEGREES, Callback, Document, file_code_text


def components() -> list[dict[str, Any]]:
    return [{"id": cid, "zh": zh, "en": en} for cid, (zh, en) in sorted(COMPONENTS.items())]


def photo_infos(claim: ClaimFile, finder: PhotoFinder) -> dict[str, PhotoInfo]:
    assert claim.callback is not None
    return {f.file.fileid: finder.find(claim, f.file.name, f.file.filemd5) for f in claim.callback.all_files()}


def sizes(infos: dict[str, PhotoInfo]) -> dict[str, tuple[int, int]]:
    """fileid -> upright size, for the photos the page shows (a refused photo has no labels)."""
    return {fid: info.size for fid, info in infos.items() if info.rel is not None and info.size is not None}


def field_check(doc: Document, name: str, value: str) -> dict[str, str] | None:
    """The report's validation mark (GB 11643 ID numbers, ISO 3779 VINs) as {level, text}; None when the field
    has no rule."""
    html = _check(doc, name, value)
    if not html:
        return None
    level = re.search(r'class="badge (\w+)"', html)
    return {"level": level.group(1) if level else "warn", "text": re.sub(r"<[^>]+>", "", html)}


def _document(doc: Document, corrections: dict[str, str], editable: set[str]) -> dict[str, Any]:
    read = {f.name: f for f in doc.fields}
    names = [f.name for f in doc.fields] + sorted(editable - set(read))
    fields = []
    for name in names:
        value = corrections.get(name, read[name].value if name in read else "")
        fields.append({"name": name, "label": IDCARD_LABELS.get(name, name) if doc.kind == "idcard" else name,
                       "read": read[name].value if name in read else None,
                       "confidence": read[name].confidence if name in read else None,
                       "value": value, "corrected": name in corrections,
                       "check": field_check(doc, name, value) if value else None})
    return {"kind": doc.kind, "title": DOC_TITLES.get(doc.kind, doc.kind), "result_code": doc.result_code,
            "fields": fields}


def _batch(callback: Callback) -> dict[str, Any] | None:
    batch = callback.batch_loss
    if batch is None:
        return None
    rows = [{"component_id": e.component.id, "zh": e.component.zh, "en": e.component.en, "degree": e.degree,
             "degree_zh": DEGREES.get(e.degree_id, ("?", "?"))[0], "degree_score": e.degree_score,
             "photos": [{"fileid": p.file.fileid, "name": p.file.name, "boxes": len(p.boxes)} for p in e.photos]}
            for e in batch.entries]
    return {"result_code": batch.result_code, "result_text": file_code_text(batch.result_code), "rows": rows}


def claim_view(folder: Path, claim: ClaimFile, finder: PhotoFinder) -> dict[str, Any]:
    """The page's whole view of one claim: photos (where to get each, or why not), the service's boxes, the
    documents with any correction, the BATCH table, and the saved review."""
    cb = claim.callback
    assert cb is not None
    review_error = None
    try:
        saved = review_state.load(folder, claim.id)
    except review_state.StateError as exc:
        saved, review_error = None, str(exc)
    corrections = (saved or {}).get("documents", {})
    infos = photo_infos(claim, finder)
    boxes = review_state.service_boxes(cb)
    docs = {d.file.fileid: d for d in cb.documents}
    editable = review_state.editable_fields(cb)
    photos = []
    for f in cb.all_files():
        fid = f.file.fileid
        info = infos[fid]
        photos.append({
            "fileid": fid, "name": f.file.name, "image_class": f.image_class,
            "class_words": CLASS_WORDS.get(f.image_class or "", f.image_class or "not classified"),
            "result_code": f.result_code, "result_text": file_code_text(f.result_code),
            "src": info.rel, "error": info.error,
            "width": info.size[0] if info.size else None, "height": info.size[1] if info.size else None,
            "service_boxes": [{"box": list(b.box), "component_id": b.component_id, "degree": b.degree,
                               "degree_score": b.degree_score, "damage_type": b.damage_type,
                               "existence_score": b.existence_score} for b in boxes.get(fid, [])],
            "document": _document(docs[fid], corrections.get(fid, {}), editable.get(fid, set()))
            if fid in docs else None,
            "reviewed": review_state.is_reviewed((saved or {}).get("photos", {}).get(fid)),
        })
    return {"id": claim.id, "file": claim.path.name, "accept_seqno": cb.accept_seqno, "req_seqno": cb.req_seqno,
            "mode": cb.mode, "result_code": cb.result_code, "result_msg": cb.result_msg, "batch": _batch(cb),
            "photos": photos, "review": saved, "revision": int((saved or {}).get("revision", 0)),
            "review_error": review_error}


@dataclass(frozen=True)
class Exported:
    photos: int
    boxes: int
    coco: dict[str, Any]
    documents: list[dict[str, Any]]


def export(folder: Path, claims: Iterable[ClaimFile], finder: PhotoFinder,
           include_unreviewed: bool = False) -> Exported:
    """The reviewed labels of these claims as one COCO document (`labels.to_coco`), and the corrected
    document fields."""
    photos: list[labels.PhotoLabels] = []
    documents: list[dict[str, Any]] = []
    for claim in claims:
        if claim.callback is None:
            continue
        saved = review_state.load(folder, claim.id)
        photos += review_state.reviewed_labels(claim.callback, saved, sizes(photo_infos(claim, finder)),
                                               include_unreviewed)
        documents += [{"claim": claim.id, **c} for c in review_state.document_corrections(claim.callback, saved)]
    coco = labels.to_coco(photos)
    coco["info"]["description"] = "picloss damage labels after the adjuster's review (docs/sdk.md, review page)"
    return Exported(len(photos), sum(len(p.boxes) for p in photos), coco, documents)


def write_export(exported: Exported, coco_path: Path) -> tuple[Path, Path]:
    """Write the COCO file and, beside it, `<name>.documents.json` (the corrected fields), both atomically."""
    coco_path.parent.mkdir(parents=True, exist_ok=True)
    docs_path = coco_path.with_name(coco_path.name.removesuffix(".json") + ".documents.json")
    write_atomic(coco_path, json.dumps(exported.coco, ensure_ascii=False, indent=1))
    write_atomic(docs_path, json.dumps({"corrections": exported.documents}, ensure_ascii=False, indent=1))
    return coco_path, docs_path
