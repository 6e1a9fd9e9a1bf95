"""The damage and aggregator servicers over real gRPC, and the damage process up to SERVING."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from devkit.photos import polygon_texture
from picloss.engines.damage.assess import DamageAssessor
from picloss.engines.damage.detector import DamageDetector
from picloss.engines.models.damage_detector import DAMAGE_DETECTOR
from picloss.platform.imaging import encode_jpeg
from picloss.platform.inference import OnnxRunner
from picloss.platform.observability.metrics import REGISTRY
from picloss.rpc.aggregator.v1 import aggregator_pb2, aggregator_pb2_grpc
from picloss.rpc.common.v1 import common_pb2
from picloss.rpc.damage.v1 import damage_pb2, damage_pb2_grpc
from services.aggregator.servicer import AggregatorServicer
from services.damage.servicer import DamageServicer

REPO = Path(__file__).resolve().parents[3]


def photo(width: int, height: int) -> bytes:
    ys, xs = np.mgrid[0:height, 0:width]
    rgb = np.stack([xs * 255 // width, ys * 255 // height, np.full_like(xs, 120)], -1).astype(np.uint8)
    rgb[height // 3 : height // 2, width // 3 : width // 2] = 30  # a dark patch
    return encode_jpeg(rgb)


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    server = grpc.aio.server()
    # threshold 0: the detector returns its best candidates even on a synthetic photo
    detector = DamageDetector(OnnxRunner(DAMAGE_DETECTOR, threads=1), score_threshold=0.0)
    servicer = DamageServicer(DamageAssessor(detector), "damage_detector/1")  # no gates: the detector's own verdict
    damage_pb2_grpc.add_DamageServiceServicer_to_server(servicer, server)
    aggregator_pb2_grpc.add_AggregatorServiceServicer_to_server(AggregatorServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    await server.stop(None)


async def test_detect_returns_well_formed_damages_per_photo(channel: grpc.aio.Channel) -> None:
    stub = damage_pb2_grpc.DamageServiceStub(channel)
    images = [
        common_pb2.Image(fileid="wide", data=photo(640, 480), width=640, height=480),
        common_pb2.Image(fileid="broken", data=b"not an image"),
        common_pb2.Image(fileid="tall", data=photo(300, 700), width=300, height=700),
    ]
    response = await stub.Detect(damage_pb2.DetectRequest(images=images))
    # an undecodable photo gets no entry (the orchestrator reports 5001), never an empty "no damage" one
    assert [r.fileid for r in response.results] == ["wide", "tall"]
    assert response.model_version == "damage_detector/1"
    for result, (w, h) in ((response.results[0], (640, 480)), (response.results[1], (300, 700))):
        assert 1 <= len(result.damages) <= 20
        for d in result.damages:
            assert 0 <= d.box.xmin < d.box.xmax <= w and 0 <= d.box.ymin < d.box.ymax <= h
            assert len(d.components) >= 1
            assert all(1 <= c.component_part_id <= 40 and 0 <= c.score <= 100 for c in d.components)
            assert d.degree_id in (0, 1) and 0 <= d.degree_score <= 100
            assert d.damage_type in ("scratch", "dent", "broken") and 0 <= d.damage_type_score <= 100
            assert 0.0 <= d.score <= 1.0
        # registration features for the aggregator: x, y pairs and 32 bytes per point
        assert len(result.features.points) == 2 * len(result.features.descriptors) // 32
        for part in result.parts:  # damaged parts seen (context for the aggregator), in photo pixels
            assert 0 <= part.box.xmin < part.box.xmax <= w and 1 <= part.components[0].component_part_id <= 40


async def test_features_only_when_asked_for(channel: grpc.aio.Channel) -> None:
    """SINGLE requests skip the ORB registration features (BATCH aggregation alone uses them); the damages are
    the same either way."""
    stub = damage_pb2_grpc.DamageServiceStub(channel)
    images = [common_pb2.Image(fileid="wide", data=photo(640, 480), width=640, height=480)]
    with_features = (await stub.Detect(damage_pb2.DetectRequest(images=images))).results[0]
    without = (await stub.Detect(damage_pb2.DetectRequest(images=images, skip_features=True))).results[0]
    assert len(with_features.features.points) > 20 and len(with_features.features.descriptors) > 0
    assert len(without.features.points) == 0 and without.features.descriptors == b""
    assert list(without.damages) == list(with_features.damages) and list(without.parts) == list(with_features.parts)


async def test_aggregate_merges_photos_of_one_claim(channel: grpc.aio.Channel) -> None:
    def damage(cid: int, degree: int, score: int) -> damage_pb2.Damage:
        return damage_pb2.Damage(
            box=common_pb2.Box(xmin=1, ymin=2, xmax=30, ymax=40),
            degree_id=degree,
            degree_score=score,
            components=[damage_pb2.ComponentScore(component_part_id=cid, score=90)],
        )

    request = aggregator_pb2.AggregateRequest(
        accept_seqno="a1",
        photos=[
            aggregator_pb2.PhotoDamages(
                fileid="0", width=640, height=480, damages=[damage(19, 0, 80), damage(22, 0, 90)]
            ),
            aggregator_pb2.PhotoDamages(fileid="1", width=640, height=480, damages=[damage(21, 1, 70)]),
        ],
    )
    response = await aggregator_pb2_grpc.AggregatorServiceStub(channel).Aggregate(request)
    by_id = {r.damage_component_id: r for r in response.results}
    assert set(by_id) == {19, 22}
    assert [ic.fileid for ic in by_id[19].image_contain] == ["0", "1"]
    assert (by_id[19].damage_degree_id, by_id[19].damage_degree_score) == (1, 70)


async def test_a_closeup_merges_into_the_wide_photo_through_detect_features(channel: grpc.aio.Channel) -> None:
    wide = polygon_texture(3)
    close = np.asarray(Image.fromarray(wide[150:310, 200:420]).resize((440, 320)))
    images = [
        common_pb2.Image(fileid="wide", data=encode_jpeg(wide), width=640, height=480),
        common_pb2.Image(fileid="close", data=encode_jpeg(close), width=440, height=320),
    ]
    detected = await damage_pb2_grpc.DamageServiceStub(channel).Detect(damage_pb2.DetectRequest(images=images))
    features = {r.fileid: r.features for r in detected.results}
    assert all(len(f.points) > 100 for f in features.values())

    def damage(cid: int, box: tuple[int, int, int, int]) -> damage_pb2.Damage:
        return damage_pb2.Damage(
            box=common_pb2.Box(xmin=box[0], ymin=box[1], xmax=box[2], ymax=box[3]),
            degree_id=0,
            degree_score=80,
            components=[damage_pb2.ComponentScore(component_part_id=cid, score=90)],
        )

    # wide: a fender damage at (260, 200)-(330, 260); the close-up (2x) sees it as a door damage
    request = aggregator_pb2.AggregateRequest(
        accept_seqno="a2",
        photos=[
            aggregator_pb2.PhotoDamages(
                fileid="wide", width=640, height=480, damages=[damage(15, (260, 200, 330, 260))],
                features=features["wide"],
            ),
            aggregator_pb2.PhotoDamages(
                fileid="close", width=440, height=320, damages=[damage(5, (120, 100, 260, 220))],
                features=features["close"],
            ),
        ],
    )
    registered_before = REGISTRY.get_sample_value("picloss_batch_photos_registered_total") or 0.0
    response = await aggregator_pb2_grpc.AggregatorServiceStub(channel).Aggregate(request)
    assert [r.damage_component_id for r in response.results] == [15]
    assert REGISTRY.get_sample_value("picloss_batch_photos_registered_total") == registered_before + 1
    assert [ic.fileid for ic in response.results[0].image_contain] == ["wide", "close"]

    del request.photos[1].features.points[:]  # no features: no registration, two components
    response = await aggregator_pb2_grpc.AggregatorServiceStub(channel).Aggregate(request)
    assert sorted(r.damage_component_id for r in response.results) == [5, 15]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_damage_process_goes_serving_after_warm_up() -> None:
    port = free_port()
    env = {**os.environ, "GRPC_PORT": str(port), "METRICS_PORT": "0", "PICLOSS_ORT_THREADS": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.damage",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            status = None
            for _ in range(120):
                try:
                    status = (await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)).status
                except grpc.aio.AioRpcError:
                    status = None
                if status == health_pb2.HealthCheckResponse.SERVING:
                    break
                await asyncio.sleep(0.25)
            assert status == health_pb2.HealthCheckResponse.SERVING
            response = await damage_pb2_grpc.DamageServiceStub(ch).Detect(
                damage_pb2.DetectRequest(
                    images=[common_pb2.Image(fileid="x", data=photo(320, 240), width=320, height=240)]
                )
            )
            assert [r.fileid for r in response.results] == ["x"]
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=20)



async def test_detect_with_both_gates_reports_vehicles_and_the_gate_verdict() -> None:
    """The service as __main__ wires it: the real damage gate and car gate around the detector (issue 11)."""
    from picloss.engines.damage import gate, vehicles
    from picloss.engines.models import car_detector, damage_gate

    detector = DamageDetector(OnnxRunner(DAMAGE_DETECTOR, threads=1), score_threshold=0.0)
    assessor = DamageAssessor.from_runners(
        detector, gate_runner=OnnxRunner(damage_gate.GATE_SPEC, threads=1), gate_threshold=gate.DAMAGE_THRESHOLD,
        car_runner=OnnxRunner(car_detector.CAR_DETECTOR, threads=1), car_threshold=vehicles.DEFAULT_SCORE_THRESHOLD)
    server = grpc.aio.server()
    servicer = DamageServicer(assessor, "damage_detector/1+damage_gate/1+car_detector/1")
    damage_pb2_grpc.add_DamageServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = damage_pb2_grpc.DamageServiceStub(ch)
            images = [common_pb2.Image(fileid="p", data=photo(640, 480), width=640, height=480)]
            response = await stub.Detect(damage_pb2.DetectRequest(images=images))
    finally:
        await server.stop(None)
    (result,) = response.results
    assert 0.0 <= result.damage_probability <= 1.0
    assert result.damage_gate_passed == (result.damage_probability >= gate.DAMAGE_THRESHOLD)
    if not result.damage_gate_passed:
        assert not result.damages and not result.parts  # below the gate nothing is reported
    for v in result.vehicles:
        assert 0 <= v.box.xmin < v.box.xmax <= 640 and 0 <= v.box.ymin < v.box.ymax <= 480
        assert v.kind in ("car", "bus", "truck", "motorcycle") and 0 < v.score <= 1
    if not result.vehicles and not result.parts:
        # a synthetic gradient is no car: damage only past the gate (close-up rule)
        assert not result.damages or result.damage_gate_passed
