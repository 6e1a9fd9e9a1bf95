"""The insurer's own-data loop end to end (issue 24): a claim's verdicts exported as labels, corrected, imported,
a few retraining steps from the model in service, the comparison, promotion to version 2 — the running stack then
names damage_detector/2 in its callbacks and /metrics — and the rollback to version 1.

Runs on a copy of the repository (the damage detector's folder copied, the other models linked) so the committed
models/ is never written; the damage service is restarted on that copy and, at the end, on the committed one.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from devkit.client import PiclossClient
from devkit.photos import PhotoServer, drawn_car_jpeg
from devkit.receiver import CallbackReceiver
from devkit.stack import REPO_ROOT, Stack
from picloss.client import cli
from picloss.client.sdk.labels import LabelBox, PhotoLabels, from_coco, to_coco
from picloss.platform.inference.versions import serving_version
from picloss.protocol.schemas import validator
from training.damage import compare, insurer, promote, retrain

pytest.importorskip("torch")
pytestmark = pytest.mark.e2e
CALLBACK = validator("callback")
NAME = "damage_detector"


def models_copy(target: Path) -> Path:
    """The repository's models with damage_detector's folder real (promote writes there), the others linked."""
    source = REPO_ROOT / "models"
    for model in source.iterdir():
        if model.name == NAME:
            (target / NAME).mkdir(parents=True)
            (target / NAME / "config.pbtxt").write_text((model / "config.pbtxt").read_text())
            for version in model.iterdir():
                if version.is_dir():
                    (target / NAME / version.name).mkdir()
                    (target / NAME / version.name / "model.onnx").symlink_to(version / "model.onnx")
        else:
            (target / model.name).symlink_to(model)
    return target


def adjuster_photo(folder: Path, name: str, claim: str, seed: int, damaged: bool) -> PhotoLabels:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(80, 150, (480, 640, 3), dtype=np.uint8))
    boxes: tuple[LabelBox, ...] = ()
    if damaged:
        x, y = int(rng.integers(40, 420)), int(rng.integers(40, 320))
        ImageDraw.Draw(img).rectangle([x, y, x + 150, y + 80], fill=(235, 235, 235))
        boxes = (LabelBox((x, y, x + 150, y + 80), 22, "repair", "scratch"),)
    img.save(folder / name, quality=90)
    return PhotoLabels(name, 640, 480, boxes, claim)


async def submitted(client: PiclossClient, photos: PhotoServer, receiver: CallbackReceiver,
                    tag: str) -> dict:  # type: ignore[type-arg]
    name = photos.add(f"loop-{tag}.jpg", drawn_car_jpeg(5, (40, 40, 140))).rsplit("/", 1)[-1]
    reply = await client.submit([photos.file_desc(name)], "SINGLE", receiver.url(f"/cb/loop/{tag}"))
    body = (await receiver.wait_for(reply.body["accept_seqno"], timeout_s=180))[-1].body
    CALLBACK.validate(body)
    return body


def damage_model_version(stack: Stack) -> float:
    port = stack.s.metrics_ports["damage"]
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    m = re.search(r'picloss_model_version\{backend="onnxruntime",model="damage_detector"\} (\S+)', text)
    assert m, "picloss_model_version{model=damage_detector} not in the damage service's /metrics"
    return float(m.group(1))


async def test_export_import_retrain_compare_promote_serve_rollback(
        stack: Stack, client: PiclossClient, photos: PhotoServer, receiver: CallbackReceiver,
        tmp_path: Path) -> None:
    # 1. a claim through the stack (the model in service), its verdicts exported as COCO by the CLI
    body = await submitted(client, photos, receiver, "before")
    [entry] = body["files"]
    assert entry["model_version"].startswith(f"{NAME}/1+"), entry
    shot = tmp_path / "shots"
    shot.mkdir()
    (shot / "loop-before.jpg").write_bytes(drawn_car_jpeg(5, (40, 40, 140)))
    (tmp_path / "callback.json").write_text(json.dumps(body))
    exported = tmp_path / "export.json"
    assert cli.main(["labels", "export", str(tmp_path / "callback.json"), "--photos", str(shot),
                     "--format", "coco", "-o", str(exported)]) == 0
    [verdicts] = from_coco(json.loads(exported.read_text()))
    assert verdicts.claim == body["accept_seqno"]

    # 2. the adjuster's corrections: the claim's photo gets a box the service missed; more claims labelled
    data = tmp_path / "labels"
    data.mkdir()
    (data / "loop-before.jpg").write_bytes((shot / "loop-before.jpg").read_bytes())
    corrected = [PhotoLabels(verdicts.file_name, verdicts.width, verdicts.height,
                             (LabelBox((200, 150, 420, 300), 22, "repair", "dent"),), verdicts.claim)]
    claims = [f"PL20261207120000{i:04x}" for i in range(64)]
    held = [c for c in claims if insurer.held_out(c)][:2]
    trained = [c for c in claims if not insurer.held_out(c)][:3]
    for i, claim in enumerate(held + trained):
        corrected.append(adjuster_photo(data, f"{claim}-a.jpg", claim, i, damaged=True))
        corrected.append(adjuster_photo(data, f"{claim}-b.jpg", claim, 100 + i, damaged=False))
    (tmp_path / "corrected.json").write_text(json.dumps(to_coco(corrected)))
    assert cli.main(["labels", "import", str(tmp_path / "corrected.json"), "-o", str(data / "labels.json")]) == 0
    assert from_coco(json.loads((data / "labels.json").read_text())) == corrected  # round trip

    # 3. a few steps from the model in service (its recovered weights), the insurer's photos only
    models = models_copy(tmp_path / "models")
    run = tmp_path / "run"
    candidate = await asyncio.to_thread(retrain.main, [
        "--data", str(data), "--out", str(run), "--models-dir", str(models), "--no-base", "--steps", "2",
        "--insurer-share", "2", "--negatives", "1", "--threads", "1"])
    # (blocking work runs in a thread: the test's event loop serves the callback receiver)
    (data / "labels.json").write_text((data / "labels.json").read_text().replace('"dent"', '"scratch"'))
    with pytest.raises(SystemExit, match="other labels"):  # a resumed run never switches to other labels
        await asyncio.to_thread(retrain.main, ["--data", str(data), "--out", str(run), "--models-dir", str(models),
                                               "--no-base", "--steps", "3", "--resume"])
    assert cli.main(["labels", "import", str(tmp_path / "corrected.json"), "-o", str(data / "labels.json")]) == 0
    meta = json.loads((candidate / "candidate.json").read_text())
    assert meta["parent"]["version"] == "1" and meta["training"]["steps"] == 2
    # the two held-out claims chosen above, plus the live claim of step 1 when its (random) accept_seqno hashes
    # into the held-out 20 % (the split is by claim: insurer.held_out)
    live = int(insurer.held_out(verdicts.claim))
    assert meta["data"]["held_out_claims"] == 2 + live and meta["data"]["held_out_photos"] == 4 + live
    assert "Parent" in (candidate / "MODEL_CARD.md").read_text()

    # 4. compared on the held-out claims, every figure with its interval and verdict
    result = await asyncio.to_thread(compare.main, [
        "--candidate", str(candidate), "--data", str(data), "--models-dir", str(models), "--bootstrap", "100",
        "--threads", "1"])
    assert set(result) == set(insurer.FIGURES)
    assert {r["verdict"] for r in result.values()} <= {"better", "worse", "within noise", "not measured"}
    assert (candidate / "compare.md").read_text().count("\n|") == len(insurer.FIGURES) + 2  # head, rule, rows
    assert (candidate / "compare.md").read_text() in (candidate / "MODEL_CARD.md").read_text()

    # 5. promoted: version 2, pinned; the stack's damage service restarted on it names it
    assert promote.promote(candidate, models, force=True) == 2
    assert serving_version(models, NAME) == "2"
    stack.env_overrides["damage"] = {"PICLOSS_MODELS_DIR": str(models)}
    try:
        await asyncio.to_thread(stack.restart, "damage")
        assert damage_model_version(stack) == 2
        after = await submitted(client, photos, receiver, "promoted")
        assert after["files"][0]["model_version"].startswith(f"{NAME}/2+"), after["files"]

        # 6. rolled back: version 1 again
        assert promote.rollback(models) == (2, 1)
        await asyncio.to_thread(stack.restart, "damage")
        assert damage_model_version(stack) == 1
        back = await submitted(client, photos, receiver, "rolled-back")
        assert back["files"][0]["model_version"].startswith(f"{NAME}/1+"), back["files"]
    finally:
        stack.env_overrides.pop("damage", None)
        await asyncio.to_thread(stack.restart, "damage")
