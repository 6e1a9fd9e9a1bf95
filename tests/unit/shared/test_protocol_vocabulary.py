"""The vocabulary written once (issue 14): document classes, degrees, the §6 table, the proto converters, and the
models' label orders that must agree with them."""

from __future__ import annotations

import pytest

from picloss.engines.damage.components import KIND_TO_ID, SIDED
from picloss.engines.models import damage_detector, photo_classifier
from picloss.protocol import components
from picloss.protocol.codes import DOCUMENT_CLASSES, DamageDegree, ImageClass
from picloss.protocol.proto import class_name, class_of, class_value
from picloss.rpc.common.v1 import common_pb2


def test_document_classes_and_degrees() -> None:
    assert [c.value for c in DOCUMENT_CLASSES] == [
        "IDCARD_FRONT", "IDCARD_BACK", "DRIVER_LICENSE", "DRIVING_LICENSE", "VIN"]
    assert {d.name: int(d) for d in DamageDegree} == {"REPAIR": 0, "REPLACE": 1}


def test_the_component_table() -> None:
    assert sorted(components.TABLE) == list(range(1, 41))
    assert components.UNKNOWN_SIDE_IDS == {5, 10, 15, 18, 21, 29, 32, 35, 38}
    assert components.UNKNOWN_IDS == components.UNKNOWN_SIDE_IDS | {40} and components.UNKNOWN_PART_ID == 40
    kind = components.ID_TO_KIND
    for cid in components.UNKNOWN_SIDE_IDS:  # one unknown-side id per part, named "unknown <part>"
        assert components.COMPONENTS[cid][1].startswith("unknown ")
        assert [c for c in components.UNKNOWN_SIDE_IDS if kind[c] == kind[cid]] == [cid]
    for c in components.TABLE.values():  # the side is what the Chinese name says
        words = [w for ch, w in (("左", "left"), ("右", "right"), ("前", "front"), ("后", "rear")) if ch in c.zh]
        assert c.side == (components.UNKNOWN if "未知" in c.zh else " ".join(words)), c


def test_the_detector_kinds_are_table_kinds() -> None:
    kinds = set(components.ID_TO_KIND.values())
    assert set(damage_detector.PART_KINDS) <= kinds
    for kind, cid in KIND_TO_ID.items():  # the id of a kind when its side is unknown or not needed
        assert components.ID_TO_KIND[cid] == kind
        assert "left" not in components.TABLE[cid].side and "right" not in components.TABLE[cid].side
    for kind, by_view in SIDED.items():
        for left, right in by_view.values():
            assert components.ID_TO_KIND[left] == components.ID_TO_KIND[right] == kind
            assert components.TABLE[left].side.startswith("left") and components.TABLE[right].side.startswith("right")


def test_the_classifier_outputs_the_protocol_classes() -> None:
    assert set(photo_classifier.CLASSES) == {c.value for c in ImageClass}


@pytest.mark.parametrize("image_class", list(ImageClass))
def test_image_classes_round_trip_through_the_proto_enum(image_class: ImageClass) -> None:
    value = class_value(image_class)
    assert common_pb2.ImageClass.Name(value) == f"IMAGE_CLASS_{image_class.value}"
    assert class_of(value) is image_class and class_name(value) is image_class
    assert class_value(image_class.value) == value


def test_unspecified_is_no_class() -> None:
    assert class_value(None) == common_pb2.IMAGE_CLASS_UNSPECIFIED
    assert class_of(common_pb2.IMAGE_CLASS_UNSPECIFIED) is None
    assert class_name(common_pb2.IMAGE_CLASS_UNSPECIFIED) is ImageClass.OTHER
    assert {class_of(v) for v in common_pb2.ImageClass.values()} == {None, *ImageClass}
