"""grpc.aio server runner shared by the model services.

Health is NOT_SERVING until the service says it is ready (models loaded and
warmed up); on SIGTERM/SIGINT it goes NOT_SERVING, then stops with a grace
period so Kubernetes drains it before in-flight RPCs are cut.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from picloss.platform.observability.metrics import GRPC_LATENCY, GRPC_REQUESTS

# Photos travel inside RPCs: raise the 4 MiB default on both sides.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]

# Servers close every connection after about 5 minutes (in-flight calls get 2 more to finish): clients then
# reconnect and re-resolve, so pods added by scaling receive calls too (gRPC resolves DNS only on reconnect).
SERVER_OPTIONS = [
    *CHANNEL_OPTIONS,
    ("grpc.max_connection_age_ms", 300_000),
    ("grpc.max_connection_age_grace_ms", 120_000),
]

log = structlog.get_logger()


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every unary RPC by service, method and status code."""

    def __init__(self, service: str) -> None:
        self._service = service

    async def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        inner = handler.unary_unary
        service = self._service

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            code = "OK"
            try:
                return await inner(request, context)
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            except Exception:
                code = context.code().name if context.code() else "UNKNOWN"
                raise
            finally:
                if code == "OK" and context.code() not in (None, grpc.StatusCode.OK):
                    code = context.code().name
                GRPC_REQUESTS.labels(service, method, code).inc()
                GRPC_LATENCY.labels(service, method).observe(time.perf_counter() - start)

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


async def serve(
    *,
    service_name: str,
    full_service_names: list[str],
    register: Callable[[grpc.aio.Server], None],
    port: int,
    ready: Callable[[], Awaitable[None]] | None = None,
    grace_s: float = 10.0,
    host: str = "0.0.0.0",
) -> None:
    """Start a server, await `ready()` (model load/warm-up), then SERVING until a signal."""
    server = grpc.aio.server(options=SERVER_OPTIONS, interceptors=[MetricsInterceptor(service_name)])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    register(server)
    bound = server.add_insecure_port(f"{host}:{port}")
    names = ["", *full_service_names]
    for name in names:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    await server.start()
    log.info("grpc server started", port=bound, services=full_service_names)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    if ready is not None:
        await ready()
    for name in names:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving")

    await stop.wait()
    log.info("stopping", grace_s=grace_s)
    for name in names:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    await server.stop(grace_s)
