"""Field extraction from OCR lines (no OCR engine): rows, labels, multi-line addresses, seals, VINs."""

from __future__ import annotations

import numpy as np

from picloss.engines.ocr.engine import OcrLine
from picloss.engines.ocr.extract import detect_class, extract_fields
from picloss.engines.ocr.layout import group_rows


def _line(text: str, x: float, y: float, w: float = 200, h: float = 30, angle_deg: float = 0.0,
          score: float = 0.99) -> OcrLine:
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32) @ rot.T + [x, y]
    return OcrLine(text, score, corners.astype(np.float32))


def _fields(image_class: str, lines: list[OcrLine]) -> dict[str, str]:
    return {f.name: f.value for f in extract_fields(image_class, group_rows(lines))}


def test_id_front_with_rotation_and_multiline_address() -> None:
    angle = 8.0
    t = np.tan(np.deg2rad(angle))
    lines = [  # a rotated card: the y of each piece grows with x
        _line("姓名", 60, 50 + 60 * t, 60, angle_deg=angle), _line("李四", 150, 50 + 150 * t, 80, angle_deg=angle),
        _line("性别男", 60, 110 + 60 * t, 100, angle_deg=angle),
        _line("民族汉", 250, 110 + 250 * t, 100, angle_deg=angle),
        _line("出生 1990 年 1 月 2 日", 60, 170 + 60 * t, 400, angle_deg=angle),
        _line("住址 北京市朝阳区人民路", 60, 230 + 60 * t, 380, angle_deg=angle),
        _line("12号3栋101室", 150, 272 + 150 * t, 200, angle_deg=angle),
        _line("公民身份号码", 60, 440 + 60 * t, 180, angle_deg=angle),
        _line("11010519491231002X", 260, 436 + 260 * t, 360, angle_deg=angle),
    ]
    assert _fields("IDCARD_FRONT", lines) == {
        "name": "李四", "sex": "男", "nation": "汉", "birth": "1990-01-02",
        "address": "北京市朝阳区人民路12号3栋101室", "id": "11010519491231002X"}


def test_driving_licence_splits_two_labels_on_a_row_and_ignores_the_seal() -> None:
    lines = [
        _line("中华人民共和国机动车行驶证", 170, 24, 500),
        _line("号牌号码京A12345", 40, 100, 260), _line("车辆类型 小型轿车", 440, 100, 260),
        _line("发动机号码 AB12345", 40, 400, 260), _line("车辆管理所", 300, 405, 150),
    ]
    fields = _fields("DRIVING_LICENSE", lines)
    assert fields == {"号牌号码": "京A12345", "车辆类型": "小型轿车", "发动机号码": "AB12345"}


def test_vin_prefers_the_checksum_valid_candidate() -> None:
    lines = [_line("整车型号 A2283", 40, 90), _line("车辆识别代号", 40, 200),
             _line("LSVAB1234CD567890", 40, 250, 400), _line("1M8GDM9AXKP042788", 40, 300, 400)]
    assert _fields("VIN", lines) == {"vin": "1M8GDM9AXKP042788"}


def test_detect_class_from_keywords() -> None:
    assert detect_class(group_rows([_line("中华人民共和国", 10, 10), _line("居民身份证", 10, 60)])) == "IDCARD_BACK"
    assert detect_class(group_rows([_line("中华人民共和国机动车驾驶证", 10, 10)])) == "DRIVER_LICENSE"
    assert detect_class(group_rows([_line("hello", 10, 10)])) is None
    assert extract_fields("IDCARD_FRONT", []) == []
