"""The load `make monitor-check` puts on the stack so that every dashboard panel and alert gets data: SINGLE and
BATCH requests on real and rendered photos, failing callbacks, refused requests, queries and a refused model
RPC."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from picloss.protocol.endpoints import REQUEST_PATH


@dataclass
class LoadReport:
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    delivered: int = 0
    failed_deliveries: int = 0
    model_rpc_errors: int = 0
    photos: int = 0


def document_on_car(car: bytes, image_class: str, seed: int, width_fraction: float = 0.55) -> bytes:
    """A rendered document (invented contents) lying on a car photo, filling `width_fraction` of its width in
    the bottom right corner: the classifier calls such a photo DAMAGE (a car) but doubts it, the OCR text
    check then finds the document, so the orchestrator switches its class (picloss_class_switches_total)."""
    import io
    import random

    from PIL import Image

    from devkit.photos import document_jpeg

    base = Image.open(io.BytesIO(car)).convert("RGB")
    doc = Image.open(io.BytesIO(document_jpeg(image_class, random.Random(seed)))).convert("RGB")
    width = int(base.width * width_fraction)
    height = min(base.height - 10, int(doc.height * width / doc.width))
    base.paste(doc.resize((width, height)), (base.width - width - 5, base.height - height - 5))
    out = io.BytesIO()
    base.save(out, format="JPEG", quality=90)
    return out.getvalue()


def load_photos() -> dict[str, bytes]:
    """The demo's sample photos (rendered documents, real damage photos of ../shared/datasets when it is
    there) plus real VIN plates and clean cars, so every stage gets work, and documents lying on a car, so
    the class routing switches some."""
    from devkit.demo import sample_photos
    from loadtest.photos import DATASETS

    photos = sample_photos()
    cars = [v for k, v in photos.items() if k.startswith(("car_", "drawn_car"))]
    for c, car in enumerate(cars[:3:2]):  # a few: not every one is doubted by the classifier
        for i, image_class in enumerate(("IDCARD_BACK", "DRIVING_LICENSE", "DRIVER_LICENSE", "VIN")):
            photos[f"on-car-{c}-{image_class.lower()}.jpg"] = document_on_car(car, image_class, seed=11 + i)
    for folder, count in ((DATASETS / "vin_plates/valid/images", 2),
                          (DATASETS / "clean_cars/vehicles/valid/images", 2)):
        if folder.is_dir():
            for path in sorted(folder.glob("*.jpg"))[:count]:
                photos[f"{folder.parts[-3]}-{path.name}"] = path.read_bytes()
    return photos


async def put_load(stack: Any, singles: int = 8, batches: int = 3) -> LoadReport:
    """SINGLE requests (every photo once) and BATCH requests with real photos; two of them to a callback URL
    that always fails (the dispatcher then retries and gives up: DELIVERY_FAILED); refused requests (bad
    signature, unknown appid) and queries; one model RPC the OCR service refuses. Waits until every callback
    arrived or failed."""
    import grpc

    from devkit.client import PiclossClient
    from devkit.photos import PhotoServer
    from devkit.receiver import Behaviour, CallbackReceiver
    from devkit.stack import DEMO_APPID, DEMO_MCHID
    from picloss.rpc.ocr.v1 import ocr_pb2, ocr_pb2_grpc

    report = LoadReport()

    async def refused_rpc() -> None:
        """An RPC the OCR service refuses (INVALID_ARGUMENT: not a document class): the model error series."""
        ocr_port = stack.s.grpc_ports.get("ocr")
        if "ocr" not in stack.procs or not ocr_port:
            return
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ocr_port}") as channel:
            try:
                await ocr_pb2_grpc.OcrServiceStub(channel).ReadDocument(ocr_pb2.ReadDocumentRequest(), timeout=10)
            except grpc.aio.AioRpcError:
                report.model_rpc_errors += 1

    server = await PhotoServer().start()
    receiver = await CallbackReceiver(keys=[stack.key]).start()
    receiver.behaviours["/always-fail"] = Behaviour(always_fail=True)
    try:
        names = []
        for name, data in load_photos().items():
            server.add(name, data)
            names.append(name)
        report.photos = len(names)
        ca = str(stack.cert_file) if stack.s.tls else None
        async with PiclossClient(stack.gateway_url, DEMO_APPID, DEMO_MCHID, stack.key, ca_cert=ca) as client:
            plans: list[tuple[str, list[str], str]] = []
            for i in range(max(singles, len(names))):  # every photo at least once
                plans.append(("SINGLE", [names[i % len(names)]], "/always-fail" if i == 1 else "/cb"))
            for b in range(batches):
                chosen = [names[(b * 3 + k) % len(names)] for k in range(4)]
                plans.append(("BATCH", chosen, "/always-fail" if b == 0 else "/cb"))
            waits = []
            for model, chosen, path in plans:
                reply = await client.submit([server.file_desc(n) for n in chosen], model, receiver.url(path))
                if reply.body.get("result_code") != "SUCCESS":
                    raise RuntimeError(f"{model} not accepted: {reply.status} {reply.body}")
                report.accepted += 1
                waits.append((reply.body["accept_seqno"], path))
            # refused: a wrong signature, an unknown appid; and queries (the query endpoint's series)
            for _ in range(3):
                bad = await client.post_raw(REQUEST_PATH,
                                            json.dumps(client.envelope(req_seqno=uuid.uuid4().hex)).encode(),
                                            signature="0" * 64)
                code = str(bad.body.get("result_code"))
                report.refused[code] = report.refused.get(code, 0) + 1
            stranger = PiclossClient(stack.gateway_url, "no-such-app", DEMO_MCHID, stack.key, ca_cert=ca)
            async with stranger:
                reply = await stranger.query(req_seqno="nothing")
                code = str(reply.body.get("result_code"))
                report.refused[code] = report.refused.get(code, 0) + 1
            for accept_seqno, _ in waits[:3]:
                await client.query(accept_seqno=accept_seqno)
            await refused_rpc()
            for accept_seqno, path in waits:
                if path == "/always-fail":
                    await receiver.wait_for(accept_seqno, attempts=7, timeout_s=600)
                    report.failed_deliveries += 1
                else:
                    await receiver.wait_for(accept_seqno, timeout_s=600)
                    report.delivered += 1
            for accept_seqno, _ in waits[-2:]:
                await client.query(accept_seqno=accept_seqno)
            await refused_rpc()  # a second one, seconds after the first: the error rate is above 0 in between
    finally:
        await receiver.stop()
        await server.stop()
    return report
