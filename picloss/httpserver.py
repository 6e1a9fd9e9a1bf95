"""Start a small aiohttp app on a port (0 picks a free one): health/metrics endpoints and the local servers."""

from __future__ import annotations

from aiohttp import web


async def serve_app(app: web.Application, host: str = "127.0.0.1", port: int = 0,
                    shutdown_timeout: float = 60.0) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1] if site._server else port  # type: ignore[attr-defined]
    return runner, int(bound)
