"""A steady, idempotent submitter for drills and benchmarks: each request is retried with the same
req_seqno and content until the gateway gives a definite answer, so a request accepted just before a
crash is still known (the repeat answers SUCCESS with the same accept_seqno). With several gateway replicas
the requests go round robin and each retry goes to the next gateway: idempotency must hold across them."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from devkit.client import PiclossClient

RETRYABLE = {"SYSTEM_BUSY", "SYSTEM_ERROR", "RATE_LIMITED"}


@dataclass
class Submitted:
    req_seqno: str
    model: str
    callback_path: str
    accept_seqno: str | None = None
    accepted_at: float = 0.0
    final_code: str | None = None
    tries: int = 0


@dataclass
class SteadyLoad:
    clients: list[PiclossClient]  # one per gateway replica
    files: list[dict[str, str]]
    callback_base: str
    rate_per_s: float
    batch_size: int = 4
    failing_path_every: int = 0  # every Nth request goes to an always-failing path (0: never)
    submitted: list[Submitted] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    cross_gateway_retries: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, stop: asyncio.Event) -> None:
        counter = itertools.count(1)
        while not stop.is_set():
            n = next(counter)
            model = "BATCH" if n % 4 == 0 else "SINGLE"
            path = "/always-500" if self.failing_path_every and n % self.failing_path_every == 0 else "/cb"
            item = Submitted("drill-" + uuid.uuid4().hex, model, path)
            self.submitted.append(item)
            task = asyncio.create_task(self._submit(item, n))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            try:
                await asyncio.wait_for(stop.wait(), 1 / self.rate_per_s)
            except TimeoutError:
                pass
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=120)

    async def _submit(self, item: Submitted, n: int) -> None:
        count = 1 if item.model == "SINGLE" else self.batch_size
        files = [self.files[(n + i) % len(self.files)] for i in range(count)]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            client = self.clients[(n + item.tries) % len(self.clients)]
            item.tries += 1
            if item.tries > 1 and len(self.clients) > 1:
                self.cross_gateway_retries += 1
            try:
                reply = await asyncio.wait_for(
                    client.submit(
                        files, item.model, self.callback_base + item.callback_path, item.req_seqno
                    ),
                    timeout=15,
                )
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                self._count(type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            code = str(reply.body.get("result_code"))
            if code == "SUCCESS":
                item.accept_seqno, item.accepted_at, item.final_code = (
                    reply.body["accept_seqno"],
                    time.time(),
                    code,
                )
                return
            self._count(code)
            if code not in RETRYABLE:
                item.final_code = code
                return
            await asyncio.sleep(0.5)

    def _count(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def accepted(self) -> list[Submitted]:
        return [s for s in self.submitted if s.accept_seqno]


def without_envelope(body: dict[str, Any]) -> dict[str, Any]:
    """A callback body minus the fields re-stamped on every attempt."""
    return {k: v for k, v in body.items() if k not in ("nonce", "timestamp")}
