"""python -m gateway: config → logging → metrics → app → serve (HTTPS unless GATEWAY_TLS=false)."""

from __future__ import annotations

from aiohttp import web

from gateway.app import init_app
from gateway.config import GatewayConfig
from picloss.platform.httpserver import server_context
from picloss.platform.observability.logs import setup_logging
from picloss.platform.observability.metrics import start_metrics_server


def main() -> None:
    config = GatewayConfig.from_env()
    log = setup_logging("gateway", config.log_level)
    start_metrics_server(config.metrics_port)
    ssl_context = server_context(config.tls_cert, config.tls_key) if config.tls_cert and config.tls_key else None
    log.info("gateway starting", port=config.port, tls=ssl_context is not None)
    web.run_app(init_app(config), host=config.host, port=config.port, ssl_context=ssl_context,
                print=None, access_log=None, shutdown_timeout=10)


if __name__ == "__main__":
    main()
