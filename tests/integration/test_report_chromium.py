"""The reviewer's report rendered by a real headless Chromium (Debian `chromium`, `make chromium`),
screenshotted, and checked at the pixels where a damage box must be drawn."""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from picloss.client.report import write_report
from picloss.client.report.html import DEGREE_COLOURS
from picloss.client.sdk import parse_callback

PHOTO_RGB = (40, 160, 60)
W, H = 1000, 800
REPAIR_BOX = (100, 300, 450, 700)    # left front door, repair
REPLACE_BOX = (600, 60, 900, 240)    # left headlamp, replace


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed: `make chromium` (Debian package chromium) installs it"
    return found


def screenshot(html: Path, fragment: str = "", size: tuple[int, int] = (1200, 900)) -> Image.Image:
    out = html.with_suffix(f".{fragment or 'page'}.png")
    profile = html.parent / "chromium-profile"
    proc = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                           f"--screenshot={out}", html.resolve().as_uri() + (f"#{fragment}" if fragment else "")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and out.exists(), proc.stderr[-2000:]
    return Image.open(out).convert("RGB")


def png(size: tuple[int, int], rgb: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, rgb).save(buf, format="PNG")
    return buf.getvalue()


def box(b: tuple[int, int, int, int]) -> dict[str, int]:
    return dict(zip(("xmin", "ymin", "xmax", "ymax"), b, strict=True))


