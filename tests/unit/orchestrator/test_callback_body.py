"""Callback bodies built from pipeline outcomes are valid against contracts/callback.schema.json."""

from __future__ import annotations

from typing import Any

import pytest

from picloss.engines.pipeline.pipeline import FileWork, Outcome
from picloss.protocol.callback import build_body
from picloss.protocol.codes import FileCode, ImageClass
from picloss.protocol.schemas import validator
from picloss.rpc.aggregator.v1 import aggregator_pb2
from picloss.rpc.common.v1 import common_pb2
from picloss.rpc.damage.v1 import damage_pb2
from picloss.rpc.ocr.v1 import ocr_pb2

SCHEMA = validator("callback")


def damage(component: int, degree: int) -> damage_pb2.Damage:
    return damage_pb2.Damage(box=common_pb2.Box(xmin=10, ymin=20, xmax=110, ymax=90),
                             components=[damage_pb2.ComponentScore(component_part_id=component, score=88)],
                             degree_id=degree, degree_score=77, damage_type="scratch", damage_type_score=66,
                             part_kind="door", score=0.9, existence=0.734)


def files() -> list[FileWork]:
    idcard = FileWork(0, "f0", "https://p.example/0.jpg", None, md5="0" * 32, image_class=ImageClass.IDCARD_FRONT)
    idcard.document = ocr_pb2.ReadDocumentResponse(fileid="0", result_code=0, fields=[
        ocr_pb2.Field(name="name", value="张三", confidence=0.99, validated=False),
        ocr_pb2.Field(name="id", value="11010519491231002X", confidence=0.98, validated=True)])
    vin = FileWork(1, "f1", "https://p.example/1.jpg", None, md5="1" * 32, image_class=ImageClass.VIN)
    vin.document = ocr_pb2.ReadDocumentResponse(fileid="1", result_code=0, fields=[
        ocr_pb2.Field(name="vin", value="LSVAU2180N2183294", confidence=0.97, validated=True)])
    lic = FileWork(2, "f2", "https://p.example/2.jpg", None, md5="2" * 32, image_class=ImageClass.DRIVING_LICENSE)
    lic.document = ocr_pb2.ReadDocumentResponse(fileid="2", result_code=0, fields=[
        ocr_pb2.Field(name="号牌号码", value="京A12345", confidence=0.95)])
    car = FileWork(3, "f3", "https://p.example/3.jpg", None, md5="3" * 32, image_class=ImageClass.DAMAGE)
    car.damages = damage_pb2.ImageDamages(fileid="3", damages=[damage(5, 0), damage(19, 1)])
    clean = FileWork(4, "f4", "https://p.example/4.jpg", None, md5="4" * 32, image_class=ImageClass.DAMAGE,
                     code=FileCode.NO_DAMAGE)
    clean.damages = damage_pb2.ImageDamages(fileid="4")
    lost = FileWork(5, "f5", "https://p.example/5.jpg", None, code=FileCode.DOWNLOAD_FAILED)
    return [idcard, vin, lic, car, clean, lost]


def body(model: str, outcome: Outcome) -> dict[str, Any]:
    return build_body(appid="app", mchid="mch", nonce="n", timestamp=1, accept_seqno="PL1", req_seqno="r1",
                      model=model, outcome=outcome)


def test_single_body_is_valid_and_complete() -> None:
    b = body("SINGLE", Outcome(files()))
    SCHEMA.validate(b)
    assert b["result_code"] == "SUCCESS"
    assert b["idcards"][0]["id"] == "11010519491231002X" and b["idcards"][0]["file"]["filemd5"] == "0" * 32
    assert b["vin_infos"][0]["vin"] == "LSVAU2180N2183294"
    assert b["driving_licenses"][0]["items"][0] == {"item": "号牌号码", "itemstring": "京A12345", "itemconf": 0.95}
    assert [s["result_code"] for s in b["single_loss"]] == [0, 3001]
    assert [d["damage_existence_score"] for d in b["single_loss"][0]["single_damage"]] == [73, 73]
    assert b["single_loss"][0]["single_damage"][1]["component_parts"][0]["component_part_id"] == 19
    assert "batch_loss" not in b
    by_id = {f["fileid"]: f for f in b["files"]}
    assert by_id["f5"] == {"fileid": "f5", "fileurl": "https://p.example/5.jpg", "result_code": 1001}
    assert by_id["f3"]["image_class"] == "DAMAGE"


