"""`picloss review` (issue 24): the review page's server over a folder of callbacks and photos, through aiohttp's
test client: what it lists and shows, saves (checked, atomic, revisioned), exports, and what it refuses."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "shared"))
from protocol_examples import batch_callback, single_callback

from picloss.client.review.app import PAGE_HEADER, ReviewConfig, create_app
from picloss.client.sdk.labels import from_coco

CLAIM = "PL20261202010203a1b2c3d4e5f60718"
SIZES = {"damage-1.jpg": (1000, 800), "damage-2.jpg": (640, 480), "idcard.jpg": (856, 540),
         "xingshizheng.jpg": (900, 600), "jiashizheng.jpg": (900, 600), "vin.jpg": (800, 200)}
COLOURS = {"damage-1.jpg": (40, 160, 60), "damage-2.jpg": (60, 90, 170)}


def jpeg(size: tuple[int, int], rgb: tuple[int, int, int], sideways: bool = False) -> bytes:
    """A JPEG whose upright size is `size`; `sideways`: stored turned a quarter with EXIF orientation 6, as a phone
    held upright writes it (the service's boxes are in the upright pixels)."""
    buf = io.BytesIO()
    image = Image.new("RGB", size, rgb)
    image.paste((250, 250, 250), (size[0] // 3, size[1] // 3, size[0] // 3 + 40, size[1] // 3 + 30))
    if sideways:
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90° clockwise to show
        image.transpose(Image.Transpose.ROTATE_90).save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    else:
        image.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _set_md5(obj: Any, md5s: dict[str, str]) -> None:
    """Every file reference of the callback gets the md5 of the photo written for it (as the service computes)."""
    if isinstance(obj, dict):
        url = obj.get("fileurl")
        if isinstance(url, str):
            name = url.rsplit("/", 1)[-1]
            if name in md5s:
                obj["filemd5"] = md5s[name]
        for value in obj.values():
            _set_md5(value, md5s)
    elif isinstance(obj, list):
        for value in obj:
            _set_md5(value, md5s)


def build_folder(root: Path, mode: str = "BATCH", claim: str = CLAIM) -> Path:
    """A folder as `picloss listen --save` leaves it plus the claim's photos: `<claim>.json` (+ `.sig`), the
    photos beside it; the callback is the protocol examples' (ID card, 行驶证, 驾驶证, VIN, two damage photos, a
    photo not downloaded, one not decodable)."""
    root.mkdir(parents=True, exist_ok=True)
    body = batch_callback() if mode == "BATCH" else single_callback()
    body["accept_seqno"] = claim
    md5s = {}
    for name, size in SIZES.items():
        data = jpeg(size, COLOURS.get(name, (200, 200, 180)), sideways=name == "damage-2.jpg")
        (root / name).write_bytes(data)
        md5s[name] = hashlib.md5(data).hexdigest()
    (root / "broken.jpg").write_bytes(b"not a photo at all")
    _set_md5(body, md5s)
    (root / f"{claim}.json").write_text(json.dumps(body, ensure_ascii=False))
    (root / f"{claim}.json.sig").write_text("0" * 64 + "\n")
    return root


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return build_folder(tmp_path / "callbacks")


async def serve(config: ReviewConfig) -> TestClient:
    client = TestClient(TestServer(create_app(config), host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def client(folder: Path) -> AsyncIterator[TestClient]:
    client = await serve(ReviewConfig(folder))
    yield client
    await client.close()


POST = {PAGE_HEADER: "1"}


async def get_json(client: Any, path: str, status: int = 200, **kw: Any) -> Any:
    resp = await client.get(path, **kw)
    body = await resp.json()
    assert resp.status == status, body
    return body


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def by_name(claim: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in claim["photos"]}


def review_body(claim: dict[str, Any]) -> dict[str, Any]:
    """damage-1 reviewed: the first service box rejected, the second accepted with its degree changed, one box
    drawn (component 12, replace); the 行驶证's plate corrected."""
    photos = by_name(claim)
    d1 = photos["damage-1.jpg"]
    boxes = [{**b, "status": "pending", "origin": i, "edited": False} for i, b in enumerate(d1["service_boxes"])]
    boxes[0]["status"] = "rejected"
    boxes[1].update(status="accepted", degree="repair", edited=True)
    boxes.append({"box": [50, 60, 250, 200], "component_id": 12, "degree": "replace", "damage_type": None,
                  "status": "accepted", "origin": None})
    return {"revision": claim["revision"], "photos": {d1["fileid"]: {"boxes": boxes}},
            "documents": {photos["xingshizheng.jpg"]["fileid"]: {"号牌号码": "京A12346"}}}


async def test_claims_list_and_a_claims_view(client: Any) -> None:
    listed = await get_json(client, "/api/claims")
    assert [c["id"] for c in listed["claims"]] == [CLAIM] and listed["claims"][0]["mode"] == "BATCH"
    claim = await get_json(client, f"/api/claims/{CLAIM}")
    photos = by_name(claim)
    d1 = photos["damage-1.jpg"]
    assert (d1["width"], d1["height"], d1["src"], d1["error"]) == (1000, 800, "damage-1.jpg", None)
    assert [(b["component_id"], b["degree"], b["box"]) for b in d1["service_boxes"]] == [
        (1, "repair", [120.0, 340.0, 610.0, 720.0]), (25, "replace", [700.0, 300.0, 900.0, 420.0])]
    assert (photos["damage-2.jpg"]["width"], photos["damage-2.jpg"]["height"]) == (640, 480)  # upright (EXIF)
    assert "not found" in photos["missing.jpg"]["error"] and "not a JPEG" in photos["broken.jpg"]["error"]
    plate = next(f for f in photos["xingshizheng.jpg"]["document"]["fields"] if f["name"] == "号牌号码")
    assert (plate["value"], plate["read"], plate["corrected"]) == ("京A12345", "京A12345", False)
    vin = photos["vin.jpg"]["document"]["fields"][0]
    assert vin["check"]["level"] == "bad" and "not a valid ISO 3779 VIN" in vin["check"]["text"]  # as the report
    assert [(r["component_id"], r["degree"], len(r["photos"])) for r in claim["batch"]["rows"]] == [
        (1, "repair", 2), (25, "replace", 1)]
    assert claim["review"] is None and claim["revision"] == 0
    meta = await get_json(client, "/api/meta")
    assert [c["id"] for c in meta["components"]] == list(range(1, 41))
    assert {"key": "r", "what": "reject the selected box"} in meta["keys"]


async def test_save_then_reopen_shows_the_review_and_export_holds_exactly_it(client: Any, folder: Path) -> None:
    claim = await get_json(client, f"/api/claims/{CLAIM}")
    resp = await client.post(f"/api/claims/{CLAIM}/review", json=review_body(claim), headers=POST)
    saved = await resp.json()
    assert resp.status == 200, saved
    assert saved["revision"] == 1 and saved["reviewed_photos"] == 1
    state = json.loads((folder / "review" / f"{CLAIM}.json").read_text())
    assert state["format"] == "picloss-review/1" and state["revision"] == 1
    again = await get_json(client, f"/api/claims/{CLAIM}")  # re-opening shows the saved state
    assert again["review"]["photos"] == state["photos"] and again["revision"] == 1
    photos = by_name(again)
    assert photos["damage-1.jpg"]["reviewed"] and not photos["damage-2.jpg"]["reviewed"]
    plate = next(f for f in photos["xingshizheng.jpg"]["document"]["fields"] if f["name"] == "号牌号码")
    assert (plate["value"], plate["read"], plate["corrected"]) == ("京A12346", "京A12345", True)

    resp = await client.post(f"/api/claims/{CLAIM}/export", headers=POST)
    done = await resp.json()
    assert resp.status == 200 and (done["photos"], done["boxes"], done["corrections"]) == (1, 2, 1), done
    coco = read_json(done["coco"])
    (photo,) = from_coco(coco)  # damage-2 is not reviewed: not exported
    assert (photo.file_name, photo.width, photo.height, photo.claim) == ("damage-1.jpg", 1000, 800, CLAIM)
    assert [(b.box, b.component_id, b.degree, b.source) for b in photo.boxes] == [
        ((700.0, 300.0, 900.0, 420.0), 25, "repair", "adjuster"), ((50.0, 60.0, 250.0, 200.0), 12, "replace",
                                                                     "adjuster")]
    docs = read_json(done["documents"])["corrections"]
    assert docs == [{"claim": CLAIM, "fileid": "F-2", "file_name": "xingshizheng.jpg", "kind": "driving_license",
                     "field": "号牌号码", "read": "京A12345", "corrected": "京A12346"}]
    download = await client.get(f"/api/claims/{CLAIM}/coco")
    assert download.status == 200 and json.loads(await download.read()) == coco
    unreviewed = await get_json(client, f"/api/claims/{CLAIM}/coco?include_unreviewed=1")
    sources = sorted(a["attributes"]["source"] for a in unreviewed["annotations"])
    assert sources == ["adjuster", "adjuster", "service", "service"]  # damage-2's two boxes, unreviewed


async def test_a_stale_revision_is_refused_and_nothing_is_lost(client: Any, folder: Path) -> None:
    claim = await get_json(client, f"/api/claims/{CLAIM}")
    body = review_body(claim)
    assert (await client.post(f"/api/claims/{CLAIM}/review", json=body, headers=POST)).status == 200
    before = (folder / "review" / f"{CLAIM}.json").read_bytes()
    resp = await client.post(f"/api/claims/{CLAIM}/review", json=body, headers=POST)  # revision 0 again
    assert resp.status == 409 and "reload the page" in (await resp.json())["error"]
    assert (folder / "review" / f"{CLAIM}.json").read_bytes() == before


def _mutations() -> list[tuple[str, Any, str]]:
    def boxes(claim: dict[str, Any], change: Any) -> dict[str, Any]:
        body = review_body(claim)
        (photo,) = body["photos"].values()
        change(photo["boxes"])
        return body

    return [
        ("not JSON", b"{not json", "not JSON"),
        ("a list", [], "not a JSON object"),
        ("unknown photo", lambda c: {**review_body(c), "photos": {"F-99": {"boxes": []}}}, "not a file of this claim"),
        ("component 41", lambda c: boxes(c, lambda b: b[2].update(component_id=41)), "not a protocol component"),
        ("component text", lambda c: boxes(c, lambda b: b[2].update(component_id="1")), "component_id"),
        ("degree paint", lambda c: boxes(c, lambda b: b[1].update(degree="paint")), "degree"),
        ("inverted box", lambda c: boxes(c, lambda b: b[2].update(box=[300, 60, 250, 200])), "x0 < x1"),
        ("outside the photo", lambda c: boxes(c, lambda b: b[2].update(box=[50, 60, 1250, 200])),
         "outside the 1000×800 photo"),
        ("NaN", lambda c: boxes(c, lambda b: b[2].update(box=[50, 60, "x", 200])), "not a number"),
        ("service box dropped", lambda c: boxes(c, lambda b: b.pop(0)), "missing"),
        ("service box twice", lambda c: boxes(c, lambda b: b[1].update(origin=0)), "twice"),
        ("drawn box rejected", lambda c: boxes(c, lambda b: b[2].update(status="rejected")), "drew"),
        ("status maybe", lambda c: boxes(c, lambda b: b[1].update(status="maybe")), "status"),
        ("field unknown", lambda c: {**review_body(c), "documents": {"F-2": {"colour": "red"}}}, "not a field"),
        ("not a document", lambda c: {**review_body(c), "documents": {"F-5": {"vin": "X"}}}, "not a document"),
    ]


@pytest.mark.parametrize("what, make, message", _mutations(), ids=[m[0] for m in _mutations()])
async def test_a_malformed_save_is_refused_and_the_saved_review_is_unchanged(
        client: Any, folder: Path, what: str, make: Any, message: str) -> None:
    claim = await get_json(client, f"/api/claims/{CLAIM}")
    assert (await client.post(f"/api/claims/{CLAIM}/review", json=review_body(claim), headers=POST)).status == 200
    state = folder / "review" / f"{CLAIM}.json"
    before = state.read_bytes()
    claim = await get_json(client, f"/api/claims/{CLAIM}")
    body = make(claim) if callable(make) else make
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = await client.post(f"/api/claims/{CLAIM}/review", data=data,
                             headers={**POST, "Content-Type": "application/json"})
    error = (await resp.json())["error"]
    assert resp.status == 400 and message in error and "nothing saved" in error, error
    assert state.read_bytes() == before
    assert [p.name for p in state.parent.iterdir()] == [state.name], "no temporary file left"


async def test_photos_in_a_folder_per_claim_and_a_saved_review_that_does_not_parse(tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "callbacks")
    photos = tmp_path / "photos"
    (photos / CLAIM).mkdir(parents=True)  # PHOTOS/<callback stem>/<name>: two claims may share photo names
    for photo in folder.glob("*.jpg"):
        photo.rename(photos / CLAIM / photo.name)
    (folder / "review").mkdir()
    torn = b'{"format": "picloss-review/1", "photos": {"F-5": {"bo'
    (folder / "review" / f"{CLAIM}.json").write_bytes(torn)
    client = await serve(ReviewConfig(folder, photos))
    try:
        claim = await get_json(client, f"/api/claims/{CLAIM}")
        d1 = by_name(claim)["damage-1.jpg"]
        assert (d1["src"], d1["width"]) == (f"{CLAIM}/damage-1.jpg", 1000)
        assert (await client.get("/photo", params={"path": d1["src"]})).status == 200
        assert claim["review"] is None and "the saved review is not JSON" in claim["review_error"]
        resp = await client.post(f"/api/claims/{CLAIM}/review", json=review_body(claim), headers=POST)
        assert resp.status == 409 and "move it away" in (await resp.json())["error"]
        assert (folder / "review" / f"{CLAIM}.json").read_bytes() == torn  # never silently replaced
    finally:
        await client.close()


async def test_a_single_claim_keeps_damage_type_and_existence_score_of_an_accepted_box(tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "callbacks", mode="SINGLE")
    client = await serve(ReviewConfig(folder))
    try:
        claim = await get_json(client, f"/api/claims/{CLAIM}")
        assert claim["mode"] == "SINGLE" and claim["batch"] is None
        d1 = by_name(claim)["damage-1.jpg"]
        first = d1["service_boxes"][0]
        assert (first["damage_type"], first["existence_score"], first["degree_score"]) == ("scratch", 64, 83)
        boxes = [{**b, "status": "accepted", "origin": i} for i, b in enumerate(d1["service_boxes"])]
        body = {"revision": 0, "photos": {d1["fileid"]: {"boxes": boxes}}, "documents": {}}
        assert (await client.post(f"/api/claims/{CLAIM}/review", json=body, headers=POST)).status == 200
        coco = await get_json(client, f"/api/claims/{CLAIM}/coco")
    finally:
        await client.close()
    assert [a["attributes"] for a in coco["annotations"]] == [
        {"source": "adjuster", "degree": "repair", "damage_type": "scratch", "existence_score": 64},
        {"source": "adjuster", "degree": "replace"}]
