"""An HTTP server on 127.0.0.1 that misbehaves on purpose: fixed bodies with any content type,
redirects, slow-loris trickles and connections that never answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from picloss.platform.httpserver import serve_app


@dataclass
class HostileServer:
    bodies: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    port: int = 0
    _runner: web.AppRunner | None = None

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{path}"

    def serve(self, path: str, body: bytes, content_type: str = "image/jpeg") -> str:
        self.bodies[path] = (body, content_type)
        return self.url(path)

    def redirect(self, path: str, location: str) -> str:
        self.redirects[path] = location
        return self.url(path)

    async def start(self) -> HostileServer:
        app = web.Application()
        app.router.add_get("/slowloris", self._slowloris)
        app.router.add_get("/silent", self._silent)
        app.router.add_get("/{name}", self._get)
        self._runner, self.port = await serve_app(app, "127.0.0.1", 0, shutdown_timeout=0.1)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _get(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name in self.redirects:
            raise web.HTTPFound(self.redirects[name])
        if name not in self.bodies:
            raise web.HTTPNotFound()
        body, content_type = self.bodies[name]
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _slowloris(self, request: web.Request) -> web.StreamResponse:
        """Headers at once, then one byte a second, forever."""
        resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        resp.content_length = 1_000_000
        await resp.prepare(request)
        for _ in range(3600):
            await resp.write(b"\xff")
            await asyncio.sleep(1)
        return resp

    async def _silent(self, _request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(3600)  # accepts the connection, never answers
        raise web.HTTPServiceUnavailable()
