"""The protocol's shapes from their one home (`picloss.protocol`), against contracts/*.schema.json: a callback body
made by the builder and a query answer made by the gateway's answer function are valid, and the parser the SDK
uses reads back every value they carry; every synchronous answer fits response.schema.json and the callback
success rule accepts the SUCCESS answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from picloss.engines.pipeline.pipeline import FileWork, Outcome
from picloss.protocol import json as pjson
from picloss.protocol.callback import build_body
from picloss.protocol.codes import FileCode, ImageClass, ResultCode
from picloss.protocol.endpoints import RESULT_EXPIRED, callback_accepted, query_answer, response_body
from picloss.protocol.results import IDCARD_FIELDS, Box, Callback, FileRef, parse_callback, parse_query
from picloss.protocol.schemas import validator
from picloss.rpc.aggregator.v1 import aggregator_pb2
from picloss.rpc.common.v1 import common_pb2
from picloss.rpc.damage.v1 import damage_pb2
from picloss.rpc.ocr.v1 import ocr_pb2

VIN = "LSVAU2180N2183294"


def read(idx: int, image_class: ImageClass, **fields: tuple[str, float]) -> FileWork:
    f = FileWork(idx, f"F{idx}", f"https://cos.example.com/c/{idx}.jpg", None, md5=f"{idx:032x}",
                 image_class=image_class)
    f.document = ocr_pb2.ReadDocumentResponse(fileid=str(idx), model_version="ocr/1", fields=[
        ocr_pb2.Field(name=name, value=value, confidence=conf) for name, (value, conf) in fields.items()])
    return f


def car(idx: int, *components: int) -> FileWork:
    f = FileWork(idx, f"F{idx}", f"https://cos.example.com/c/{idx}.jpg", None, md5=f"{idx:032x}",
                 image_class=ImageClass.DAMAGE, code=FileCode.OK if components else FileCode.NO_DAMAGE,
                 damage_model="damage_detector/2+damage_gate/1")
    f.damages = damage_pb2.ImageDamages(fileid=str(idx), damages=[damage_pb2.Damage(
        box=common_pb2.Box(xmin=10 * c, ymin=20, xmax=10 * c + 90, ymax=120),
        components=[damage_pb2.ComponentScore(component_part_id=c, score=80 + i)
                    for i, c in enumerate((c, 40))],
        degree_id=c % 2, degree_score=70, damage_type="dent", damage_type_score=60, existence=0.81)
        for c in components])
    return f


def claim(model: str) -> Outcome:
    files = [
        read(0, ImageClass.IDCARD_FRONT, **{name: (f"{name}-value", 0.9) for name in IDCARD_FIELDS[:6]}),
        read(1, ImageClass.IDCARD_BACK, valid_date=("2015.01.01-2035.01.01", 0.8), authority=("某公安局", 0.7)),
        read(2, ImageClass.DRIVER_LICENSE, 证号=("11010519491231002X", 0.95), 准驾车型=("C1", 0.99)),
        read(3, ImageClass.DRIVING_LICENSE, 号牌号码=("京A12345", 0.93), 车辆识别代号=(VIN, 0.9)),
        read(4, ImageClass.VIN, vin=(VIN[:-1] + "5", 0.88)),
        car(5, 19, 22), car(6),
        FileWork(7, "F7", "https://cos.example.com/c/7.jpg", None, code=FileCode.DOWNLOAD_FAILED),
    ]
    batch = aggregator_pb2.AggregateResponse(results=[aggregator_pb2.ComponentDamage(
        damage_component_id=19, damage_degree_id=1, damage_degree_score=85, image_contain=[
            aggregator_pb2.ImageBoxes(fileid="5", boxes=[common_pb2.Box(xmin=1, ymin=2, xmax=30, ymax=40)])])])
    return Outcome(files, batch=batch if model == "BATCH" else None)


def callback_body(model: str) -> dict[str, Any]:
    body = build_body(appid="wx-car-insur-01", mchid="1900000109", nonce="n1", timestamp=1_732_000_000,
                      accept_seqno="PL20241119000000abcdef0123456789", req_seqno="REQ-1", model=model,
                      outcome=claim(model))
    validator("callback").validate(body)
    return body


def ref(obj: dict[str, Any]) -> FileRef:
    return FileRef(obj["fileurl"], obj["fileid"], obj.get("filemd5"))


def assert_read_back(body: dict[str, Any], cb: Callback) -> None:
    """Every value of the body is in the parsed callback (what an extension adds stays in `.raw`)."""
    assert (cb.appid, cb.mchid, cb.accept_seqno, cb.req_seqno, cb.result_code, cb.result_msg, cb.timestamp) == (
        body["appid"], body["mchid"], body["accept_seqno"], body["req_seqno"], body["result_code"],
        body["result_msg"], body["timestamp"])
    assert cb.raw == body
    assert [(f.file, f.image_class, f.result_code, f.model_version) for f in cb.files] == [
        (FileRef(e["fileurl"], e["fileid"]), e.get("image_class"), e["result_code"], e.get("model_version"))
        for e in body["files"]]
    documents = []
    for card in body.get("idcards", []):
        documents.append(("idcard", ref(card["file"]), card["result_code"], [
            (name, card[name], card["confidences"][name]) for name in IDCARD_FIELDS if name in card]))
    for key in ("driver_licenses", "driving_licenses"):
        documents += [(key[:-1], ref(lic["file"]), lic["result_code"],
                       [(it["item"], it["itemstring"], it["itemconf"]) for it in lic["items"]]) for lic in body[key]]
    documents += [("vin", ref(v["file"]), v["result_code"], [("vin", v["vin"], v["vinconf"])])
                  for v in body["vin_infos"]]
    assert [(d.kind, d.file, d.result_code, [(f.name, f.value, f.confidence) for f in d.fields])
            for d in cb.documents] == documents
    damages = [(ref(loss["file"]), loss["result_code"], [
        (d["damage_degree_id"], d["damage_degree_score"],
         [(p["component_part_id"], p["component_part_score"]) for p in d["component_parts"]],
         Box(**d["boxes"]), d["damage_type"], d["damage_type_score"], d["damage_existence_score"])
        for d in loss["single_damage"]]) for loss in body.get("single_loss", [])]
    assert [(s.file, s.result_code, [
        (d.degree_id, d.degree_score, [(p.component.id, p.score) for p in d.parts], d.box, d.damage_type,
         d.damage_type_score, d.existence_score) for d in s.damages]) for s in cb.single_loss] == damages
    if "batch_loss" not in body:
        assert cb.batch_loss is None
        return
    batch = body["batch_loss"]
    assert cb.batch_loss is not None and cb.batch_loss.result_code == batch["result_code"]
    assert [(e.component.id, e.degree_id, e.degree_score, [(p.file, list(p.boxes)) for p in e.photos])
            for e in cb.batch_loss.entries] == [
        (e["damage_component_id"], e["damage_degree_id"], e["damage_degree_score"],
         [(ref(ic["file"]), [Box(**b) for b in ic["component_damage_boxes"]]) for ic in e["image_contain"]])
        for e in batch["batch_loss_results"]]


@pytest.mark.parametrize("model", ["SINGLE", "BATCH"])
def test_the_built_callback_is_valid_and_parses_back(model: str) -> None:
    body = callback_body(model)
    assert {"idcards", "driver_licenses", "driving_licenses", "vin_infos", "vin_checks", "files"} <= set(body)
    assert ("single_loss" in body) is (model == "SINGLE") and ("batch_loss" in body) is (model == "BATCH")
    cb = parse_callback(pjson.dumps(body))  # the bytes the dispatcher signs and sends
    assert cb.mode == model
    assert_read_back(body, cb)


def test_the_query_answer_is_valid_and_parses_back() -> None:
    body = callback_body("BATCH")
    at = datetime(2024, 11, 19, 8, 0, 15, tzinfo=UTC)
    attempts = [{"attempt": 1, "started_at": at, "outcome": "failure", "http_status": 500,
                 "error": "receiver answered 500", "duration_ms": 41},
                {"attempt": 2, "started_at": at.replace(second=45), "outcome": "success", "http_status": 200,
                 "error": None, "duration_ms": 12}]
    answer = query_answer(accept_seqno=body["accept_seqno"], req_seqno="REQ-1", state="DELIVERED",
                          attempts=attempts, result=body)
    validator("query-response").validate(answer)
    q = parse_query(pjson.dumps(answer))
    assert (q.accept_seqno, q.req_seqno, q.state) == (body["accept_seqno"], "REQ-1", "DELIVERED")
    assert [(a.attempt, a.at, a.outcome, a.http_status, a.error, a.duration_ms) for a in q.attempts] == [
        (a["attempt"], a["started_at"], a["outcome"], a["http_status"], a["error"], a["duration_ms"])
        for a in attempts]
    assert q.result is not None
    assert_read_back(body, q.result)


def test_an_expired_result_is_said_and_parses_to_none() -> None:
    expired_at = datetime(2024, 12, 19, tzinfo=UTC)
    answer = query_answer(accept_seqno="PL1", req_seqno="REQ-1", state="DELIVERED", attempts=[],
                          result_expired_at=expired_at)
    validator("query-response").validate(answer)
    assert (answer["result_msg"], answer["result_expired_at"]) == (RESULT_EXPIRED, expired_at.isoformat())
    assert parse_query(pjson.dumps(answer)).result is None


@pytest.mark.parametrize("code", list(ResultCode))
def test_every_synchronous_answer_fits_the_response_schema(code: ResultCode) -> None:
    answer = response_body(code, "", accept_seqno="PL1" if code is ResultCode.SUCCESS else None)
    validator("response").validate(answer)
    assert callback_accepted(200, pjson.dumps(answer)) is (code is ResultCode.SUCCESS)
