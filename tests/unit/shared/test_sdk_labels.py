"""Damage labels (issue 24, item 2): a callback's verdicts as COCO / YOLO / Label Studio, and back."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from protocol_examples import batch_callback, single_callback

from picloss.client.cli import main
from picloss.client.sdk import parse_callback
from picloss.client.sdk.labels import (
    LabelBox,
    LabelError,
    PhotoLabels,
    from_callback,
    from_coco,
    from_yolo,
    to_coco,
    to_label_studio,
    to_yolo,
)

SIZES = {"damage-1.jpg": (1000, 800), "damage-2.jpg": (640, 480)}


def labelled() -> list[PhotoLabels]:
    return [PhotoLabels("a.jpg", 1000, 800, (
                LabelBox((120.0, 340.0, 610.0, 720.0), 1, "repair", "scratch", "service", 64),
                LabelBox((700.5, 300.25, 900.0, 420.0), 25, "replace", None, "adjuster"))),
            PhotoLabels("b.jpg", 640, 480, ())]


def test_single_callback_verdicts_become_service_pre_annotations() -> None:
    photos = {p.file_name: p for p in from_callback(parse_callback(single_callback()), SIZES)}
    assert set(photos) == {"damage-1.jpg", "damage-2.jpg"}  # the 3001 photo is kept: a reviewed "no damage"
    a, b = photos["damage-1.jpg"].boxes
    assert (a.box, a.component_id, a.degree, a.damage_type, a.source, a.existence_score) == (
        (120.0, 340.0, 610.0, 720.0), 1, "repair", "scratch", "service", 64)
    assert (b.component_id, b.degree) == (25, "replace")
    assert photos["damage-2.jpg"].boxes == ()


def test_batch_callback_gives_each_components_boxes_on_each_photo() -> None:
    photos = {p.file_name: p for p in from_callback(parse_callback(batch_callback()), SIZES)}
    assert sorted((b.component_id, b.box) for b in photos["damage-2.jpg"].boxes) == [
        (1, (10.0, 20.0, 300.0, 400.0)), (1, (320.0, 50.0, 380.0, 90.0))]
    assert len(photos["damage-1.jpg"].boxes) == 2
    assert from_callback(parse_callback(batch_callback()), {}) == []  # no size, no label


def test_coco_round_trip_is_lossless_and_categories_are_the_protocol_ids() -> None:
    coco = to_coco(labelled())
    assert [c["id"] for c in coco["categories"]] == list(range(1, 41))
    assert coco["annotations"][1]["attributes"] == {"source": "adjuster", "degree": "replace"}
    assert from_coco(json.loads(json.dumps(coco))) == labelled()


def test_coco_from_a_tool_that_renumbers_categories_is_matched_by_name() -> None:
    coco = to_coco(labelled())
    for cat in coco["categories"]:
        cat["id"] += 100
    for ann in coco["annotations"]:
        ann["category_id"] += 100
        ann.pop("attributes")
    back = from_coco(coco)
    assert [b.component_id for b in back[0].boxes] == [1, 25] and back[0].boxes[0].degree is None


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["annotations"][0].update(category_id=999), "category_id 999"),
    (lambda c: c["annotations"][0].update(bbox=[1, 2, 3]), "bbox"),
    (lambda c: c["annotations"][0].update(image_id=77), "image_id 77"),
    (lambda c: c["categories"].append({"id": 500, "name": "wing mirror of a spaceship"}), "not a protocol"),
    (lambda c: c["annotations"][0].update(bbox=[10, 10, -5, 4]), "x0 < x1"),
    (lambda c: c["annotations"][0]["attributes"].update(degree="paint"), "degree"),
])
def test_bad_coco_gets_a_clear_error(mutate, message) -> None:  # type: ignore[no-untyped-def]
    coco = to_coco(labelled())
    mutate(coco)
    with pytest.raises(LabelError, match=message):
        from_coco(coco)


def test_yolo_round_trip_keeps_component_and_box() -> None:
    files = to_yolo(labelled())
    assert files["classes.txt"].splitlines()[0] == "left front door" and len(files["classes.txt"].splitlines()) == 40
    assert files["a.txt"].splitlines()[1].startswith("24 ") and files["b.txt"] == ""
    back = from_yolo(files, {"a.jpg": (1000, 800), "b.jpg": (640, 480)})
    assert [p.file_name for p in back] == ["a.jpg", "b.jpg"]
    for got, want in zip(back[0].boxes, labelled()[0].boxes, strict=True):
        assert got.component_id == want.component_id and got.degree is None
        assert got.box == pytest.approx(want.box, abs=1e-3)
    with pytest.raises(LabelError, match="no photo"):
        from_yolo({"c.txt": "0 0.5 0.5 0.1 0.1\n"}, {"a.jpg": (10, 10)})
    with pytest.raises(LabelError, match=r"a\.txt:1"):
        from_yolo({"a.txt": "0 0.5 nope 0.1 0.1\n"}, {"a.jpg": (10, 10)})


def test_label_studio_tasks_carry_the_verdicts_as_predictions_in_percent() -> None:
    [task, empty] = to_label_studio(labelled())
    assert task["data"]["image"].endswith("?d=a.jpg") and empty["predictions"][0]["result"] == []
    rect = task["predictions"][0]["result"][0]
    assert rect["type"] == "rectanglelabels" and rect["value"]["rectanglelabels"] == ["left front door"]
    assert rect["value"]["x"] == pytest.approx(12.0) and rect["value"]["height"] == pytest.approx(47.5)
    assert rect["score"] == pytest.approx(0.64)
    degree = task["predictions"][0]["result"][1]
    assert degree["type"] == "choices" and degree["value"]["choices"] == ["repair"] and degree["id"] == rect["id"]


def _jpeg(path: Path, size: tuple[int, int]) -> None:
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 90, 90)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())


def test_cli_export_then_import_gives_the_same_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, size in SIZES.items():
        _jpeg(photos / name, size)
    cb = tmp_path / "cb.json"
    cb.write_text(json.dumps(single_callback()))
    assert main(["labels", "export", str(cb), "--photos", str(photos), "-o", str(tmp_path / "coco.json")]) == 0
    assert main(["labels", "import", str(tmp_path / "coco.json"), "-o", str(tmp_path / "back.json")]) == 0
    exported = from_coco(json.loads((tmp_path / "coco.json").read_text()))
    assert from_coco(json.loads((tmp_path / "back.json").read_text())) == exported
    assert sum(len(p.boxes) for p in exported) == 2
    assert main(["labels", "export", str(cb), "--photos", str(photos), "--format", "yolo",
                 "-o", str(tmp_path / "yolo")]) == 0
    assert main(["labels", "import", str(tmp_path / "yolo"), "--format", "yolo", "--photos", str(photos),
                 "-o", str(tmp_path / "from_yolo.json")]) == 0
    from_yolo_labels = from_coco(json.loads((tmp_path / "from_yolo.json").read_text()))
    assert sorted(b.component_id for p in from_yolo_labels for b in p.boxes) == [1, 25]
    (tmp_path / "bad.json").write_text("{not json")
    capsys.readouterr()
    assert main(["labels", "import", str(tmp_path / "bad.json"), "-o", str(tmp_path / "x.json")]) == 1
    err = capsys.readouterr().err
    assert "picloss labels: error:" in err and "bad.json" in err and not (tmp_path / "x.json").exists()
