"""Signed SINGLE and BATCH loss-assessment requests (weighted mix) against a picloss gateway.

Run by `make loadtest` (loadtest/run.py), which serves the photos, runs the callback sink and passes the
settings in LOADTEST_* environment variables. Each accepted request is appended to LOADTEST_ACCEPT_LOG
as `accept_seqno<TAB>unix time`, so the sink can measure accept→callback latency."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from locust import HttpUser, between, task

from devkit.client import REQUEST_PATH
from picloss.platform.config import env_int, env_str
from picloss.protocol import json as pjson
from picloss.protocol.signing import new_nonce, sign


@dataclass(frozen=True)
class LoadSettings:
    ca_cert: str
    appid: str
    mchid: str
    key: str
    files: tuple[dict[str, str], ...]
    callback_url: str
    accept_log: str
    batch_size: int

    @classmethod
    def from_env(cls) -> LoadSettings:
        return cls(
            ca_cert=env_str("LOADTEST_CA_CERT", ""),
            appid=env_str("LOADTEST_APPID"),
            mchid=env_str("LOADTEST_MCHID"),
            key=env_str("LOADTEST_KEY"),
            files=tuple(json.loads(env_str("LOADTEST_FILES"))),
            callback_url=env_str("LOADTEST_CALLBACK_URL"),
            accept_log=env_str("LOADTEST_ACCEPT_LOG"),
            batch_size=env_int("LOADTEST_BATCH_SIZE", 4, minimum=1),
        )


SETTINGS = LoadSettings.from_env()
_log_lock = threading.Lock()


def signed_request(
    settings: LoadSettings, model: str, files: list[dict[str, str]]
) -> tuple[bytes, dict[str, str]]:
    body: dict[str, Any] = {
        "appid": settings.appid,
        "mchid": settings.mchid,
        "nonce": new_nonce(),
        "timestamp": int(time.time()),
        "files": files,
        "model": model,
        "req_seqno": "lt-" + uuid.uuid4().hex,
        "callback_url": settings.callback_url,
    }
    raw = pjson.dumps(body)
    return raw, {"Content-Type": "text/json", "Signature": sign(raw, settings.key)}


def record_accept(accept_seqno: str, at: float) -> None:
    with _log_lock, open(SETTINGS.accept_log, "a", encoding="utf-8") as out:
        out.write(f"{accept_seqno}\t{at:.6f}\n")


class InsurerUser(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.client.verify = SETTINGS.ca_cert or True

    def _submit(self, model: str, count: int) -> None:
        files = random.sample(list(SETTINGS.files), k=min(count, len(SETTINGS.files)))
        raw, headers = signed_request(SETTINGS, model, files)
        with self.client.post(
            REQUEST_PATH, data=raw, headers=headers, name=f"accept {model}", catch_response=True
        ) as resp:
            try:
                reply = resp.json()
            except ValueError:
                resp.failure(f"HTTP {resp.status_code}: not JSON")
                return
            if resp.status_code == 200 and reply.get("result_code") == "SUCCESS":
                record_accept(reply["accept_seqno"], time.time())
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code} {reply.get('result_code')}")

    @task(3)
    def single(self) -> None:
        self._submit("SINGLE", 1)

    @task(1)
    def batch(self) -> None:
        self._submit("BATCH", SETTINGS.batch_size)
