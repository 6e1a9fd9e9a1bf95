"""`picloss review DIR`: served on a port (a token generated when bound beyond loopback), and `--export-coco`."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_review_api import CLAIM, build_folder, review_body

from devkit.procs import free_port
from picloss.client.cli import main
from picloss.client.review import state as review_state
from picloss.client.review import views
from picloss.client.review.folder import Limits, PhotoFinder, load_claim
from picloss.client.sdk.labels import from_coco

REPO = Path(__file__).resolve().parents[2]


def reviewed_folder(root: Path) -> Path:
    """A folder whose claim was reviewed as `test_review_api.review_body` says, saved as the server saves."""
    folder = build_folder(root)
    claim = load_claim(folder / f"{CLAIM}.json")
    assert claim.callback is not None
    finder = PhotoFinder(folder, Limits())
    view = views.claim_view(folder, claim, finder)
    checked = review_state.validate(review_body(view), claim.callback, views.sizes(views.photo_infos(claim, finder)))
    review_state.save(folder, claim.id, claim.callback, checked, 1)
    return folder


def test_export_coco_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = reviewed_folder(tmp_path / "callbacks")
    (folder / "junk.json").write_text("[1, 2")
    out = tmp_path / "labels.coco.json"
    assert main(["review", str(folder), "--export-coco", str(out)]) == 0
    printed = capsys.readouterr()
    assert "review: 1 photos, 2 boxes" in printed.out and "reviewed photos only" in printed.out
    assert "skipped junk.json: not a callback" in printed.err
    (photo,) = from_coco(json.loads(out.read_text()))
    assert photo.file_name == "damage-1.jpg" and {b.component_id for b in photo.boxes} == {25, 12}
    assert all(b.source == "adjuster" for b in photo.boxes)
    docs = json.loads((tmp_path / "labels.coco.documents.json").read_text())["corrections"]
    assert [(d["field"], d["corrected"]) for d in docs] == [("号牌号码", "京A12346")]

    assert main(["review", str(folder), "--export-coco", str(out), "--include-unreviewed"]) == 0
    every = from_coco(json.loads(out.read_text()))
    assert sorted((p.file_name, p.claim) for p in every) == [("damage-1.jpg", CLAIM), ("damage-2.jpg", CLAIM)]
    assert {b.source for p in every if p.file_name == "damage-2.jpg" for b in p.boxes} == {"service"}


def test_command_line_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = build_folder(tmp_path / "callbacks")
    assert main(["review", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["review", str(folder), "--export-coco", str(tmp_path / "x.json"), "--claim", "NOPE"]) == 2
    assert "--claim: no callback NOPE.json" in capsys.readouterr().err
    assert main(["review", str(folder), "--include-unreviewed"]) == 2
    assert "go with --export-coco" in capsys.readouterr().err
    (folder / "review").mkdir()
    (folder / "review" / f"{CLAIM}.json").write_text('{"format": "picloss-review/1", "photos": {')  # torn by hand
    assert main(["review", str(folder), "--export-coco", str(tmp_path / "x.json")]) == 1
    assert "the saved review is not JSON" in capsys.readouterr().err


def test_served_beyond_loopback_only_with_a_token(tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "callbacks")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "picloss.client.cli", "review", str(folder), "--host", "0.0.0.0",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=REPO)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(f"review page: http://0.0.0.0:{port}/?token="), line
        token = line.split("?token=", 1)[1].split()[0]
        assert len(token) >= 30
        base = f"http://127.0.0.1:{port}"
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{base}/api/claims", timeout=10)
        assert denied.value.code == 401
        with urllib.request.urlopen(f"{base}/api/claims?token={token}", timeout=10) as resp:
            assert [c["id"] for c in json.loads(resp.read())["claims"]] == [CLAIM]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_atomic_write_keeps_the_files_mode_and_leaves_nothing_behind(tmp_path: Path) -> None:
    from picloss.client.review.atomic import write_atomic

    target = tmp_path / "labels.json"
    write_atomic(target, "{}")
    assert target.stat().st_mode & 0o777 == 0o644 and target.read_text() == "{}"
    target.chmod(0o600)  # a file the user keeps private stays private
    write_atomic(target, b'{"a": 1}')
    assert target.stat().st_mode & 0o777 == 0o600 and json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["labels.json"]
