"""`make demo`: start the whole stack on 127.0.0.1, submit a SINGLE and a BATCH request for sample photos
(or the user's own with --photos DIR), receive both signed callbacks, print them readably, write the
reviewer's HTML report of each (printing `report: PATH.html`), stop the stack.

Sample photos: fake documents rendered by training/documents (ID card front and back, driver licence,
vehicle licence, VIN plate; invented contents, never real documents) and, when ../shared/datasets is
beside the checkout, three real car-damage photos of its validation split (read in place, never copied;
CC BY 4.0, see docs/models.md). Without it, a drawn car stands in for a car photo.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devkit.client import PiclossClient
from devkit.photos import PhotoServer, drawn_car_jpeg, rendered_document
from devkit.receiver import CallbackReceiver
from devkit.stack import DEMO_APPID, DEMO_MCHID, REPO_ROOT, Stack, StackSettings
from picloss.client.report import write_report
from picloss.client.sdk.masking import shown
from picloss.protocol.codes import DOCUMENT_CLASSES
from picloss.protocol.components import component_name
from picloss.protocol.results import parse_callback, parse_query

DATASET_VAL = REPO_ROOT.parent / "shared" / "datasets" / "damage_severity" / "images" / "val"


def sample_photos(rng: random.Random | None = None, printed: dict[str, dict[str, str]] | None = None
                  ) -> dict[str, bytes]:
    """The demo's claim: one rendered document per document class (seed 7 unless `rng`), then the car photos;
    `printed` receives what each document shows (tests/e2e/test_privacy_e2e.py searches for it)."""
    rng = rng or random.Random(7)
    photos = {}
    for cls in DOCUMENT_CLASSES:
        photos[f"{cls.lower()}.jpg"], truth = rendered_document(cls, rng)
        if printed is not None:
            printed[f"{cls.lower()}.jpg"] = truth
    cars = sorted(DATASET_VAL.glob("*.jpg"))[:3] if DATASET_VAL.is_dir() else []
    for i, path in enumerate(cars):
        photos[f"car_{i}.jpg"] = path.read_bytes()
    if not cars:
        photos["drawn_car.jpg"] = drawn_car_jpeg()
    return photos


def user_photos(folder: Path) -> dict[str, bytes]:
    from devkit.photos import PHOTO_SUFFIXES

    found = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix.lower() in PHOTO_SUFFIXES}
    if not found:
        raise SystemExit(f"no photos (*.jpg, *.png, ...) in {folder}")
    return found


def describe(body: dict[str, Any]) -> str:
    lines = [f"accept_seqno {body['accept_seqno']}  req_seqno {body['req_seqno']}  "
             f"result_code {body['result_code']}  ({body['result_msg']})"]
    names = {f["fileid"]: f["fileurl"].rsplit("/", 1)[-1] for f in body.get("files", [])}
    lines.append("  files:")
    for f in body.get("files", []):
        lines.append(f"    {names[f['fileid']]:<24} {f.get('image_class') or '-':<16} code {f['result_code']}")
    for card in body.get("idcards", []):  # personal fields masked, as every print-out (picloss.client.sdk.masking)
        fields = {k: shown(k, v) for k, v in card.items() if k not in ("file", "result_code", "confidences")}
        lines.append(f"  idcard {names[card['file']['fileid']]}: {json.dumps(fields, ensure_ascii=False)}")
    for key in ("driver_licenses", "driving_licenses"):
        for lic in body.get(key, []):
            items = ", ".join(f"{i['item']}={shown(i['item'], i['itemstring'])} ({i['itemconf']:.2f})"
                              for i in lic["items"])
            lines.append(f"  {key[:-1]} {names[lic['file']['fileid']]}: {items}")
    for vin in body.get("vin_infos", []):
        lines.append(f"  vin {names[vin['file']['fileid']]}: {vin.get('vin', '-')} (conf {vin.get('vinconf', 0):.2f})")
    for loss in body.get("single_loss", []):
        lines.append(f"  single_loss {names[loss['file']['fileid']]}: code {loss['result_code']}")
        for d in loss["single_damage"]:
            parts = ", ".join(component_name(c["component_part_id"]) for c in d["component_parts"])
            degree = "replace" if d["damage_degree_id"] else "repair"
            lines.append(f"    {d.get('damage_type', '?'):<8} {degree} ({d['damage_degree_score']}) on {parts} "
                         f"box {[d['boxes'][k] for k in ('xmin', 'ymin', 'xmax', 'ymax')]}")
    batch = body.get("batch_loss")
    if batch:
        lines.append(f"  batch_loss: code {batch['result_code']}")
        for entry in batch["batch_loss_results"]:
            degree = "replace" if entry["damage_degree_id"] else "repair"
            seen = ", ".join(f"{names[ic['file']['fileid']]}×{len(ic['component_damage_boxes'])}"
                             for ic in entry["image_contain"])
            lines.append(f"    {component_name(entry['damage_component_id'])}: {degree}; seen in {seen}")
    return "\n".join(lines)


async def write_demo_report(client: PiclossClient, raw: bytes, photos: dict[str, bytes], out: Path) -> Path:
    """The reviewer's HTML report of one claim, with its photos and its delivery attempts (issue 12)."""
    callback = parse_callback(raw)
    query = None
    for _ in range(50):  # the dispatcher records the delivery just after the receiver's answer
        reply = await client.query(accept_seqno=callback.accept_seqno)
        if reply.body.get("result_code") == "SUCCESS":
            query = parse_query(reply.body)
            if query.state in ("DELIVERED", "DELIVERY_FAILED"):
                break
        await asyncio.sleep(0.2)
    by_id = {f.file.fileid: photos[f.file.name] for f in callback.all_files() if f.file.name in photos}
    return write_report(callback, out, photos=by_id, query=query)


