"""Example protocol bodies shared by the protocol unit tests (fresh dicts on every call)."""

from __future__ import annotations

from typing import Any

MD5_A = "0cc175b9c0f1b6a831c399e269772661"
MD5_B = "92eb5ffee6ae2fec3ad71c777531578f"
MD5_C = "4a8a08f09d37b73795649038408b5f33"
MD5_D = "8277e0910d750195b448797616e091ad"
MD5_E = "e1671797c52e15f763380b45e841ec32"
MD5_F = "8fa14cdd754f91cc6554c9e71929cce7"


def loss_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "appid": "wx-car-insur-01",
        "mchid": "1900000109",
        "nonce": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "timestamp": 1_732_000_000,
        "files": [
            {"fileurl": "https://cos.example.com/claims/c1/front.jpg", "filemd5": MD5_A.upper()},
            {"fileurl": "https://cos.example.com/claims/c1/damage-1.jpg", "fileid": "F-2"},
            {"fileurl": "http://10.0.0.5:9000/bucket/damage-2.jpg?sig=abc%20def", "filemd5": None,
             "fileid": ""},
        ],
        "model": "SINGLE",
        "req_seqno": "REQ-20241119-000001",
        "callback_url": "https://insurer.example.com/picloss/callback",
    }
    body.update(overrides)
    return body


def query_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "appid": "wx-car-insur-01",
        "mchid": "1900000109",
        "nonce": "q1",
        "timestamp": 1_732_000_100,
        "req_seqno": "REQ-20241119-000001",
    }
    body.update(overrides)
    return body


def _file(name: str, md5: str, fileid: str) -> dict[str, str]:
    return {"fileurl": f"https://cos.example.com/claims/c1/{name}.jpg", "fileid": fileid, "filemd5": md5}


