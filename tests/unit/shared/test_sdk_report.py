"""The report's HTML without a browser: validation marks, words for codes, escaping, placeholders; the example
integration's callback handler."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image
from protocol_examples import batch_callback, single_callback

from picloss.client.report import render, write_report
from picloss.client.report.html import label_text
from picloss.client.report.images import header_size
from picloss.client.sdk import Component, parse_callback, parse_query, sign
from picloss.client.sdk.example import handle_callback
from picloss.protocol import dumps

REPO = Path(__file__).resolve().parents[3]


def test_validation_marks_codes_in_words_and_timeline() -> None:
    html = render(parse_callback(single_callback()))
    assert "✓ GB 11643 check character" in html  # 11010519491231002X is a valid ID number
    assert "✗ not a valid ISO 3779 VIN" in html   # LSVAU2180N2183294 fails its check digit (an L market)
    for words in ("download failed", "not a decodable image", "no damage found", "no field recognised"):
        assert words in html
    assert "2024-11-19 07:07:22 UTC" in html and "processed" in html
    assert html.count('class="lb"') == 8 and "photo not available" in html
    assert "really there" in html and "<td>64</td>" in html  # the first damage's damage_existence_score


def test_untrusted_callback_text_is_escaped() -> None:
    body = single_callback()
    body["idcards"][0]["name"] = '<script>alert(1)</script>'
    body["files"][0]["fileurl"] = 'https://x/"><img src=x onerror=alert(1)>.jpg'
    html = render(parse_callback(body), reveal_personal=True)  # the name in full, escaped
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_label_and_query_timeline(tmp_path: Path) -> None:
    assert label_text(Component.of(1), "replace", 87) == "左前车门 left front door · replace · 87"
    from protocol_examples import query_response

    q = parse_query(query_response("DELIVERED"))
    out = write_report(q.result, tmp_path / "r.html", query=q)  # type: ignore[arg-type]
    html = out.read_text()
    assert "delivery attempt 1" in html and "timeout after 5 s" in html and "DELIVERED" in html


def test_photos_from_a_folder_must_match_the_services_md5(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(buf, format="PNG")
    (tmp_path / "damage-1.jpg").write_bytes(buf.getvalue())  # not the bytes the service saw (md5 differs)
    out = write_report(parse_callback(batch_callback()), tmp_path / "r.html", photos_dir=tmp_path)
    html = out.read_text()
    assert "md5 differs" in html and "data:image" not in html
    assert header_size(buf.getvalue()) == (64, 48)


def test_example_handler_verifies_then_parses() -> None:
    raw = dumps(batch_callback())
    status, answer, cb = handle_callback(raw, sign(raw, "key"), "key")
    assert status == 200 and b"SUCCESS" in answer and cb is not None and cb.mode == "BATCH"
    status, _, cb = handle_callback(raw + b" ", sign(raw, "key"), "key")
    assert status == 401 and cb is None


def test_listen_stops_on_ctrl_c_without_traceback() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "picloss.client.cli", "listen", "--port", "0", "--key", "k"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None and "listening on http://127.0.0.1:" in proc.stdout.readline()
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and err.strip() == "picloss listen: stopped", err


def test_exif_rotated_photo_is_shown_upright_in_the_services_pixels() -> None:
    from picloss.client.report.images import prepare

    image = Image.new("RGB", (200, 100), (200, 10, 10))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif)
    photo = prepare(buf.getvalue())
    assert photo is not None and photo.size == (100, 200)  # the upright size, as picloss.platform.imaging decodes
    assert photo.large != buf.getvalue() and Image.open(io.BytesIO(photo.large)).size == (100, 200)
    plain = io.BytesIO()
    image.save(plain, format="JPEG")
    kept = prepare(plain.getvalue())
    assert kept is not None and kept.large == plain.getvalue() and kept.size == (200, 100)


def test_the_vin_cross_check_is_shown() -> None:
    """Issue 22: the `vin_checks` extension (a VIN plate against a 行驶证) is valid and the report shows it."""
    from picloss.protocol.schemas import validator

    body = single_callback()
    body["vin_checks"] = [{"vin_fileid": "F-4", "driving_license_fileid": "F-2", "result": "MISMATCH",
                           "differing_characters": 2}]
    validator("callback").validate(body)
    html = render(parse_callback(body))
    assert "VIN plate against 行驶证" in html and "✗ MISMATCH (2 characters differ)" in html
    body["vin_checks"][0].update(result="MATCH", differing_characters=0)
    assert "✓ match" in render(parse_callback(body))
    assert "VIN plate against 行驶证" not in render(parse_callback(single_callback()))


def test_each_file_shows_the_models_behind_its_result() -> None:
    body = single_callback()
    body["files"][0]["model_version"] = "damage_detector/2+damage_gate/1"
    callback = parse_callback(body)
    assert callback.files[0].model_version == "damage_detector/2+damage_gate/1"
    assert callback.files[1].model_version is None
    html = render(callback)
    assert "<code>damage_detector/2+damage_gate/1</code>" in html and "<code>–</code>" in html
