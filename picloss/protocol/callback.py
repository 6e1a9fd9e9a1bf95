"""The callback body of PROTOCOL §5 and the §7 extensions, built from a pipeline outcome (the orchestrator's).

Its parser is `picloss.protocol.results.parse_callback`; tests/unit/shared/test_protocol_round_trip.py builds a
body here, validates it against contracts/callback.schema.json and parses it back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from picloss.domain.documents.crosscheck import vin_matches
from picloss.domain.documents.model import DocumentRead, FieldRead
from picloss.protocol.codes import CallbackCode, FileCode, ImageClass
from picloss.protocol.results import IDCARD_FIELDS

if TYPE_CHECKING:  # read, never imported at run time: the pipeline imports the protocol, not the reverse
    from picloss.engines.pipeline.pipeline import FileWork, Outcome
    from picloss.rpc.aggregator.v1 import aggregator_pb2
    from picloss.rpc.common.v1 import common_pb2
    from picloss.rpc.damage.v1 import damage_pb2

PRE_CLASSIFICATION = {FileCode.DOWNLOAD_FAILED, FileCode.MD5_MISMATCH, FileCode.NOT_AN_IMAGE, FileCode.TOO_LARGE}


def file_desc(f: FileWork) -> dict[str, Any]:
    desc: dict[str, Any] = {"fileurl": f.fileurl, "fileid": f.fileid}
    if f.md5:
        desc["filemd5"] = f.md5
    return desc


def box(b: common_pb2.Box) -> dict[str, int]:
    return {"xmin": b.xmin, "ymin": b.ymin, "xmax": b.xmax, "ymax": b.ymax}


def _conf(value: float) -> float:
    return round(min(1.0, max(0.0, float(value))), 4)


def idcard(f: FileWork) -> dict[str, Any]:
    assert f.document is not None
    body: dict[str, Any] = {"file": file_desc(f), "result_code": int(f.code)}
    confidences: dict[str, float] = {}
    for fld in f.document.fields:
        if fld.name in IDCARD_FIELDS and fld.value:
            body[fld.name] = fld.value
            confidences[fld.name] = _conf(fld.confidence)
    if confidences:
        body["confidences"] = confidences  # extension: the protocol's idcard has no per-field confidence
    return body


def licence(f: FileWork) -> dict[str, Any]:
    assert f.document is not None
    items = [{"item": fld.name, "itemstring": fld.value, "itemconf": _conf(fld.confidence)}
             for fld in f.document.fields if fld.value]
    return {"file": file_desc(f), "result_code": int(f.code), "items": items}


def vin_info(f: FileWork) -> dict[str, Any]:
    assert f.document is not None
    body: dict[str, Any] = {"file": file_desc(f), "result_code": int(f.code)}
    for fld in f.document.fields:
        if fld.name == "vin" and fld.value:
            body["vin"], body["vinconf"] = fld.value, _conf(fld.confidence)
    return body


def vin_checks(read: list[FileWork]) -> list[dict[str, Any]]:
    """Extension (issue 22, docs/protocol-decisions.md): each VIN plate photo of the claim compared with each
    行驶证; the reads themselves are reported unchanged."""
    docs = [DocumentRead(f.fileid, f.image_class.value, [FieldRead(x.name, x.value, x.confidence)
                                                         for x in f.document.fields])
            for f in read if f.document is not None and f.image_class in (ImageClass.VIN, ImageClass.DRIVING_LICENSE)]
    return [m.as_json() for m in vin_matches(docs)]


def single_damage(d: damage_pb2.Damage) -> dict[str, Any]:
    return {
        "damage_degree_id": int(d.degree_id),
        "damage_degree_score": int(d.degree_score),
        "component_parts": [{"component_part_id": int(c.component_part_id), "component_part_score": int(c.score)}
                            for c in d.components],
        "boxes": box(d.box),
        "damage_type": d.damage_type,
        "damage_type_score": int(d.damage_type_score),
        "damage_existence_score": min(100, max(0, round(100 * float(d.existence)))),
    }


def single_loss(f: FileWork) -> dict[str, Any]:
    damages = list(f.damages.damages) if f.damages is not None else []
    return {"file": file_desc(f), "result_code": int(f.code), "single_damage": [single_damage(d) for d in damages]}


def batch_loss(outcome: Outcome, damage_files: list[FileWork]) -> dict[str, Any] | None:
    by_idx = {str(f.idx): f for f in outcome.files}
    if outcome.batch is None:
        if not damage_files:
            return None
        if outcome.batch_error is not None:
            return {"result_code": int(FileCode.PROCESSING_FAILED), "batch_loss_results": []}
        return {"result_code": int(FileCode.NO_DAMAGE), "batch_loss_results": []}
    results = [_component(c, by_idx) for c in outcome.batch.results]
    return {"result_code": int(FileCode.OK if results else FileCode.NO_DAMAGE), "batch_loss_results": results}


def _component(c: aggregator_pb2.ComponentDamage, by_idx: dict[str, FileWork]) -> dict[str, Any]:
    return {
        "damage_component_id": int(c.damage_component_id),
        "damage_degree_id": int(c.damage_degree_id),
        "damage_degree_score": int(c.damage_degree_score),
        "image_contain": [{"file": file_desc(by_idx[ic.fileid]), "component_damage_boxes": [box(b) for b in ic.boxes]}
                          for ic in c.image_contain if ic.fileid in by_idx],
    }


def _file_entry(f: FileWork) -> dict[str, Any]:
    entry: dict[str, Any] = {"fileid": f.fileid, "fileurl": f.fileurl, "result_code": int(f.code)}
    if f.image_class is not None:  # absent when the file failed before it could be classified
        entry["image_class"] = f.image_class.value
    version = model_version(f)
    if version:  # extension (issue 24): the models behind this file's verdict
        entry["model_version"] = version
    return entry


def model_version(f: FileWork) -> str:
    """The models that produced the file's reported result: the damage service's (`damage_detector/2+...`) for a
    damage photo, the OCR's for a document read; "" for a file with no typed result."""
    if f.damages is not None:
        return f.damage_model
    if f.document is not None:
        return f.document.model_version
    return ""


