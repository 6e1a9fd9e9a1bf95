"""The damage servicer decodes each photo once, at the size its models need, and answers in the photo's pixels."""

from __future__ import annotations

import asyncio
import io

import numpy as np
from PIL import Image

from picloss.engines.damage.assess import Assessment, decode, in_photo_pixels
from picloss.engines.damage.detector import Detection
from picloss.engines.damage.vehicles import Vehicle
from picloss.platform.observability.metrics import REGISTRY
from picloss.rpc.common.v1 import common_pb2
from picloss.rpc.damage.v1 import damage_pb2
from services.damage.servicer import DamageServicer


def photo(width: int, height: int) -> bytes:
    """Grey with a bright square whose corners are at 1/4 and 1/2 of each side, textured for ORB features."""
    rng = np.random.default_rng(3)
    pixels = (rng.random((height // 8, width // 8, 3)) * 200).astype(np.uint8)  # never bright
    pixels = np.array(Image.fromarray(pixels).resize((width, height), Image.Resampling.NEAREST))
    pixels[height // 4: height // 2, width // 4: width // 2] = 255
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def detection(box: tuple[int, int, int, int]) -> Detection:
    return Detection(box=box, score=0.9, damage_type="dent", damage_type_score=80, part_kind="door",
                     components=((5, 80),), degree_id=1, degree_score=70, type_probs=(0.1, 0.8, 0.1),
                     severity_probs=(0.2, 0.6, 0.2), part_probs=(0, 0, 0, 1, 0, 0, 0))


class BrightSquareAssessor:
    """Stands in for DamageAssessor: reports the bright square it finds in each decoded photo (its own pixels)."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    async def assess(self, photos: list[np.ndarray]) -> list[Assessment]:
        out = []
        for rgb in photos:
            self.shapes.append(rgb.shape)
            ys, xs = np.nonzero(rgb.min(axis=2) >= 240)
            if not len(xs):  # the warm-up photo
                out.append(Assessment([], [], [], None, 0.1, False, "no_damage_gate"))
                continue
            box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            car = Vehicle(box=(0.0, 0.0, float(rgb.shape[1]), float(rgb.shape[0])), kind="car", score=0.8)
            out.append(Assessment([detection(box)], [], [car], car, 0.9, True, ""))
        return out


class Runner:
    backend = "onnxruntime"

    def __init__(self) -> None:
        self.waited = self.closed = 0

    async def wait_ready(self) -> None:
        self.waited += 1

    async def close(self) -> None:
        self.closed += 1


def detect(servicer: DamageServicer, images: list[bytes], features: bool) -> damage_pb2.DetectResponse:
    request = damage_pb2.DetectRequest(images=[common_pb2.Image(fileid=str(i), data=d) for i, d in enumerate(images)],
                                       skip_features=not features)
    return asyncio.run(servicer.Detect(request, None))  # type: ignore[arg-type]


def test_a_large_photo_is_assessed_reduced_and_answered_in_its_own_pixels() -> None:
    assessor = BrightSquareAssessor()
    servicer = DamageServicer(assessor, "fake/1")  # type: ignore[arg-type]
    resp = detect(servicer, [photo(4000, 3000), photo(640, 480)], features=True)
    assert assessor.shapes == [(750, 1000, 3), (480, 640, 3)]  # 1/4 (long side >= 640), and not reduced
    big, small = resp.results
    b = big.damages[0].box
    assert abs(b.xmin - 1000) <= 8 and abs(b.ymin - 750) <= 8 and abs(b.xmax - 2000) <= 8 and abs(b.ymax - 1500) <= 8
    assert (big.vehicles[0].box.xmax, big.vehicles[0].box.ymax) == (4000, 3000) and big.vehicles[0].of_interest
    s = small.damages[0].box
    assert (s.xmin, s.ymin, s.xmax, s.ymax) == (160, 120, 320, 240)
    points = np.asarray(big.features.points).reshape(-1, 2)
    assert len(points) > 50  # textured photo: ORB finds features...
    assert points[:, 0].max() > 1000 and points[:, 0].max() <= 4000 and points[:, 1].max() <= 3000  # ...in its pixels


def test_features_only_when_asked_and_an_undecodable_photo_gets_no_entry() -> None:
    before = REGISTRY.get_sample_value("picloss_damage_photos_total", {"outcome": "rejected"}) or 0.0
    resp = detect(DamageServicer(BrightSquareAssessor(), "fake/1"), [b"not a photo", photo(640, 480)],  # type: ignore[arg-type]
                  features=False)
    assert [r.fileid for r in resp.results] == ["1"]
    assert len(resp.results[0].features.points) == 0
    assert REGISTRY.get_sample_value("picloss_damage_photos_total", {"outcome": "rejected"}) == before + 1


def test_in_photo_pixels_keeps_boxes_inside_the_photo_and_the_vehicle_of_interest() -> None:
    decoded = decode(photo(4000, 3000))
    car = Vehicle(box=(10.0, 20.0, 999.5, 750.0), kind="car", score=0.7)
    other = Vehicle(box=(0.0, 0.0, 5.0, 5.0), kind="car", score=0.3)
    a = Assessment([detection((0, 0, 1000, 750))], [detection((1, 2, 3, 4))], [other, car], car, None, True, "")
    mapped = in_photo_pixels(a, decoded)
    assert mapped.damages[0].box == (0, 0, 4000, 3000)
    assert mapped.parts[0].box == (4, 8, 12, 16)
    assert mapped.of_interest is mapped.vehicles[1] and mapped.of_interest.box == (40.0, 80.0, 3998.0, 3000.0)
    assert in_photo_pixels(a, decode(photo(640, 480))) is a


def test_warm_up_waits_for_every_model_and_close_closes_them() -> None:
    runners = [Runner(), Runner()]
    servicer = DamageServicer(BrightSquareAssessor(), "fake/1", runners=runners)  # type: ignore[arg-type]
    asyncio.run(servicer.warm_up())
    asyncio.run(servicer.close())
    assert [(r.waited, r.closed) for r in runners] == [(1, 1), (1, 1)]
