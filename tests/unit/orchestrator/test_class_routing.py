"""The final class of a photo: classifier, OCR text and car detector together (picloss/engines/pipeline/routing.py).

Issue 10 failure mode 7: a document classed DAMAGE got made-up damage; damage photos classed VIN or OTHER silently
got no damage result. The pipeline runs against fake model services here, so each opinion is set exactly.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

import pytest
from PIL import Image

from picloss.engines.pipeline import routing
from picloss.engines.pipeline.clients import ModelCallFailed
from picloss.engines.pipeline.fetch import Fetched
from picloss.engines.pipeline.metrics import CLASS_SWITCHES
from picloss.engines.pipeline.pipeline import FileWork, Pipeline
from picloss.protocol.callback import build_body
from picloss.protocol.codes import FileCode, ImageClass
from picloss.rpc.aggregator.v1 import aggregator_pb2
from picloss.rpc.classifier.v1 import classifier_pb2
from picloss.rpc.common.v1 import common_pb2
from picloss.rpc.damage.v1 import damage_pb2
from picloss.rpc.ocr.v1 import ocr_pb2


def _cls(c: ImageClass) -> int:
    return int(common_pb2.ImageClass.Value("IMAGE_CLASS_" + c.value))


def _jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (seed % 255, 80, 120)).save(buf, "JPEG")
    return buf.getvalue()


@dataclass
class Photo:
    """What each fake model service answers for one photo."""

    classified: ImageClass
    scores: dict[ImageClass, float]
    text_class: ImageClass | None = None  # the class the OCR text names
    fields: int = 0  # fields the OCR reads
    vehicle: bool = False
    damages: int = 0
    gate: bool = False


@dataclass
class FakeClients:
    photos: dict[str, Photo]  # by URL
    fail_ocr: bool = False
    url_of: dict[str, str] = field(default_factory=dict)  # RPC fileid (the file's index) -> URL
    ocr_calls: list[tuple[str, int]] = field(default_factory=list)
    detect_calls: list[list[str]] = field(default_factory=list)
    features_asked: list[bool] = field(default_factory=list)
    aggregated: list[list[str]] = field(default_factory=list)

    def _photo(self, image: common_pb2.Image) -> Photo:
        return self.photos[self.url_of[image.fileid]]

    async def classify(self, images: list[common_pb2.Image]) -> classifier_pb2.ClassifyResponse:
        results = []
        for image in images:
            p = self._photo(image)
            scores = sorted(p.scores.items(), key=lambda cs: -cs[1])
            results.append(classifier_pb2.Classification(
                fileid=image.fileid, image_class=_cls(p.classified), score=p.scores[p.classified],
                scores=[classifier_pb2.ClassScore(image_class=_cls(c), score=s) for c, s in scores]))
        return classifier_pb2.ClassifyResponse(results=results)

    async def read_document(self, image: common_pb2.Image, image_class: int) -> ocr_pb2.ReadDocumentResponse:
        self.ocr_calls.append((image.fileid, image_class))
        if self.fail_ocr:
            raise ModelCallFailed("ocr", "UNAVAILABLE", "down")
        p = self._photo(image)
        fields = [ocr_pb2.Field(name="id", value="11010519491231002X", confidence=0.95, validated=True)
                  for _ in range(p.fields)]
        asked = ImageClass(common_pb2.ImageClass.Name(image_class).removeprefix("IMAGE_CLASS_"))
        text = _cls(p.text_class) if p.text_class else 0
        detected = text if p.text_class and p.text_class is not asked else 0
        return ocr_pb2.ReadDocumentResponse(fileid=image.fileid, fields=fields,
                                            result_code=0 if fields else FileCode.NO_FIELD,
                                            detected_class=detected, text_class=text)

    async def aggregate(self, request: aggregator_pb2.AggregateRequest) -> aggregator_pb2.AggregateResponse:
        self.aggregated.append([p.fileid for p in request.photos])
        return aggregator_pb2.AggregateResponse()

    async def detect(self, images: list[common_pb2.Image], *, features: bool = True) -> damage_pb2.DetectResponse:
        self.detect_calls.append([i.fileid for i in images])
        self.features_asked.append(features)
        results = []
        for image in images:
            p = self._photo(image)
            vehicles = [damage_pb2.Vehicle(box=common_pb2.Box(xmin=1, ymin=1, xmax=60, ymax=40), kind="car",
                                           score=0.8, of_interest=True)] if p.vehicle else []
            damages = [damage_pb2.Damage(box=common_pb2.Box(xmin=5, ymin=5, xmax=20, ymax=20), score=0.7,
                                         components=[damage_pb2.ComponentScore(component_part_id=19, score=70)])
                       for _ in range(p.damages)]
            results.append(damage_pb2.ImageDamages(fileid=image.fileid, damages=damages, vehicles=vehicles,
                                                   damage_gate_passed=p.gate, damage_probability=0.9 * p.gate))
        return damage_pb2.DetectResponse(results=results)


class FakeFetcher:
    async def fetch(self, url: str) -> Fetched:
        data = _jpeg(len(url))
        return Fetched(data, hashlib.md5(data).hexdigest())


async def run(photos: dict[str, Photo], fail_ocr: bool = False,
              model: str = "SINGLE") -> tuple[list[FileWork], FakeClients, dict]:
    clients = FakeClients(photos, fail_ocr=fail_ocr)
    files = [FileWork(idx=i, fileid=f"f{i}", fileurl=url, md5_given=None) for i, url in enumerate(photos)]
    clients.url_of = {str(f.idx): f.fileurl for f in files}
    pipeline = Pipeline(clients=clients, fetcher=FakeFetcher(), max_pixels=10_000_000,  # type: ignore[arg-type]
                        fetch_concurrency=4, damage_batch=8)
    outcome = await pipeline.run("A1", model, files)
    body = build_body(appid="a", mchid="m", nonce="n", timestamp=1, accept_seqno="A1", req_seqno="R1",
                      model=model, outcome=outcome)
    return files, clients, body


DAMAGE, OTHER, VIN, FRONT = ImageClass.DAMAGE, ImageClass.OTHER, ImageClass.VIN, ImageClass.IDCARD_FRONT


def switches(frm: ImageClass, to: ImageClass, reason: str) -> float:
    return CLASS_SWITCHES.labels(frm.value, to.value, reason)._value.get()


async def test_frame_filling_document_classed_damage_becomes_the_document_and_gets_no_damage() -> None:
    before = switches(DAMAGE, FRONT, routing.DOCUMENT_TEXT)
    files, clients, body = await run({"http://x/scan": Photo(DAMAGE, {DAMAGE: 0.9, FRONT: 0.02, OTHER: 0.08},
                                                             text_class=FRONT, fields=3, damages=2)})
    f = files[0]
    assert f.image_class is FRONT and f.damages is None and f.code == FileCode.OK
    assert [c[1] for c in clients.ocr_calls] == [_cls(FRONT)]  # read as the classifier's likeliest document
    assert "single_loss" not in body and len(body["idcards"]) == 1
    assert switches(DAMAGE, FRONT, routing.DOCUMENT_TEXT) == before + 1


async def test_car_photo_with_a_vehicle_and_no_doubt_is_not_ocred() -> None:
    files, clients, body = await run({"http://x/car": Photo(DAMAGE, {DAMAGE: 0.99, FRONT: 0.001},
                                                            vehicle=True, damages=1, gate=True)})
    assert files[0].image_class is DAMAGE and clients.ocr_calls == []
    assert len(body["single_loss"][0]["single_damage"]) == 1


async def test_text_check_that_finds_no_document_keeps_the_damage() -> None:
    files, clients, body = await run({"http://x/closeup": Photo(DAMAGE, {DAMAGE: 0.9, VIN: 0.1}, damages=1,
                                                                gate=True)})
    assert len(clients.ocr_calls) == 1  # the classifier hesitated: 0.1 VIN
    assert files[0].image_class is DAMAGE and files[0].document is None
    assert body["single_loss"][0]["result_code"] == 0 and "vin_infos" not in body


async def test_unread_vin_with_a_vehicle_becomes_damage() -> None:
    before = switches(VIN, DAMAGE, routing.VEHICLE_SEEN)
    files, clients, body = await run({"http://x/car-as-vin": Photo(VIN, {VIN: 0.6, DAMAGE: 0.4}, vehicle=True,
                                                                   damages=1, gate=True)})
    f = files[0]
    assert clients.detect_calls == [["0"]]  # only the vehicle check: a VIN-classed photo skips the first pass
    assert f.image_class is DAMAGE and f.document is None and f.code == FileCode.OK
    assert "vin_infos" not in body and len(body["single_loss"]) == 1
    assert switches(VIN, DAMAGE, routing.VEHICLE_SEEN) == before + 1


@pytest.mark.parametrize("model", ["SINGLE", "BATCH"])
async def test_registration_features_are_asked_for_batch_only(model: str) -> None:
    """ORB features serve BATCH aggregation alone: a SINGLE request never has the damage service compute them,
    in the first pass or in the vehicle check of a document-classed photo."""
    _, clients, _ = await run({"http://x/car": Photo(DAMAGE, {DAMAGE: 0.99, FRONT: 0.001}, vehicle=True, damages=1,
                                                     gate=True),
                               "http://x/car-as-vin": Photo(VIN, {VIN: 0.6, DAMAGE: 0.4}, vehicle=True, damages=1,
                                                            gate=True)}, model=model)
    assert len(clients.detect_calls) == 2  # first pass of the car photo, vehicle check of the VIN-classed one
    assert clients.features_asked == [model == "BATCH"] * 2
    assert clients.aggregated == ([["0", "1"]] if model == "BATCH" else [])


async def test_unread_vin_without_a_vehicle_stays_a_vin_with_2001() -> None:
    files, _, body = await run({"http://x/blurred-vin": Photo(VIN, {VIN: 0.7, DAMAGE: 0.3})})
    assert files[0].image_class is VIN and files[0].code == FileCode.NO_FIELD
    assert body["vin_infos"][0]["result_code"] == FileCode.NO_FIELD and "single_loss" not in body


async def test_unread_vin_close_up_with_damage_past_the_gate_becomes_damage() -> None:
    files, _, body = await run({"http://x/panel-as-vin": Photo(VIN, {VIN: 0.6, DAMAGE: 0.4}, damages=1, gate=True)})
    assert files[0].image_class is DAMAGE and files[0].code == FileCode.OK
    assert "vin_infos" not in body and len(body["single_loss"]) == 1


async def test_unread_vin_with_damage_below_the_gate_stays_a_vin() -> None:
    files, _, body = await run({"http://x/dirty-vin": Photo(VIN, {VIN: 0.6, DAMAGE: 0.4}, damages=1, gate=False)})
    assert files[0].image_class is VIN and files[0].code == FileCode.NO_FIELD and "single_loss" not in body


async def test_other_photo_with_a_vehicle_is_a_damage_photo() -> None:
    files, _, body = await run({"http://x/street": Photo(OTHER, {OTHER: 0.7, DAMAGE: 0.3}, vehicle=True)})
    assert files[0].image_class is DAMAGE and files[0].code == FileCode.NO_DAMAGE
    assert body["single_loss"][0]["result_code"] == FileCode.NO_DAMAGE


async def test_other_photo_without_a_vehicle_stays_other_without_any_result() -> None:
    files, _, body = await run({"http://x/receipt": Photo(OTHER, {OTHER: 0.97, DAMAGE: 0.03}, damages=1)})
    assert files[0].image_class is OTHER and files[0].damages is None and files[0].code == FileCode.OK
    assert "single_loss" not in body and body["files"][0]["image_class"] == "OTHER"


async def test_document_whose_text_names_another_document_takes_that_class() -> None:
    back = ImageClass.IDCARD_BACK
    files, _, body = await run({"http://x/back": Photo(FRONT, {FRONT: 0.8, back: 0.2}, text_class=back,
                                                       fields=1)})
    assert files[0].image_class is back and files[0].code == FileCode.OK
    assert body["idcards"][0]["result_code"] == 0


async def test_a_failed_text_check_leaves_the_damage_photo_as_it_was() -> None:
    files, clients, body = await run({"http://x/doubt": Photo(DAMAGE, {DAMAGE: 0.8, FRONT: 0.2}, vehicle=True,
                                                              damages=1, gate=True)}, fail_ocr=True)
    assert len(clients.ocr_calls) == 1 and files[0].image_class is DAMAGE and files[0].code == FileCode.OK
    assert len(body["single_loss"][0]["single_damage"]) == 1


@pytest.mark.parametrize(("classified", "doc_score", "vehicle", "expected"), [
    (DAMAGE, 0.001, True, False), (DAMAGE, 0.2, True, True), (DAMAGE, 0.0, False, True),
    (OTHER, 0.0, False, True), (VIN, 0.9, False, False)])
def test_needs_text_check(classified: ImageClass, doc_score: float, vehicle: bool, expected: bool) -> None:
    damages = damage_pb2.ImageDamages(vehicles=[damage_pb2.Vehicle(of_interest=True)] if vehicle else [])
    assert routing.needs_text_check(classified, doc_score, damages) is expected


async def test_a_vin_line_that_does_not_validate_still_names_a_vin_photo() -> None:
    """A VIN plate the classifier took for a close-up (the VIN line read, its VIN not validated): a VIN photo without
    field, not a car photo; an unread VIN-classed photo with a VIN line is not given to the vehicle check."""
    files, clients, body = await run({"http://x/plate-as-damage": Photo(DAMAGE, {DAMAGE: 0.8, VIN: 0.2}, text_class=VIN,
                                                                        vehicle=True)})
    assert len(clients.ocr_calls) == 1 and files[0].image_class is VIN and files[0].code == FileCode.NO_FIELD
    assert files[0].damages is None and "single_loss" not in body
    files, clients, body = await run({"http://x/plate": Photo(VIN, {VIN: 0.6, DAMAGE: 0.4}, text_class=VIN,
                                                              vehicle=True, damages=1, gate=True)})
    assert clients.detect_calls == [] and files[0].image_class is VIN and files[0].code == FileCode.NO_FIELD
    # a document named by its labels but without any field read stays as the classifier said
    files, _, _ = await run({"http://x/labels": Photo(DAMAGE, {DAMAGE: 0.8, FRONT: 0.2}, text_class=FRONT)})
    assert files[0].image_class is DAMAGE


@pytest.mark.parametrize(("probability", "expected"), [(0.3, False), (0.49, False), (0.5, True), (0.9, True)])
def test_damage_without_a_vehicle_is_car_evidence_only_when_the_gate_finds_it_likely(probability: float,
                                                                                      expected: bool) -> None:
    """The service's gate passes at 0.27 (set for damage recall); a VIN plate's embossed characters pass it as
    scratches, so a close-up without a vehicle needs the gate at CLOSE_UP_GATE to be a car photo."""
    damages = damage_pb2.ImageDamages(damages=[damage_pb2.Damage(score=0.5)], damage_gate_passed=True,
                                      damage_probability=probability)
    assert routing.car_evidence(damages) is expected
    assert routing.car_evidence(damage_pb2.ImageDamages(vehicles=[damage_pb2.Vehicle(of_interest=True)]))
