"""A car photo through the whole stack: well-formed single_loss (SINGLE) and batch_loss (BATCH)."""

from __future__ import annotations

import pytest

from devkit.client import PiclossClient
from devkit.photos import PhotoServer, drawn_car_jpeg
from devkit.receiver import CallbackReceiver
from picloss.protocol.components import COMPONENTS
from picloss.protocol.schemas import validator

pytestmark = pytest.mark.e2e
CALLBACK = validator("callback")


def check_box(box: dict[str, int], width: int = 640, height: int = 480) -> None:
    assert 0 <= box["xmin"] < box["xmax"] <= width and 0 <= box["ymin"] < box["ymax"] <= height


@pytest.mark.parametrize("model", ["SINGLE", "BATCH"])
async def test_car_photo_through_the_stack(client: PiclossClient, photos: PhotoServer,
                                           receiver: CallbackReceiver, model: str) -> None:
    names = [photos.add(f"car-{model}-{seed}.jpg", drawn_car_jpeg(seed, color)).rsplit("/", 1)[-1]
             for seed, color in ((1, (30, 60, 160)), (3, (20, 20, 20)))]
    reply = await client.submit([photos.file_desc(n) for n in names], model, receiver.url(f"/cb/car/{model}"))
    body = (await receiver.wait_for(reply.body["accept_seqno"], timeout_s=180))[-1].body
    CALLBACK.validate(body)
    files = {f["fileid"]: f for f in body["files"]}
    damage_ids = {fid for fid, f in files.items() if f.get("image_class") == "DAMAGE"}
    assert damage_ids, f"the drawn cars were not classified as damage photos: {body['files']}"
    if model == "SINGLE":
        assert "batch_loss" not in body
        assert {s["file"]["fileid"] for s in body["single_loss"]} == damage_ids
        for loss in body["single_loss"]:
            assert loss["result_code"] == (0 if loss["single_damage"] else 3001)
            assert files[loss["file"]["fileid"]]["result_code"] == loss["result_code"]
            for damage in loss["single_damage"]:
                check_box(damage["boxes"])
                assert damage["damage_degree_id"] in (0, 1) and 0 <= damage["damage_degree_score"] <= 100
                assert damage["component_parts"] and all(
                    c["component_part_id"] in COMPONENTS for c in damage["component_parts"])
    else:
        assert "single_loss" not in body
        batch = body["batch_loss"]
        assert batch["result_code"] == (0 if batch["batch_loss_results"] else 3001)
        seen = [entry["damage_component_id"] for entry in batch["batch_loss_results"]]
        assert len(seen) == len(set(seen)), "one entry per component"
        for entry in batch["batch_loss_results"]:
            assert entry["damage_component_id"] in COMPONENTS
            for image in entry["image_contain"]:
                assert image["file"]["fileid"] in damage_ids and image["component_damage_boxes"]
                for box in image["component_damage_boxes"]:
                    check_box(box)