async def run(photos_dir: Path | None, run_dir: Path) -> int:
    photos = user_photos(photos_dir) if photos_dir else sample_photos()
    stack = Stack(StackSettings.ephemeral(run_dir))
    print(f"starting the stack in {run_dir} (broker, PostgreSQL, 4 model services, orchestrator, dispatcher, "
          "HTTPS gateway) ...", flush=True)
    t0 = time.monotonic()
    try:
        await asyncio.to_thread(stack.up)
        print(f"stack up in {time.monotonic() - t0:.1f}s; gateway {stack.gateway_url}", flush=True)
        server = await PhotoServer().start()
        receiver = await CallbackReceiver([stack.key]).start()
        for name, data in photos.items():
            server.add(name, data)
        files = [server.file_desc(name) for name in photos]
        async with PiclossClient(stack.gateway_url, DEMO_APPID, DEMO_MCHID, stack.key, str(stack.cert_file)) as client:
            for model in ("SINGLE", "BATCH"):
                reply = await client.submit(files, model, receiver.url(f"/callback/{model.lower()}"))
                print(f"\n== {model}: {len(files)} photos submitted -> HTTP {reply.status} "
                      f"{reply.body['result_code']} accept_seqno {reply.body.get('accept_seqno')} "
                      f"(response signature {'verified' if reply.signature_ok else 'WRONG'})", flush=True)
                if reply.body["result_code"] != "SUCCESS":
                    return 1
                started = time.monotonic()
                got = await receiver.wait_for(reply.body["accept_seqno"], timeout_s=600)
                callback = got[-1]
                out = run_dir / f"callback-{model.lower()}.json"
                out.write_text(json.dumps(callback.body, ensure_ascii=False, indent=2))
                print(f"callback after {time.monotonic() - started:.1f}s, signature "
                      f"{'verified' if callback.signature_ok else 'WRONG'}; full body in {out}")
                print(describe(callback.body))
                report = await write_demo_report(client, callback.raw, photos, run_dir / f"report-{model.lower()}.html")
                print(f"report: {report}", flush=True)
        await server.stop()
        await receiver.stop()
        return 0
    finally:
        print("\nstopping the stack", flush=True)
        await asyncio.to_thread(stack.down)


def main() -> int:
    parser = argparse.ArgumentParser(prog="devkit.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, help="a folder of your own photos")
    parser.add_argument("--run-dir", type=Path, help="where the stack keeps its data and logs")
    args = parser.parse_args()
    run_dir = (args.run_dir or Path(tempfile.mkdtemp(prefix="picloss-demo-"))).resolve()
    return asyncio.run(run(args.photos, run_dir))


if __name__ == "__main__":
    sys.exit(main())