def test_batch_body_groups_by_component() -> None:
    agg = aggregator_pb2.AggregateResponse(results=[aggregator_pb2.ComponentDamage(
        damage_component_id=19, damage_degree_id=1, damage_degree_score=80,
        image_contain=[aggregator_pb2.ImageBoxes(fileid="3", boxes=[common_pb2.Box(xmin=1, ymin=2, xmax=3, ymax=4)])])])
    b = body("BATCH", Outcome(files(), batch=agg))
    SCHEMA.validate(b)
    assert "single_loss" not in b
    entry = b["batch_loss"]["batch_loss_results"][0]
    assert entry["damage_component_id"] == 19
    assert entry["image_contain"][0]["file"]["fileid"] == "f3"


@pytest.mark.parametrize(("codes", "overall"), [
    ([FileCode.DOWNLOAD_FAILED, FileCode.TOO_LARGE], "ALL_FILES_FAILED"),
    ([FileCode.DOWNLOAD_FAILED, FileCode.PROCESSING_FAILED], "PROCESS_FAILED"),
    ([FileCode.DOWNLOAD_FAILED, FileCode.NO_DAMAGE], "SUCCESS"),
])
def test_overall_code(codes: list[FileCode], overall: str) -> None:
    fs = [FileWork(i, f"f{i}", f"https://p.example/{i}.jpg", None, code=c) for i, c in enumerate(codes)]
    b = body("SINGLE", Outcome(fs))
    SCHEMA.validate(b)
    assert b["result_code"] == overall


def test_a_vin_plate_that_disagrees_with_the_licence_keeps_its_read_and_the_body_flags_it() -> None:
    """Issue 22: a mismatch never changes either read value; the callback's vin_checks extension reports it."""
    from picloss.engines.pipeline.pipeline import cross_check_documents

    plate = FileWork(0, "p", "https://p.example/p.jpg", None, md5="0" * 32, image_class=ImageClass.VIN)
    plate.document = ocr_pb2.ReadDocumentResponse(fields=[
        ocr_pb2.Field(name="vin", value="LSVAU2180N2183295", confidence=0.95, validated=False)])  # one char off
    lic = FileWork(1, "l", "https://p.example/l.jpg", None, md5="1" * 32, image_class=ImageClass.DRIVING_LICENSE)
    lic.document = ocr_pb2.ReadDocumentResponse(fields=[
        ocr_pb2.Field(name="车辆识别代号", value="LSVAU2180N2183294", confidence=0.9, validated=True)])
    cross_check_documents([plate, lic])
    kept = plate.document.fields[0]
    assert kept.value == "LSVAU2180N2183295" and not kept.corrected
    b = body("SINGLE", Outcome([plate, lic]))
    SCHEMA.validate(b)
    assert b["vin_checks"] == [{"vin_fileid": "p", "driving_license_fileid": "l", "result": "MISMATCH",
                                "differing_characters": 1}]
    assert b["vin_infos"][0]["vin"] == "LSVAU2180N2183295"


def test_no_vin_check_without_a_licence_vin() -> None:
    b = body("SINGLE", Outcome(files()))  # the 行驶证 of files() has no 车辆识别代号 read
    assert "vin_checks" not in b


def test_each_file_names_the_models_behind_its_result() -> None:
    """Extension (issue 24): files[].model_version, the damage service's models for a damage photo, the OCR's for
    a document; none for a file without a typed result."""
    fs = files()
    fs[3].damage_model = "damage_detector/2+damage_gate/1"
    fs[4].damage_model = "damage_detector/2+damage_gate/1"
    fs[0].document.model_version = "rapidocr-3.10.0/PP-OCRv6-small"  # type: ignore[union-attr]
    b = body("SINGLE", Outcome(fs))
    SCHEMA.validate(b)
    by_id = {f["fileid"]: f for f in b["files"]}
    assert by_id["f3"]["model_version"] == by_id["f4"]["model_version"] == "damage_detector/2+damage_gate/1"
    assert by_id["f0"]["model_version"] == "rapidocr-3.10.0/PP-OCRv6-small"
    assert "model_version" not in by_id["f5"] and "model_version" not in by_id["f1"]  # lost; read without a version
