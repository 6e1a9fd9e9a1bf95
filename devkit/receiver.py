"""A local callback receiver: verifies each callback's signature, records it, and can be told to fail
(the first N times, always, slowly, with a 500 or a non-SUCCESS result_code) per path."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from picloss.platform.httpserver import serve_app
from picloss.protocol.signing import verify


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    raw: bytes
    signature_ok: bool
    at: float
    answered: int


@dataclass
class Behaviour:
    fail_first: int = 0           # answer `fail_status` to the first N calls
    always_fail: bool = False
    fail_status: int = 500
    delay_s: float = 0.0          # answer after this long (a timeout drill)
    reply_code: str = "SUCCESS"   # result_code in the JSON reply


@dataclass
class CallbackReceiver:
    keys: list[str]
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    _calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Condition | None = None

    def url(self, path: str = "/callback") -> str:
        return f"http://{self.host}:{self.port}{path}"

    async def start(self) -> CallbackReceiver:
        self._arrived = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner, self.port = await serve_app(app, self.host, self.port)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        raw = await request.read()
        behaviour = self.behaviours.get(path, Behaviour())
        self._calls[path] += 1
        n = self._calls[path]
        if behaviour.delay_s:
            await asyncio.sleep(behaviour.delay_s)
        failing = behaviour.always_fail or n <= behaviour.fail_first
        status = behaviour.fail_status if failing else 200
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        self.received.append(Received(path, body, raw, verify(raw, request.headers.get("Signature"), self.keys),
                                      time.time(), status))
        assert self._arrived is not None
        async with self._arrived:
            self._arrived.notify_all()
        return web.json_response({"result_code": behaviour.reply_code if not failing else "SYSTEM_ERROR"},
                                 status=status)

    def calls(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def wait_for(self, accept_seqno: str, *, successes: int = 1, timeout_s: float = 120,
                       attempts: int | None = None) -> list[Received]:
        """Wait until `accept_seqno` got `successes` 2xx answers (or `attempts` calls in all)."""
        assert self._arrived is not None

        def done() -> bool:
            mine = [r for r in self.received if r.body.get("accept_seqno") == accept_seqno]
            if attempts is not None:
                return len(mine) >= attempts
            return sum(1 for r in mine if r.answered == 200) >= successes

        async with asyncio.timeout(timeout_s):
            async with self._arrived:
                await self._arrived.wait_for(done)
        return [r for r in self.received if r.body.get("accept_seqno") == accept_seqno]
