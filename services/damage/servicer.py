"""picloss.damage.v1.DamageService: a batch of photos in, damages per photo out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
import numpy as np
import structlog

from picloss.engines.damage.assess import Assessment, DamageAssessor, decode, in_photo_pixels
from picloss.engines.damage.wire import result_to_proto
from picloss.engines.registration import extract, scaled, to_wire
from picloss.platform.imaging import DEFAULT_MAX_PIXELS, DecodedImage, ImageRejected
from picloss.platform.inference import ModelRunner
from picloss.rpc.damage.v1 import damage_pb2, damage_pb2_grpc
from services.damage.metrics import PHOTOS_ASSESSED

SERVICE = damage_pb2.DESCRIPTOR.services_by_name["DamageService"]

log = structlog.get_logger()


def outcome(a: Assessment) -> str:
    return "damage" if a.damages else (a.reason or "no_damage")


class DamageServicer(damage_pb2_grpc.DamageServiceServicer):
    """`runners`: the assessor's models, waited for and closed here. Each photo is decoded once, at the size the
    damage models need (picloss.engines.damage.assess.decode); boxes and registration features go back in the displayed
    photo's pixels."""

    def __init__(self, assessor: DamageAssessor, model_version: str | None = None,
                 runners: Sequence[ModelRunner] = (), max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        """`model_version`: what the responses name; None: the runners' `name/version`s joined by "+" (issue 24:
        the callback names the versions behind each verdict), taken when they are ready (Triton names its own)."""
        self._assessor = assessor
        self._fixed_version = model_version
        self._runners = list(runners)
        self._model_version = self._versions()
        self._max_pixels = max_pixels

    def _versions(self) -> str:
        if self._fixed_version is not None:
            return self._fixed_version
        return "+".join(f"{r.spec.name}/{r.spec.version}" for r in self._runners)

    async def warm_up(self) -> None:
        """Every model answers one photo before the service reports SERVING."""
        for runner in self._runners:
            await runner.wait_ready()
        self._model_version = self._versions()  # Triton names the version it loaded once ready
        await self._assessor.assess([np.full((480, 640, 3), 128, dtype=np.uint8)])
        log.info("models warmed up", backends=sorted({r.backend for r in self._runners}), models=self._model_version)

    async def close(self) -> None:
        for runner in self._runners:
            await runner.close()

    async def Detect(
        self, request: damage_pb2.DetectRequest, context: grpc.aio.ServicerContext
    ) -> damage_pb2.DetectResponse:
        decoded: list[DecodedImage] = []
        positions: list[int] = []
        for i, image in enumerate(request.images):
            try:
                decoded.append(await asyncio.to_thread(decode, image.data, self._max_pixels))
                positions.append(i)
            except ImageRejected as exc:
                # The orchestrator checks photos before sending them. An image that still fails here gets no
                # result entry at all (never an empty, "no damage" one): the orchestrator reports it as 5001.
                log.warning("image not decodable", fileid=image.fileid, code=exc.code, reason=exc.reason)
                PHOTOS_ASSESSED.labels("rejected").inc()
        assessments = await self._assessor.assess([d.rgb for d in decoded])
        by_position = {}
        for position, photo, assessment in zip(positions, decoded, assessments, strict=True):
            PHOTOS_ASSESSED.labels(outcome(assessment)).inc()
            by_position[position] = in_photo_pixels(assessment, photo)
        features = {position: damage_pb2.PhotoFeatures() for position in positions}
        if not request.skip_features:  # BATCH only: the aggregator registers the photos of a claim
            for position, photo in zip(positions, decoded, strict=True):
                found = scaled(await asyncio.to_thread(extract, photo.rgb), photo.shown_width, photo.shown_height)
                points, descriptors = to_wire(found)
                features[position] = damage_pb2.PhotoFeatures(points=points, descriptors=descriptors)
        return damage_pb2.DetectResponse(
            model_version=self._model_version,
            results=[
                result_to_proto(image.fileid, by_position[i], features[i])
                for i, image in enumerate(request.images)
                if i in by_position
            ],
        )
