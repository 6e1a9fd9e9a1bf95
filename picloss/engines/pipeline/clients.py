"""gRPC clients of the model services, with deadlines, wait-for-ready and bounded retries.

Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED: a service restarting or
overloaded) are retried within a time budget; anything else, or an exhausted budget, raises
ModelCallFailed and the orchestrator reports the affected files with code 5001 — never a
made-up result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
import structlog

from picloss.platform.grpcserver import CHANNEL_OPTIONS
from picloss.rpc.aggregator.v1 import aggregator_pb2, aggregator_pb2_grpc
from picloss.rpc.classifier.v1 import classifier_pb2, classifier_pb2_grpc
from picloss.rpc.common.v1 import common_pb2
from picloss.rpc.damage.v1 import damage_pb2, damage_pb2_grpc
from picloss.rpc.ocr.v1 import ocr_pb2, ocr_pb2_grpc

log = structlog.get_logger()

T = TypeVar("T")

TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}


class ModelCallFailed(Exception):
    def __init__(self, service: str, code: str, detail: str) -> None:
        super().__init__(f"{service}: {code}: {detail}")
        self.service, self.code, self.detail = service, code, detail


def channel_target(addr: str) -> str:
    """A gRPC target for one address or several replicas: `host:port` as is, `host:port,host:port` as an
    `ipv4:` list (IP addresses) for client-side round robin; a `dns:///name:port` target of a headless Service
    resolves to every pod. Every channel balances round robin over what its target resolves to."""
    parts = [a.strip() for a in addr.split(",") if a.strip()]
    if len(parts) <= 1:
        return addr.strip()
    return "ipv4:" + ",".join(parts)


BALANCED_OPTIONS = [*CHANNEL_OPTIONS, ("grpc.lb_policy_name", "round_robin")]


class ModelClients:
    def __init__(self, *, classifier: str, ocr: str, damage: str, aggregator: str, timeout_s: float,
                 retry_budget_s: float) -> None:
        self._channels = {name: grpc.aio.insecure_channel(channel_target(addr), options=BALANCED_OPTIONS)
                          for name, addr in (("classifier", classifier), ("ocr", ocr), ("damage", damage),
                                             ("aggregator", aggregator))}
        self.classifier = classifier_pb2_grpc.ClassifierServiceStub(self._channels["classifier"])
        self.ocr = ocr_pb2_grpc.OcrServiceStub(self._channels["ocr"])
        self.damage = damage_pb2_grpc.DamageServiceStub(self._channels["damage"])
        self.aggregator = aggregator_pb2_grpc.AggregatorServiceStub(self._channels["aggregator"])
        self._timeout = timeout_s
        self._budget = retry_budget_s

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()

    async def _call(self, service: str, call: Callable[[float], Awaitable[T]]) -> T:
        deadline = time.monotonic() + self._budget
        delay = 0.5
        while True:
            try:
                return await call(self._timeout)
            except grpc.aio.AioRpcError as err:
                code = err.code()
                if code in TRANSIENT and time.monotonic() + delay < deadline:
                    log.warning("model call failed, retrying", service=service, code=code.name, delay_s=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    continue
                raise ModelCallFailed(service, code.name, err.details() or "") from err

    async def classify(self, images: list[common_pb2.Image]) -> classifier_pb2.ClassifyResponse:
        request = classifier_pb2.ClassifyRequest(images=images)
        return await self._call("classifier", lambda t: self.classifier.Classify(
            request, timeout=t, wait_for_ready=True))

    async def read_document(self, image: common_pb2.Image, image_class: int) -> ocr_pb2.ReadDocumentResponse:
        request = ocr_pb2.ReadDocumentRequest(image=image, image_class=image_class)  # type: ignore[arg-type]
        return await self._call("ocr", lambda t: self.ocr.ReadDocument(request, timeout=t, wait_for_ready=True))

    async def detect(self, images: list[common_pb2.Image], *, features: bool = True) -> damage_pb2.DetectResponse:
        """`features`: the photos' registration features too (BATCH aggregation needs them, nothing else)."""
        request = damage_pb2.DetectRequest(images=images, skip_features=not features)
        return await self._call("damage", lambda t: self.damage.Detect(request, timeout=t, wait_for_ready=True))

    async def aggregate(self, request: aggregator_pb2.AggregateRequest) -> aggregator_pb2.AggregateResponse:
        return await self._call("aggregator", lambda t: self.aggregator.Aggregate(
            request, timeout=t, wait_for_ready=True))
