"""aiohttp app factory: `init_app(config)` opens the ledger and the producer in cleanup_ctx;
`build_app(config, deps)` takes them ready-made (tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from gateway.config import GatewayConfig
from gateway.handlers import query_handler, request_handler
from gateway.ratelimit import RateLimiter
from gateway.state import CONFIG, DEPS, LIMITER, Deps
from picloss.platform.kafka import AsyncProducer
from picloss.platform.ledger import Ledger
from picloss.platform.ledger.sealing import DataKeys
from picloss.protocol.endpoints import QUERY_PATH, REQUEST_PATH
from picloss.protocol.keys import KeyStore

log = structlog.get_logger()


def build_app(config: GatewayConfig, deps: Deps | None = None) -> web.Application:
    # One byte over the protocol limit so the handler, not aiohttp, answers BODY_TOO_LARGE.
    app = web.Application(client_max_size=config.max_body_bytes + 1)
    app[CONFIG] = config
    app[LIMITER] = RateLimiter(config.rate_limit_per_s, config.rate_limit_burst)
    if deps is not None:
        app[DEPS] = deps
    else:
        app.cleanup_ctx.append(_resources)
    app.router.add_post(REQUEST_PATH, request_handler)
    app.router.add_post(QUERY_PATH, query_handler)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def init_app(config: GatewayConfig) -> web.Application:
    return build_app(config)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    keys = KeyStore.from_file(config.keys_file)
    data_keys = DataKeys.from_file(config.data_keys_file)
    # the accept path: a warm pool of up to 20 connections kept open (no idle timer re-armed on every call)
    ledger = await Ledger.connect(config.database_url, max_size=20, idle_lifetime_s=0)
    producer = AsyncProducer(config.kafka_bootstrap, delivery_timeout_ms=config.kafka_delivery_timeout_ms)
    app[DEPS] = Deps(ledger=ledger, producer=producer, keys=keys, data_keys=data_keys)
    purger = asyncio.create_task(_purge_nonces(ledger, config.ts_window_s))
    log.info("gateway resources ready", clients=len(keys))
    try:
        yield
    finally:
        purger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purger
        await asyncio.to_thread(producer.close)
        await ledger.close()


async def _purge_nonces(ledger: Ledger, every_s: int) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await ledger.purge_nonces()
        except Exception as exc:  # the next round tries again
            log.warning("nonce purge failed", error=str(exc))


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    deps = request.app.get(DEPS)
    if deps is None or not await deps.ledger.ping():
        return web.json_response({"status": "not ready"}, status=503)
    return web.json_response({"status": "ready"})
