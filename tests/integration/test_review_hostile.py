"""`picloss review` under hostile input: photo paths out of the folder, a malformed callback, huge photos, a save
cut by SIGKILL, requests without the token or from another site. Each gets a clear error and loses nothing."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from test_review_api import CLAIM, POST, build_folder, by_name, get_json, review_body, serve

from picloss.client.review.app import ReviewConfig, create_app
from picloss.client.review.folder import Limits

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = build_folder(tmp_path / "callbacks")
    (tmp_path / "secret.png").write_bytes((root / "damage-1.jpg").read_bytes())  # a photo outside the folder
    return root


@pytest.fixture
async def client(folder: Path) -> AsyncIterator[TestClient]:
    client = await serve(ReviewConfig(folder))
    yield client
    await client.close()


def png_header(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR declaring width×height, with one tiny IDAT: what a decompression bomb or a
    huge scan looks like to a reader of headers."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("path, status, words", [
    ("../secret.png", 400, "'..' is refused"),
    ("damage-1.jpg/../../secret.png", 400, "'..' is refused"),
    ("/etc/passwd", 400, "absolute"),
    ("C:/Windows/win.ini", 400, "absolute"),
    ("..\\secret.png", 400, "backslash"),
    ("", 400, "empty"),
    ("link-out.png", 403, "outside the photos folder"),
    ("nothing-here.jpg", 404, "no such photo"),
    (f"{CLAIM}.json", 415, "not a JPEG"),
])
async def test_photo_paths_outside_the_folder_are_refused_with_the_reason(
        client: TestClient, folder: Path, path: str, status: int, words: str) -> None:
    (folder / "link-out.png").symlink_to(folder.parent / "secret.png")
    body = await get_json(client, "/photo", status, params={"path": path})
    assert words in body["error"], body
    ok = await client.get("/photo", params={"path": "damage-1.jpg"})
    assert ok.status == 200 and (await ok.read()) == (folder / "damage-1.jpg").read_bytes()


async def test_a_callback_naming_a_path_or_a_symlink_out_gets_no_photo(folder: Path, tmp_path: Path) -> None:
    body = json.loads((folder / f"{CLAIM}.json").read_text())
    for f in body["files"]:
        if f["fileurl"].endswith("/missing.jpg"):
            f["fileurl"] = "https://cos.example.com/claims/..%2F..%2Fsecret.png"
        if f["fileurl"].endswith("/broken.jpg"):
            f["fileurl"] = "https://cos.example.com/claims/c1/outside.png"
    (folder / f"{CLAIM}.json").write_text(json.dumps(body))
    (folder / "outside.png").symlink_to(tmp_path / "secret.png")
    client = await serve(ReviewConfig(folder))
    try:
        photos = by_name(await get_json(client, f"/api/claims/{CLAIM}"))
    finally:
        await client.close()
    assert photos["..%2F..%2Fsecret.png"]["src"] is None
    assert "not a plain file name; refused" in photos["..%2F..%2Fsecret.png"]["error"]
    assert photos["outside.png"]["src"] is None and "outside the photos folder" in photos["outside.png"]["error"]


async def test_a_malformed_callback_is_listed_as_an_error_and_the_other_claims_still_work(
        client: TestClient, folder: Path) -> None:
    (folder / "AAA-broken.json").write_text('{"accept_seqno": "X", "req_seqno": ')
    (folder / "BBB-not-a-callback.json").write_text('{"hello": "world"}')
    (folder / "rejected").mkdir()
    (folder / "rejected" / "x.json").write_text("{}")  # unverified deliveries are not claims
    listed = (await get_json(client, "/api/claims"))["claims"]
    assert [c["id"] for c in listed] == ["AAA-broken", "BBB-not-a-callback", CLAIM]
    assert "AAA-broken.json: not a callback this page can read: not JSON" in listed[0]["error"]
    assert "accept_seqno: missing" in listed[1]["error"]
    assert listed[2]["error"] is None
    broken = await get_json(client, "/api/claims/AAA-broken", 422)
    assert "not JSON" in broken["error"]
    claim = await get_json(client, f"/api/claims/{CLAIM}")
    resp = await client.post(f"/api/claims/{CLAIM}/review", json=review_body(claim), headers=POST)
    assert resp.status == 200
    assert (await get_json(client, "/api/claims/..%2Fsecret", 404))["error"].startswith("claim")


async def test_a_huge_photo_is_refused_with_its_size_and_the_server_stays_up(folder: Path) -> None:
    (folder / "damage-2.jpg").write_bytes(png_header(20000, 20000))
    body = json.loads((folder / f"{CLAIM}.json").read_text())
    for ref in _refs(body):
        if ref["fileurl"].endswith("/damage-2.jpg"):
            ref.pop("filemd5", None)
    (folder / f"{CLAIM}.json").write_text(json.dumps(body))
    client = await serve(ReviewConfig(folder, limits=Limits(max_photo_bytes=2**20)))
    try:
        photos = by_name(await get_json(client, f"/api/claims/{CLAIM}"))
        huge = photos["damage-2.jpg"]
        assert huge["src"] is None and (huge["width"], huge["height"]) == (20000, 20000)  # boxes still drawable
        assert "20000×20000 px (400 Mpx), over the review page's limit of 60 Mpx" in huge["error"]
        refused = await get_json(client, "/photo", 413, params={"path": "damage-2.jpg"})
        assert "400 Mpx" in refused["error"]
        (folder / "big.jpg").write_bytes((folder / "damage-1.jpg").read_bytes() + b"\0" * (2**20 + 1))
        too_big = await get_json(client, "/photo", 413, params={"path": "big.jpg"})
        assert "over the review page's limit of 1.0 MiB (--max-photo-mb)" in too_big["error"]
        assert (await client.get("/photo", params={"path": "damage-1.jpg"})).status == 200  # still serving
    finally:
        await client.close()


def _refs(obj: Any) -> list[dict[str, Any]]:
    if isinstance(obj, dict):
        return ([obj] if "fileurl" in obj else []) + [r for v in obj.values() for r in _refs(v)]
    if isinstance(obj, list):
        return [r for v in obj for r in _refs(v)]
    return []


async def test_a_token_is_required_on_every_request_when_set(folder: Path) -> None:
    client = await serve(ReviewConfig(folder, token="s3cret-token"))
    try:
        for path in ("/", "/static/review.js", "/api/claims", f"/api/claims/{CLAIM}", "/photo?path=damage-1.jpg"):
            denied = await client.get(path)
            assert denied.status == 401 and "token is required" in (await denied.json())["error"], path
            assert (await client.get(path, headers={"X-Review-Token": "wrong"})).status == 401
        page = await client.get("/?token=s3cret-token")
        assert page.status == 200 and "picloss_review_token" in page.headers.get("Set-Cookie", "")
        assert (await client.get("/api/claims")).status == 200  # the cookie the page got carries it
        assert (await client.get("/photo?path=damage-1.jpg")).status == 200
    finally:
        await client.close()
    with pytest.raises(ValueError, match="needs a token"):
        create_app(ReviewConfig(folder, host="0.0.0.0"))


async def test_changes_only_from_the_page_and_only_to_a_loopback_name(client: TestClient, folder: Path) -> None:
    claim = await get_json(client, f"/api/claims/{CLAIM}")
    forged = await client.post(f"/api/claims/{CLAIM}/review", json=review_body(claim))  # a cross-site form
    assert forged.status == 403 and "from the review page itself" in (await forged.json())["error"]
    rebound = await client.get("/api/claims", headers={"Host": "evil.example:8790"})  # DNS rebinding
    assert rebound.status == 421
    assert not (folder / "review").exists()
    page = await client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp


def test_the_page_references_nothing_outside_the_package() -> None:
    import fnmatch
    import tomllib

    static = REPO / "picloss" / "client" / "review" / "static"
    shipped = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for path in static.iterdir():
        assert any(fnmatch.fnmatch(f"static/{path.name}", glob) for glob in shipped["picloss.client.review"]), path
        text = path.read_text()
        assert "http://" not in text.replace('"http://www.w3.org/2000/svg"', "") and "https://" not in text, path
        assert "//cdn" not in text and "@import" not in text, path


SAVE_LOOP = """
import json, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from picloss.client.review import state
from picloss.client.sdk import parse_callback
folder, callback = Path(sys.argv[1]), parse_callback(Path(sys.argv[2]).read_bytes())
n = 0
while True:  # the server's own save, again and again, each a different size (up to about 2 MB)
    n += 1
    fields = {{"号牌号码": str(n) + "x" * ((n % 7) * 60_000)}}
    state.save(folder, "claim", callback, {{"photos": {{}}, "documents": {{"F-2": fields}}}}, n)
    print(n, flush=True)
