"""`picloss review` in a real headless Chromium (Debian's `chromium`, driven by Playwright; no browser download):
an adjuster's whole review with the keyboard and the mouse, on a 1366×768 screen. Reject a box (undo, reject
again), accept another, draw one, redraw its corner, give it a component (typed in Chinese) and a degree, correct
a 行驶证 field, save, reload (the saved review is shown), export; the COCO file holds exactly those labels."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "shared"))
from test_review_api import CLAIM, build_folder

from devkit.procs import free_port
from picloss.client.sdk.labels import from_coco

playwright = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parents[2]
SCREEN = {"width": 1366, "height": 768}
DRAWN = (50.0, 60.0, 250.0, 200.0)  # the box the adjuster draws on damage-1.jpg (1000×800), photo pixels


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed: `make chromium` (Debian package chromium) installs it"
    return found


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = build_folder(tmp_path / "callbacks")
    (folder / "ZZZ-malformed.json").write_text('{"accept_seqno": ')
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "picloss.client.cli", "review", str(folder), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        assert line.startswith(f"review page: http://127.0.0.1:{port}/"), line + proc.stdout.read(2000)
        yield f"http://127.0.0.1:{port}/", folder
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def press(page: object, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)  # type: ignore[attr-defined]


def photo_to_screen(page: object, x: float, y: float) -> tuple[float, float]:
    box = page.locator("#overlay").bounding_box()  # type: ignore[attr-defined]
    return box["x"] + x * box["width"] / 1000, box["y"] + y * box["height"] / 800


def drag(page: object, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A mouse drag between two points given in the photo's pixels."""
    (x0, y0), (x1, y1) = photo_to_screen(page, *start), photo_to_screen(page, *end)
    page.mouse.move(x0, y0)  # type: ignore[attr-defined]
    page.mouse.down()  # type: ignore[attr-defined]
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)  # type: ignore[attr-defined]
    page.mouse.move(x1, y1, steps=4)  # type: ignore[attr-defined]
    page.mouse.up()  # type: ignore[attr-defined]


def test_a_real_review_with_keyboard_and_mouse(served: tuple[str, Path], tmp_path: Path) -> None:
    url, folder = served
    errors: list[str] = []
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport=SCREEN)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(url)
            expect = playwright.expect
            expect(page.locator("#where")).to_contain_text("1 / 8 · idcard.jpg")
            expect(page.locator("#errors")).to_contain_text("ZZZ-malformed.json: not a callback this page can read")
            expect(page.locator("#batch")).to_contain_text("左前车灯 left headlamp #25")  # the BATCH table

            press(page, "?")
            expect(page.locator("#help")).to_be_visible()
            expect(page.locator("#keys")).to_contain_text("reject the selected box")
            press(page, "Escape")
            expect(page.locator("#help")).to_be_hidden()

            press(page, "n", "n", "n", "n")
            expect(page.locator("#where")).to_contain_text("5 / 8 · damage-1.jpg")
            expect(page.locator("#boxtitle")).to_contain_text("1 of 2 · pending")  # the first box is selected
            press(page, "r")  # reject 左前车门: the next undecided box is selected
            expect(page.locator("#boxtitle")).to_contain_text("2 of 2 · pending")
            press(page, "z")  # undo: 左前车门 is undecided and selected again
            expect(page.locator("#boxtitle")).to_contain_text("1 of 2 · pending")
            press(page, "r", "a")  # reject it again; accept 左前车灯 left headlamp, replace

            drag(page, (DRAWN[0], DRAWN[1]), (DRAWN[2] - 40, DRAWN[3] - 30))  # draw, a little too small
            expect(page.locator("#boxtitle")).to_contain_text("3 of 3 · accepted · drawn")
            expect(page.locator("#comp")).to_be_focused()  # the component picker waits for the name
            page.keyboard.type("bumper")
            expect(page.locator("#complist li")).to_have_count(3)  # front, rear, unknown bumper
            page.keyboard.press("Control+A")
            page.keyboard.type("前保险杠")
            expect(page.locator("#complist li")).to_have_text(["19 前保险杠 front bumper"])
            press(page, "Enter", "2")  # pick it; replace
            expect(page.locator("#boxes li").nth(2)).to_contain_text("前保险杠 front bumper · replace 换 · drawn")
            drag(page, (DRAWN[2] - 40, DRAWN[3] - 30), (DRAWN[2], DRAWN[3]))  # redraw: its lower right corner
            expect(page.locator("#msg")).to_contain_text("box redrawn")
            page.screenshot(path=str(tmp_path / "drawn.png"))

            press(page, "n")  # damage-2.jpg is stored sideways (EXIF orientation 6): shown upright, boxes on it
            expect(page.locator("#where")).to_contain_text("6 / 8 · damage-2.jpg")
            page.wait_for_function("document.getElementById('img').complete")
            assert page.eval_on_selector("#img", "i => [i.naturalWidth, i.naturalHeight]") == [640, 480]
            assert page.get_attribute("#overlay", "viewBox") == "0 0 640 480"

            press(page, "p", "p", "p", "p")
            expect(page.locator("#where")).to_contain_text("2 / 8 · xingshizheng.jpg")
            plate = page.get_by_label("号牌号码")
            plate.fill("京A12346")
            press(page, "Escape", "s")
            expect(page.locator("#msg")).to_contain_text("saved (revision 1, 1 photos reviewed)")

            page.reload()  # re-opening shows the saved review
            expect(page.locator("#msg")).to_contain_text("saved review loaded (revision 1)")
            press(page, "n")
            expect(page.get_by_label("号牌号码")).to_have_value("京A12346")
            press(page, "n", "n", "n")
            expect(page.locator("#where")).to_contain_text("5 / 8 · damage-1.jpg")
            expect(page.locator("#boxes li")).to_have_text([
                "rejected 左前车门 left front door · repair 修", "accepted 左前车灯 left headlamp · replace 换",
                "accepted 前保险杠 front bumper · replace 换 · drawn"])
            expect(page.locator("#progress")).to_contain_text("1/8 reviewed")
            page.screenshot(path=str(tmp_path / "reloaded.png"))

            press(page, "e")
            expect(page.locator("#msg")).to_contain_text("exported 1 photos, 2 boxes, 1 corrections")
        finally:
            browser.close()
    assert errors == []

    coco = json.loads((folder / "review" / f"{CLAIM}.coco.json").read_text())
    (photo,) = from_coco(coco)  # damage-2 was not reviewed: not exported
    assert (photo.file_name, photo.width, photo.height) == ("damage-1.jpg", 1000, 800)
    kept, drawn = photo.boxes
    assert (kept.box, kept.component_id, kept.degree, kept.source) == ((700.0, 300.0, 900.0, 420.0), 25, "replace",
                                                                       "adjuster")
    assert (drawn.component_id, drawn.degree, drawn.source) == (19, "replace", "adjuster")
    assert all(abs(a - b) <= 3 for a, b in zip(drawn.box, DRAWN, strict=True)), drawn.box
    corrections = json.loads((folder / "review" / f"{CLAIM}.coco.documents.json").read_text())["corrections"]
    assert [(c["file_name"], c["field"], c["read"], c["corrected"]) for c in corrections] == [
        ("xingshizheng.jpg", "号牌号码", "京A12345", "京A12346")]
    assert (tmp_path / "drawn.png").stat().st_size > 10_000 and (tmp_path / "reloaded.png").stat().st_size > 10_000