def overall(files: list[FileWork]) -> tuple[CallbackCode, str]:
    if all(f.code in PRE_CLASSIFICATION for f in files):
        return CallbackCode.ALL_FILES_FAILED, "no file could be downloaded and decoded"
    if all(f.code in PRE_CLASSIFICATION or f.code == FileCode.PROCESSING_FAILED for f in files):
        return CallbackCode.PROCESS_FAILED, "the model services could not process any file"
    failed = sum(1 for f in files if f.code in PRE_CLASSIFICATION or f.code == FileCode.PROCESSING_FAILED)
    return CallbackCode.SUCCESS, f"{len(files) - failed} of {len(files)} files processed"


def build_body(*, appid: str, mchid: str, nonce: str, timestamp: int, accept_seqno: str, req_seqno: str,
               model: str, outcome: Outcome) -> dict[str, Any]:
    files = outcome.files
    code, msg = overall(files)
    body: dict[str, Any] = {
        "appid": appid, "mchid": mchid, "nonce": nonce, "timestamp": timestamp,
        "accept_seqno": accept_seqno, "req_seqno": req_seqno, "result_code": code.value, "result_msg": msg,
    }
    read = [f for f in files if f.document is not None]
    groups = {
        "idcards": [idcard(f) for f in read if f.image_class in (ImageClass.IDCARD_FRONT, ImageClass.IDCARD_BACK)],
        "driver_licenses": [licence(f) for f in read if f.image_class is ImageClass.DRIVER_LICENSE],
        "driving_licenses": [licence(f) for f in read if f.image_class is ImageClass.DRIVING_LICENSE],
        "vin_infos": [vin_info(f) for f in read if f.image_class is ImageClass.VIN],
    }
    body.update({k: v for k, v in groups.items() if v})
    checks = vin_checks(read)
    if checks:
        body["vin_checks"] = checks
    damage_files = [f for f in files if f.damages is not None]
    if model == "SINGLE" and damage_files:
        body["single_loss"] = [single_loss(f) for f in damage_files]
    if model == "BATCH":
        batch = batch_loss(outcome, damage_files)
        if batch is not None:
            body["batch_loss"] = batch
    body["files"] = [_file_entry(f) for f in files]
    return body
