"""The SDK without a stack: the one signer, callback and query parsing, credentials, the callback listener,
and the CLI's verify and error handling (as a subprocess: what a person sees)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from protocol_examples import batch_callback, failed_callback, query_response, single_callback

from picloss.client.sdk import (
    COMPONENTS,
    CallbackListener,
    Client,
    Credentials,
    CredentialsError,
    PiclossError,
    ResultError,
    TransportError,
    _protocol,
    load_credentials,
    parse_callback,
    parse_query,
    save_delivery,
    sign,
    verify,
)
from picloss.client.sdk.credentials import read_dotenv
from picloss.protocol import dumps
from picloss.protocol import signing as gateway_signing
from picloss.protocol.components import COMPONENTS as PROTOCOL_COMPONENTS

KEY = "k" * 64
REPO = Path(__file__).resolve().parents[3]


def picloss(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PICLOSS_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "picloss.client.cli", *args], capture_output=True, text=True,
                          timeout=60, env=full_env, cwd=cwd or REPO)


# ------------------------------------------------------------------------------------- signing
def test_the_sdk_signs_with_the_gateways_signer() -> None:
    assert _protocol.signing is gateway_signing  # one module, not a copy
    body = dumps(single_callback())
    assert sign(body, KEY) == gateway_signing.sign(body, KEY)
    assert sign(body, KEY).isupper() and len(sign(body, KEY)) == 64
    assert verify(body, sign(body, KEY), KEY)
    assert verify(body, sign(body, "old"), [KEY, "old"])  # rotation
    assert not verify(body.replace(b'"result_code":0', b'"result_code":1', 1), sign(body, KEY), KEY)
    assert not verify(body, None, KEY)


# ------------------------------------------------------------------------------------- parsing
def test_parse_single_callback_into_typed_results() -> None:
    cb = parse_callback(dumps(single_callback()))
    assert (cb.mode, cb.ok, cb.accept_seqno) == ("SINGLE", True, "A20241119000000000001")
    assert [f.result_code for f in cb.files] == [0, 0, 2001, 0, 0, 3001, 1001, 1003]
    assert cb.files[6].result_text == "download failed"
    damage = cb.single_loss[0].damages[0]
    assert damage.degree == "repair" and damage.degree_score == 83
    assert damage.main_part is not None and (damage.main_part.component.zh, damage.main_part.component.en) == \
        ("左前车门", "left front door")
    assert (damage.box.xmin, damage.box.ymax) == (120, 720)
    assert cb.single_loss[0].damages[1].degree == "replace"
    assert damage.existence_score == 64 and cb.single_loss[0].damages[1].existence_score is None
    kinds = [d.kind for d in cb.documents]
    assert kinds == ["idcard", "driver_license", "driving_license", "vin"]
    idcard = cb.documents[0]
    assert idcard.get("id") is not None and idcard.get("id").confidence == 0.99  # type: ignore[union-attr]
    assert idcard.get("birth") is not None and idcard.get("birth").confidence is None  # type: ignore[union-attr]
    assert cb.raw["idcards"][0]["name"] == "张三"


def test_parse_batch_callback_and_boxes_to_draw() -> None:
    cb = parse_callback(batch_callback())
    assert cb.mode == "BATCH" and cb.batch_loss is not None
    entry = cb.batch_loss.entries[0]
    assert entry.component.zh == "左前车门" and len(entry.photos) == 2 and len(entry.photos[1].boxes) == 2
    boxes = cb.damage_boxes()
    assert {fid: len(v) for fid, v in boxes.items()} == {"F-5": 2, "F-6": 2}
    assert boxes["F-5"][1][1].id == 25 and boxes["F-5"][1][2] == "replace"


def test_component_names_are_the_protocols_table() -> None:
    assert COMPONENTS is PROTOCOL_COMPONENTS and len(COMPONENTS) == 40
    assert COMPONENTS[22] == ("前车盖", "hood")


def test_failed_callback_and_malformed_bodies() -> None:
    cb = parse_callback(failed_callback())
    assert not cb.ok and cb.documents == () and cb.files[0].result_text == "download failed"
    for bad in (b"not json", b"[]", json.dumps({"accept_seqno": "A"}).encode()):
        with pytest.raises(ResultError):
            parse_callback(bad)


def test_parse_query_with_attempts_and_result() -> None:
    q = parse_query(query_response("DELIVERED"))
    assert q.state == "DELIVERED" and [a.outcome for a in q.attempts] == ["failure", "success"]
    assert q.attempts[0].http_status is None and q.attempts[1].at is not None
    assert q.result is not None and q.result.req_seqno == "REQ-20241119-000001"
    assert parse_query(query_response("PROCESSING")).result is None


# --------------------------------------------------------------------------------- credentials
def test_credentials_flags_then_environment_then_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / "picloss.env"
    dotenv.write_text("# make up\nPICLOSS_GATEWAY_URL=https://127.0.0.1:8443\nPICLOSS_CA_CERT=\n"
                      "PICLOSS_APPID=app-file\nPICLOSS_MCHID=mch-file\nexport PICLOSS_KEY='key-file'\n")
    assert read_dotenv(dotenv)["PICLOSS_KEY"] == "key-file"
    env = {"PICLOSS_APPID": "app-env"}
    c = load_credentials({"mchid": "mch-flag"}, env_file=dotenv, env=env)
    assert (c.gateway_url, c.appid, c.mchid, c.key, c.ca_cert) == \
        ("https://127.0.0.1:8443", "app-env", "mch-flag", "key-file", None)
    assert "key-file" not in repr(c)
    c = load_credentials(env={"PICLOSS_ENV_FILE": str(dotenv)})
    assert c.appid == "app-file"
    with pytest.raises(CredentialsError, match="--key or PICLOSS_KEY"):
        load_credentials({"appid": "a", "mchid": "m"}, env={}, need_gateway=False)
    with pytest.raises(CredentialsError, match="not found"):
        load_credentials(env_file=tmp_path / "absent.env", env={})


def test_client_errors_are_one_line_sdk_errors() -> None:
    client = Client(Credentials("http://127.0.0.1:9", "a", "m", KEY), timeout_s=2)
    with pytest.raises(TransportError, match="cannot reach"):
        client.query(accept_seqno="X")
    with pytest.raises(PiclossError, match="exactly one"):
        client.query()
    with pytest.raises(PiclossError, match="SINGLE or BATCH"):
        client.submit(["http://x/1.jpg"], mode="DOUBLE", callback_url="http://x/cb")


# ------------------------------------------------------------------------------------ listener
def _post(url: str, raw: bytes, signature: str | None) -> tuple[int, dict[str, object], str | None]:
    headers = {"Content-Type": "text/json"}
    if signature:
        headers["Signature"] = signature
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=raw, headers=headers), timeout=10) as r:
            return r.status, json.loads(r.read()), r.headers.get("Signature")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers.get("Signature")


def test_listener_answers_per_protocol_and_saves_what_verify_checks(tmp_path: Path) -> None:
    raw = dumps(single_callback())
    with CallbackListener([KEY]) as listener:
        status, body, reply_sig = _post(listener.url(), raw, sign(raw, KEY))
        assert (status, body["result_code"]) == (200, "SUCCESS")
        assert reply_sig is not None and verify(dumps(body), reply_sig, KEY)
        status, body, _ = _post(listener.url(), raw.replace(b"scratch", b"scrapes"), sign(raw, KEY))
        assert (status, body["result_code"]) == (401, "SIGN_ERROR")
        good, bad = listener.deliveries.get(timeout=5), listener.deliveries.get(timeout=5)
    assert good.verified and good.accept_seqno == "A20241119000000000001" and not bad.verified
    saved = save_delivery(good, tmp_path)
    assert saved == tmp_path / "A20241119000000000001.json" and saved.read_bytes() == raw
    assert save_delivery(bad, tmp_path).parent.name == "rejected"

    ok = picloss("verify", str(saved), "--key", KEY)
    assert ok.returncode == 0 and ok.stdout.startswith("OK"), ok.stderr
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(raw.replace(b'"damage_degree_id":0', b'"damage_degree_id":1', 1))
    sig = (tmp_path / "A20241119000000000001.json.sig").read_text().strip()
    failed = picloss("verify", str(tampered), "--signature", sig, env={"PICLOSS_KEY": KEY})
    assert failed.returncode == 1 and failed.stdout.startswith("FAIL"), failed.stdout + failed.stderr


def test_listener_forwards_bytes_and_signature_and_relays_the_answer() -> None:
    raw = dumps(batch_callback())
    with CallbackListener([KEY]) as integrator, CallbackListener([KEY], forward_url=integrator.url("/hook")) as cli:
        status, body, _ = _post(cli.url(), raw, sign(raw, KEY))
        arrived = integrator.deliveries.get(timeout=5)
        relayed = cli.deliveries.get(timeout=5)
    assert (status, body["result_code"]) == (200, "SUCCESS")
    assert arrived.raw == raw and arrived.verified and arrived.path == "/hook"
    assert relayed.forward_status == 200
    with CallbackListener([KEY], forward_url="http://127.0.0.1:9/down") as cli:
        req = urllib.request.Request(cli.url(), data=raw, headers={"Signature": sign(raw, KEY)})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 502  # the integrator's endpoint is down: the service must retry


# ------------------------------------------------------------------------------- CLI: bad input
@pytest.mark.parametrize("args", [
    ["submit"], ["submit", "a.jpg", "--mode", "TRIPLE"], ["listen", "--port", "70000"], ["listen", "--port", "x"],
    ["query"], ["report", "cb.json"], ["verify"], ["nope"], [], ["submit", "a.jpg", "--timeout", "-1"],
])
def test_bad_flags_give_one_line_errors(args: list[str]) -> None:
    proc = picloss(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "--help" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, needle", [
    (["query", "PL1", "--env-file", "/nonexistent.env"], "not found"),
    (["query", "PL1", "--appid", "a", "--mchid", "m", "--key", "k"], "PICLOSS_GATEWAY_URL"),
    (["query", "PL1", "--gateway-url", "http://127.0.0.1:9", "--appid", "a", "--mchid", "m", "--key", "k"],
     "cannot reach"),
    (["verify", "/nonexistent.json", "--signature", "AB", "--key", "k"], "No such file"),
    (["report", "/nonexistent.json", "-o", "/tmp/x.html"], "No such file"),
    (["submit", "/nonexistent.jpg", "--wait", "--gateway-url", "http://127.0.0.1:9", "--appid", "a", "--mchid",
      "m", "--key", "k"], "no such file"),
    (["submit", "http://x/1.jpg", "--gateway-url", "http://127.0.0.1:9", "--appid", "a", "--mchid", "m",
      "--key", "k"], "--callback-url"),
])
def test_runtime_errors_are_one_line_without_traceback(args: list[str], needle: str, tmp_path: Path) -> None:
    proc = picloss(*args, cwd=tmp_path)
    assert proc.returncode in (1, 2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_report_verb_writes_a_report_from_a_saved_callback_or_query(tmp_path: Path) -> None:
    cb = tmp_path / "cb.json"
    cb.write_bytes(dumps(batch_callback()))
    proc = picloss("report", str(cb), "-o", str(tmp_path / "r.html"))
    assert proc.returncode == 0 and proc.stdout.strip() == f"report: {tmp_path / 'r.html'}", proc.stderr
    html = (tmp_path / "r.html").read_text()
    assert "左前车门 left front door" in html and "download failed" in html
    q = tmp_path / "q.json"
    q.write_text(json.dumps(query_response("DELIVERED")))
    proc = picloss("report", str(q), "-o", str(tmp_path / "q.html"))
    assert proc.returncode == 0, proc.stderr
    assert "delivery attempt 2" in (tmp_path / "q.html").read_text()