"""


def test_a_save_cut_by_sigkill_leaves_the_old_or_the_new_review_never_a_torn_one(folder: Path) -> None:
    from picloss.client.review import state as review_state

    target = review_state.state_path(folder, "claim")
    kills = 0
    for round_ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", SAVE_LOOP.format(repo=str(REPO)), str(folder),
                                 str(folder / f"{CLAIM}.json")], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for _ in range(3 + round_):  # let it save a few times, then kill it in the middle of the next ones
            assert proc.stdout.readline(), "the save loop died on its own"
        time.sleep(0.003 * round_)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        kills += proc.returncode == -signal.SIGKILL
        saved = review_state.load(folder, "claim")  # parses, and is one whole revision
        assert saved is not None and saved["revision"] >= 1
        n = saved["revision"]
        assert saved["documents"]["F-2"]["号牌号码"] == str(n) + "x" * ((n % 7) * 60_000)
    assert kills == 6
    leftovers = [p.name for p in target.parent.iterdir() if p.name != target.name]
    assert all(name.startswith(".tmp-claim.json.") for name in leftovers), leftovers  # never read as a review


async def test_a_photo_changed_since_the_service_saw_it_is_not_shown_under_its_boxes(folder: Path) -> None:
    (folder / "damage-1.jpg").write_bytes((folder / "damage-2.jpg").read_bytes())  # another photo, same name
    client = await serve(ReviewConfig(folder))
    try:
        d1 = by_name(await get_json(client, f"/api/claims/{CLAIM}"))["damage-1.jpg"]
    finally:
        await client.close()
    assert d1["src"] is None and "md5 differs from the one the service computed" in d1["error"]


async def test_an_oversized_save_is_refused_and_the_server_stays_up(client: TestClient, folder: Path) -> None:
    from picloss.client.review.app import MAX_SAVE_BYTES

    resp = await client.post(f"/api/claims/{CLAIM}/review", data=b"[" + b" " * MAX_SAVE_BYTES + b"]",
                             headers={**POST, "Content-Type": "application/json"})
    assert resp.status == 413 and "MiB" in (await resp.json())["error"]
    assert not (folder / "review").exists()
    assert (await client.get("/api/claims")).status == 200