def callback(n_photos: int = 1) -> dict[str, Any]:
    files, losses = [], []
    for i in range(n_photos):
        ref = {"fileurl": f"http://photos.example/claim/{i}.png", "fileid": f"F{i}"}
        files.append({**ref, "image_class": "DAMAGE", "result_code": 0})
        losses.append({"file": ref, "result_code": 0, "single_damage": [
            {"damage_degree_id": 0, "damage_degree_score": 83, "boxes": box(REPAIR_BOX),
             "component_parts": [{"component_part_id": 1, "component_part_score": 91}]},
            {"damage_degree_id": 1, "damage_degree_score": 87, "boxes": box(REPLACE_BOX),
             "component_parts": [{"component_part_id": 25, "component_part_score": 70}]}]})
    return {"appid": "app", "mchid": "mch", "nonce": "n", "timestamp": 1_800_000_000,
            "accept_seqno": "PL20270115080000aabbccddeeff0011", "req_seqno": "CLAIM-1", "result_code": "SUCCESS",
            "result_msg": "", "files": files, "single_loss": losses}


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def near(a: tuple[int, int, int], b: tuple[int, int, int], tol: int = 40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def photo_area(shot: Image.Image) -> tuple[int, int, int, int]:
    """The bounding box of the photo's own colour in the screenshot."""
    mask = Image.eval(shot.convert("RGB"), lambda v: v)
    px = mask.load()
    xs, ys = [], []
    for y in range(0, shot.height, 2):
        for x in range(0, shot.width, 2):
            if near(px[x, y], PHOTO_RGB, 12):
                xs.append(x)
                ys.append(y)
    assert xs, "the photo is not on the screenshot"
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def edge_has(shot: Image.Image, x: float, y: float, colour: tuple[int, int, int], horizontal: bool) -> bool:
    """A pixel of `colour` within 4 px of (x, y), across the edge."""
    px = shot.load()
    for d in range(-4, 5):
        xx, yy = (round(x) + d, round(y)) if horizontal else (round(x), round(y) + d)
        if near(px[xx, yy], colour):
            return True
    return False


def check_box_drawn(shot: Image.Image, area: tuple[int, int, int, int], b: tuple[int, int, int, int],
                    colour: tuple[int, int, int]) -> None:
    left, top, right, bottom = area
    scale = (right - left) / W
    assert abs((bottom - top) / H - scale) < 0.01, "the photo keeps its aspect ratio"
    x0, y0, x1, y1 = (left + b[0] * scale, top + b[1] * scale, left + b[2] * scale, top + b[3] * scale)
    mid_x, mid_y = (x0 + x1) / 2, (y0 + y1) / 2
    assert edge_has(shot, x0, mid_y, colour, True), f"left edge of {b} at x={x0:.0f}"
    assert edge_has(shot, x1, mid_y, colour, True), f"right edge of {b} at x={x1:.0f}"
    assert edge_has(shot, mid_x, y1, colour, False), f"bottom edge of {b} at y={y1:.0f}"
    px = shot.load()
    assert near(px[int(mid_x), int(mid_y)], PHOTO_RGB, 12), "the box is an outline, the damage stays visible"
    assert near(px[int(x0 - 12), int(mid_y)], PHOTO_RGB, 12), "nothing drawn outside the box"


@pytest.fixture
def report(tmp_path: Path) -> Path:
    return write_report(parse_callback(callback()), tmp_path / "report.html", photos={"F0": png((W, H), PHOTO_RGB)})


def test_large_view_draws_each_box_where_the_service_put_it(report: Path) -> None:
    shot = screenshot(report, "p-F0")
    area = photo_area(shot)
    assert area[2] - area[0] > 600, "the large view shows the photo large"
    check_box_drawn(shot, area, REPAIR_BOX, rgb(DEGREE_COLOURS["repair"]))
    check_box_drawn(shot, area, REPLACE_BOX, rgb(DEGREE_COLOURS["replace"]))
    # the label sits on a bar of the box's colour just above it, with white text
    left, top, right, _ = area
    scale = (right - left) / W
    px = shot.load()
    label_y = int(top + REPAIR_BOX[1] * scale - 12)
    row = [px[x, label_y] for x in range(int(left + REPAIR_BOX[0] * scale), int(left + REPAIR_BOX[2] * scale))]
    assert sum(near(p, rgb(DEGREE_COLOURS["repair"])) for p in row) > 50
    assert sum(min(p) > 200 for p in row) > 3, "label text"


def test_thumbnail_grid_draws_boxes_and_the_large_view_stays_closed(report: Path) -> None:
    shot = screenshot(report)
    px = shot.load()
    assert not near(px[shot.width // 2, shot.height // 2], (17, 17, 17), 3), "no lightbox open"
    area = photo_area(shot)
    assert area[2] - area[0] < 400, "a thumbnail, not the large photo"
    check_box_drawn(shot, area, REPLACE_BOX, rgb(DEGREE_COLOURS["replace"]))
    html = report.read_text()
    assert "左前车门 left front door · repair · 83" in html and "左前车灯 left headlamp · replace · 87" in html


def test_report_is_self_contained(report: Path) -> None:
    html = report.read_text()
    external = re.findall(r'(?:src|href)="(?!#|data:)[^"]*"', html)
    assert external == [] and "<script" not in html and "<link" not in html and "@import" not in html


def test_hundred_photos_stay_readable(tmp_path: Path) -> None:
    rng = random.Random(3)
    photos = {}
    for i in range(100):
        image = Image.new("RGB", (W, H), PHOTO_RGB)
        image.paste(tuple(rng.randrange(256) for _ in range(3)), (0, 0, 40, 40))  # each photo differs
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=95)
        photos[f"F{i}"] = buf.getvalue()
    out = write_report(parse_callback(callback(100)), tmp_path / "many.html", photos=photos)
    html = out.read_text()
    assert html.count('class="card"') == 100 and html.count('class="lb"') == 100
    thumbs = re.findall(r'<div class="card"><a href="#p-F\d+"[^>]*><svg[^>]*><image href="data:image/jpeg;base64,'
                        r'([^"]+)"', html)
    assert len(thumbs) == 100
    import base64

    assert max(Image.open(io.BytesIO(base64.b64decode(thumbs[0]))).size) <= 360, "thumbnails are small"
    assert out.stat().st_size < 12 * 1024 * 1024
    shot = screenshot(out, "p-F99")  # the last photo opens large, with its boxes
    check_box_drawn(shot, photo_area(shot), REPAIR_BOX, rgb(DEGREE_COLOURS["repair"]))
    page = screenshot(out, "", (1200, 900))
    assert len({page.getpixel((x, 600)) for x in range(0, 1200, 7)}) > 3, "the grid renders"