def _box(xmin: int, ymin: int, xmax: int, ymax: int) -> dict[str, int]:
    return {"xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax}


def _callback_common(model_files: list[dict[str, Any]]) -> dict[str, Any]:
    idcard_file = _file("idcard", MD5_A, "F-1")
    driving_file = _file("xingshizheng", MD5_B, "F-2")
    driver_file = _file("jiashizheng", MD5_C, "F-3")
    vin_file = _file("vin", MD5_D, "F-4")
    return {
        "appid": "wx-car-insur-01",
        "mchid": "1900000109",
        "nonce": "9c1185a5c5e9fc54612808977ee8f548",
        "timestamp": 1_732_000_042,
        "accept_seqno": "A20241119000000000001",
        "req_seqno": "REQ-20241119-000001",
        "result_code": "SUCCESS",
        "result_msg": "",
        "idcards": [{"file": idcard_file, "result_code": 0, "id": "11010519491231002X", "name": "张三",
                     "address": "北京市朝阳区某某路1号", "birth": "1949-12-31", "sex": "女", "nation": "汉",
                     "confidences": {"id": 0.99, "name": 0.97, "address": 0.81}}],
        "driving_licenses": [{"file": driving_file, "result_code": 0, "items": [
            {"item": "号牌号码", "itemstring": "京A12345", "itemconf": 0.97},
            {"item": "车辆识别代号", "itemstring": "LSVAU2180N2183294", "itemconf": 0.91},
        ]}],
        "driver_licenses": [{"file": driver_file, "result_code": 2001, "items": []}],
        "vin_infos": [{"file": vin_file, "result_code": 0, "vin": "LSVAU2180N2183294", "vinconf": 0.88}],
        "files": [
            {"fileid": "F-1", "fileurl": idcard_file["fileurl"], "filemd5": MD5_A,
             "image_class": "IDCARD_FRONT", "result_code": 0},
            {"fileid": "F-2", "fileurl": driving_file["fileurl"], "filemd5": MD5_B,
             "image_class": "DRIVING_LICENSE", "result_code": 0},
            {"fileid": "F-3", "fileurl": driver_file["fileurl"], "filemd5": MD5_C,
             "image_class": "DRIVER_LICENSE", "result_code": 2001},
            {"fileid": "F-4", "fileurl": vin_file["fileurl"], "filemd5": MD5_D, "image_class": "VIN",
             "result_code": 0},
            *model_files,
            {"fileid": "F-7", "fileurl": "https://cos.example.com/claims/c1/missing.jpg", "image_class": None,
             "result_code": 1001},
            {"fileid": "F-8", "fileurl": "https://cos.example.com/claims/c1/broken.jpg", "result_code": 1003},
        ],
    }


DAMAGE_1 = _file("damage-1", MD5_E, "F-5")
DAMAGE_2 = _file("damage-2", MD5_F, "F-6")
_DAMAGE_FILES = [
    {"fileid": "F-5", "fileurl": DAMAGE_1["fileurl"], "filemd5": MD5_E, "image_class": "DAMAGE",
     "result_code": 0},
    {"fileid": "F-6", "fileurl": DAMAGE_2["fileurl"], "filemd5": MD5_F, "image_class": "DAMAGE",
     "result_code": 3001},
]


def single_callback() -> dict[str, Any]:
    body = _callback_common(_DAMAGE_FILES)
    body["single_loss"] = [
        {"file": DAMAGE_1, "result_code": 0, "single_damage": [
            {"damage_degree_id": 0, "damage_degree_score": 83,
             "component_parts": [{"component_part_id": 1, "component_part_score": 91},
                                 {"component_part_id": 11, "component_part_score": 40}],
             "boxes": _box(120, 340, 610, 720), "damage_type": "scratch", "damage_type_score": 77,
             "damage_existence_score": 64},
            {"damage_degree_id": 1, "damage_degree_score": 64,
             "component_parts": [{"component_part_id": 25, "component_part_score": 88}],
             "boxes": _box(700, 300, 900, 420)},
        ]},
        {"file": DAMAGE_2, "result_code": 3001, "single_damage": []},
    ]
    return body


def batch_callback() -> dict[str, Any]:
    body = _callback_common(_DAMAGE_FILES)
    body["batch_loss"] = {"result_code": 0, "batch_loss_results": [
        {"damage_component_id": 1, "damage_degree_id": 0, "damage_degree_score": 81, "image_contain": [
            {"file": DAMAGE_1, "component_damage_boxes": [_box(120, 340, 610, 720)]},
            {"file": DAMAGE_2, "component_damage_boxes": [_box(10, 20, 300, 400), _box(320, 50, 380, 90)]},
        ]},
        {"damage_component_id": 25, "damage_degree_id": 1, "image_contain": [
            {"file": DAMAGE_1, "component_damage_boxes": [_box(700, 300, 900, 420)]},
        ]},
    ]}
    return body


def failed_callback() -> dict[str, Any]:
    return {
        "appid": "wx-car-insur-01", "mchid": "1900000109", "nonce": "n", "timestamp": 1_732_000_042,
        "accept_seqno": "A20241119000000000002", "req_seqno": "REQ-2", "result_code": "ALL_FILES_FAILED",
        "result_msg": "no file could be downloaded",
        "files": [{"fileid": "F-1", "fileurl": "https://cos.example.com/x.jpg", "image_class": None,
                   "result_code": 1001}],
    }


def query_response(state: str = "DELIVERED") -> dict[str, Any]:
    body: dict[str, Any] = {
        "result_code": "SUCCESS", "result_msg": "", "accept_seqno": "A20241119000000000001",
        "req_seqno": "REQ-20241119-000001", "state": state,
        "attempts": [
            {"attempt": 1, "at": "2024-11-19T07:06:42.123Z", "outcome": "failure", "http_status": None,
             "error": "timeout after 5 s", "duration_ms": 5001},
            {"attempt": 2, "at": "2024-11-19T15:07:12+08:00", "outcome": "success", "http_status": 200,
             "error": None, "duration_ms": 87},
        ],
    }
    if state in ("DONE", "DELIVERED", "DELIVERY_FAILED"):
        body["result"] = single_callback()
    return body
