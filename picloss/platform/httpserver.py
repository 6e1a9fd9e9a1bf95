"""Start a small aiohttp app on a port (0 picks a free one): health/metrics endpoints and the local servers."""

from __future__ import annotations

import ssl

from aiohttp import web


async def serve_app(app: web.Application, host: str = "127.0.0.1", port: int = 0,
                    shutdown_timeout: float = 60.0) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1] if site._server else port  # type: ignore[attr-defined]
    return runner, int(bound)


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The server TLS context of the gateway (and of make bench's bare aiohttp baseline): TLS 1.2 or later."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx
