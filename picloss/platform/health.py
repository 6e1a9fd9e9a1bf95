"""/metrics, /healthz and /readyz on one port for the processes that serve no HTTP of their own
(orchestrator, dispatcher): Kubernetes probes and Prometheus scrape the same port."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from picloss.platform.httpserver import serve_app
from picloss.platform.observability.metrics import REGISTRY


class HealthServer:
    def __init__(self, port: int, ready: Callable[[], Awaitable[bool]], host: str = "0.0.0.0") -> None:
        self._port, self._host, self._ready = port, host, ready
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if not self._port:
            return
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner, _ = await serve_app(app, self._host, self._port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, _request: web.Request) -> web.Response:
        ok = await self._ready()
        return web.json_response({"status": "ready" if ok else "not ready"}, status=200 if ok else 503)
