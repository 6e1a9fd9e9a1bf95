"""A small signed client of the picloss protocol (the demo, tests and the load test use it)."""

from __future__ import annotations

import json
import ssl
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from picloss.protocol import json as pjson
from picloss.protocol.endpoints import QUERY_PATH, REQUEST_PATH
from picloss.protocol.signing import new_nonce, sign, verify


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    signature_ok: bool


def ssl_context(ca_cert: str | None) -> ssl.SSLContext | bool:
    if not ca_cert:
        return True
    return ssl.create_default_context(cafile=ca_cert)


class PiclossClient:
    def __init__(self, base_url: str, appid: str, mchid: str, key: str, ca_cert: str | None = None,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.appid, self.mchid, self.key = appid, mchid, key
        self._ssl = ssl_context(ca_cert) if base_url.startswith("https") else False
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> PiclossClient:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()

    def envelope(self, **fields: Any) -> dict[str, Any]:
        return {"appid": self.appid, "mchid": self.mchid, "nonce": new_nonce(), "timestamp": int(time.time()),
                **fields}

    async def post_raw(self, path: str, raw: bytes, signature: str | None = None,
                       content_type: str = "text/json") -> Reply:
        assert self._session is not None, "use `async with PiclossClient(...)`"
        headers = {"Content-Type": content_type}
        sig = sign(raw, self.key) if signature is None else signature
        if sig:
            headers["Signature"] = sig
        async with self._session.post(self.base_url + path, data=raw, headers=headers, ssl=self._ssl) as resp:
            reply_raw = await resp.read()
            body = json.loads(reply_raw) if reply_raw else {}
            return Reply(resp.status, body, verify(reply_raw, resp.headers.get("Signature"), [self.key]))

    async def submit(self, files: list[dict[str, Any]], model: str, callback_url: str,
                     req_seqno: str | None = None) -> Reply:
        body = self.envelope(files=files, model=model, req_seqno=req_seqno or uuid.uuid4().hex,
                             callback_url=callback_url)
        return await self.post_raw(REQUEST_PATH, pjson.dumps(body))

    async def query(self, *, req_seqno: str | None = None, accept_seqno: str | None = None) -> Reply:
        selector = {"req_seqno": req_seqno} if req_seqno else {"accept_seqno": accept_seqno}
        return await self.post_raw(QUERY_PATH, pjson.dumps(self.envelope(**selector)))
