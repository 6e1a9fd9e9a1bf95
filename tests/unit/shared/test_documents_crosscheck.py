"""Cross-document checks: agreeing reads gain confidence, a validated read corrects a near misread."""

from __future__ import annotations

import pytest

from picloss.domain.documents.crosscheck import VinMatch, cross_check, edit_distance, vin_matches
from picloss.domain.documents.model import DocumentRead, FieldRead

ID = "11010519491231002X"
OTHER_ID = "440524188001010014"
VIN = "1M8GDM9AXKP042788"


def _doc(fileid: str, image_class: str, name: str, value: str, conf: float, validated: bool) -> DocumentRead:
    fields = [FieldRead("姓名", "张三", 0.9), FieldRead(name, value, conf, validated)]
    return DocumentRead(fileid, image_class, fields)


def test_edit_distance() -> None:
    assert edit_distance("abc", "abc") == 0
    assert edit_distance("abc", "abd") == 1
    assert edit_distance("abc", "ab") == 1


def test_agreeing_id_numbers_raise_confidence() -> None:
    out = cross_check([_doc("a", "IDCARD_FRONT", "id", ID, 0.8, True),
                       _doc("b", "DRIVER_LICENSE", "证号", ID, 0.7, True)])
    confs = [d.field("id" if d.image_class == "IDCARD_FRONT" else "证号").confidence for d in out]
    assert confs == [pytest.approx(0.94), pytest.approx(0.94)]
    assert out[0].field("姓名") == FieldRead("姓名", "张三", 0.9)


def test_a_vin_is_never_changed_by_the_other_document() -> None:
    """Issue 22: a VIN plate that disagrees with the 行驶证 is a fraud signal; both reads stay as read, both lose
    confidence, and the claim carries the comparison."""
    misread = VIN[:5] + "B" + VIN[6:]
    docs = [_doc("lic", "DRIVING_LICENSE", "车辆识别代号", misread, 0.95, False),
            _doc("plate", "VIN", "vin", VIN, 0.9, True)]
    out = cross_check(docs)
    kept = out[0].field("车辆识别代号")
    assert kept is not None and kept.value == misread and not kept.corrected
    assert kept.confidence == pytest.approx(0.475) and out[1].field("vin").value == VIN
    assert vin_matches(out) == [VinMatch("plate", "lic", False, 1)]
    assert vin_matches(out)[0].as_json() == {"vin_fileid": "plate", "driving_license_fileid": "lic",
                                             "result": "MISMATCH", "differing_characters": 1}
    same = cross_check([_doc("lic", "DRIVING_LICENSE", "车辆识别代号", VIN, 0.9, True),
                        _doc("plate", "VIN", "vin", VIN, 0.8, True)])
    assert vin_matches(same) == [VinMatch("plate", "lic", True, 0)]
    assert vin_matches([_doc("plate", "VIN", "vin", VIN, 0.8, True)]) == []  # no 行驶证: nothing compared


def test_a_validated_id_number_still_corrects_a_near_misread() -> None:
    misread = ID[:5] + "B" + ID[6:]
    out = cross_check([_doc("a", "IDCARD_FRONT", "id", ID, 0.9, True),
                       _doc("b", "DRIVER_LICENSE", "证号", misread, 0.95, False)])
    fixed = out[1].field("证号")
    assert fixed is not None and fixed.value == ID and fixed.corrected and fixed.confidence <= 0.8


def test_near_disagreement_without_a_single_validated_value_lowers_confidence() -> None:
    out = cross_check([_doc("lic", "DRIVING_LICENSE", "车辆识别代号", VIN[:-1] + "1", 0.9, False),
                       _doc("plate", "VIN", "vin", VIN[:-1] + "7", 0.8, False)])
    assert out[0].fields[1].confidence == pytest.approx(0.45)
    assert out[1].fields[1].confidence == pytest.approx(0.4)


def test_different_people_are_left_alone() -> None:
    docs = [_doc("a", "IDCARD_FRONT", "id", ID, 0.8, True),
            _doc("b", "DRIVER_LICENSE", "证号", OTHER_ID, 0.7, True)]
    assert cross_check(docs) == docs


def test_ocr_keywords_override_the_document_class_only() -> None:
    from picloss.engines.pipeline.classes import resolve_class

    assert resolve_class("IDCARD_FRONT", "IDCARD_BACK") == "IDCARD_BACK"
    assert resolve_class("VIN", None) == "VIN"
    assert resolve_class("DAMAGE", "VIN") == "DAMAGE"
