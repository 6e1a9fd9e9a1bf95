"""The `picloss` command line against the local stack: submit → listen → verify → query → report, and
submit --wait (each verb run as a process, the way an integrator runs it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from devkit.photos import drawn_car_jpeg
from devkit.stack import ENV_FILE_NAME, REPO_ROOT, Stack

pytestmark = pytest.mark.e2e


def cli_env(stack: Stack) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICLOSS_")}
    env["PICLOSS_ENV_FILE"] = str(stack.run_dir / ENV_FILE_NAME)  # what `make up` writes
    return env


def picloss(stack: Stack, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "picloss.client.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=cli_env(stack), cwd=REPO_ROOT)


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "car.jpg").write_bytes(drawn_car_jpeg())
    return folder


def test_submit_listen_verify_query_report(stack: Stack, photo_dir: Path, tmp_path: Path) -> None:
    saved_dir = tmp_path / "callbacks"
    listen = subprocess.Popen([sys.executable, "-m", "picloss.client.cli", "listen", "--port", "0", "--save",
                               str(saved_dir), "--count", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=cli_env(stack), cwd=REPO_ROOT)
    try:
        assert listen.stdout is not None
        banner = listen.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", banner)
        assert url, banner
        req_seqno = "CLI-" + uuid.uuid4().hex[:12]
        submit = picloss(stack, "submit", str(photo_dir / "car.jpg"), "--mode", "single", "--req-seqno", req_seqno,
                         "--callback-url", url.group(0) + "picloss/callback")
        assert submit.returncode == 0, submit.stderr
        accept = re.match(r"accept_seqno (\S+)", submit.stdout)
        assert accept, submit.stdout
        accept_seqno = accept.group(1)
        out, err = listen.communicate(timeout=180)
    finally:
        if listen.poll() is None:
            listen.kill()
    assert listen.returncode == 0, err
    lines = [line for line in out.splitlines() if accept_seqno in line]
    assert len(lines) == 1 and "verified" in lines[0] and "SUCCESS" in lines[0] and "answered 200" in lines[0]

    saved = saved_dir / f"{accept_seqno}.json"
    body = json.loads(saved.read_bytes())
    assert body["req_seqno"] == req_seqno and body["files"][0]["fileurl"].endswith("/car.jpg")
    ok = picloss(stack, "verify", str(saved))
    assert ok.returncode == 0 and ok.stdout.startswith("OK"), ok.stdout + ok.stderr
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(saved.read_bytes().replace(b'"result_code":0', b'"result_code":3001', 1))
    assert tampered.read_bytes() != saved.read_bytes()
    bad = picloss(stack, "verify", str(tampered), "--signature-file", str(saved) + ".sig")
    assert bad.returncode == 1 and bad.stdout.startswith("FAIL")

    query = picloss(stack, "query", accept_seqno, "--save", str(tmp_path / "q.json"))
    assert query.returncode == 0, query.stderr
    assert re.search(r"state (DELIVERED|DONE)", query.stdout) and "attempt 1" in query.stdout, query.stdout
    by_req = picloss(stack, "query", "--req-seqno", req_seqno, "--json")
    assert by_req.returncode == 0 and json.loads(by_req.stdout)["accept_seqno"] == accept_seqno

    out_html = tmp_path / "report.html"
    report = picloss(stack, "report", str(saved), "--photos", str(photo_dir), "--query", "-o", str(out_html))
    assert report.returncode == 0 and report.stdout.strip() == f"report: {out_html}", report.stderr
    html = out_html.read_text()
    assert "data:image/jpeg;base64," in html and "car.jpg" in html and accept_seqno in html
    assert "delivery attempt 1" in html and "photo not available" not in html


def test_submit_wait_prints_and_saves_the_callback(stack: Stack, photo_dir: Path, tmp_path: Path) -> None:
    proc = picloss(stack, "submit", str(photo_dir / "car.jpg"), "--mode", "BATCH", "--wait", "--save",
                   str(tmp_path / "cb"), "--timeout", "240")
    assert proc.returncode == 0, proc.stderr
    accept_seqno = re.match(r"accept_seqno (\S+)", proc.stdout).group(1)  # type: ignore[union-attr]
    assert f"verified  {accept_seqno}" in proc.stdout and "BATCH" in proc.stdout
    saved = tmp_path / "cb" / f"{accept_seqno}.json"
    assert json.loads(saved.read_bytes())["accept_seqno"] == accept_seqno
    assert picloss(stack, "verify", str(saved)).returncode == 0


def test_wrong_key_is_one_line_refusal(stack: Stack, photo_dir: Path) -> None:
    proc = picloss(stack, "query", "PL0", "--key", "not-the-key")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("picloss query: the gateway refused: SIGN_ERROR (HTTP 401)"), \
        proc.stderr
    unknown = picloss(stack, "query", "PL-does-not-exist")
    assert unknown.returncode == 1 and "PARAM_ERROR" in unknown.stderr and "Traceback" not in unknown.stderr
