"""`make eval-docs`: photo classification + document OCR on data never used for training.

- OCR: a fresh rendered set (seed 303, >= 500 documents, mild realism) and a smaller hard set (seed 404:
  strong blur, noise, low JPEG quality), through the OCR service's own code (services.ocr.reader);
- classification: rendered documents and OTHER scenes (seed 202), the real car photos of the val/valid
  splits minus DUPLICATES.tsv, and the VIN photos of the evaluation half of vin_plates.
Results are printed and written to docs/benchmarks.md (section "Documents (make eval-docs)").
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import subprocess
import time
from collections import Counter
from pathlib import Path

from picloss.documents.classes import DOCUMENT_CLASSES, resolve_class
from picloss.imaging import decode_image
from services.classifier.classify import classify
from services.classifier.model_spec import CLASSES, PHOTO_CLASSIFIER
from services.ocr.engine import OcrEngine
from services.ocr.reader import read_document
from training.documents.classifier_data import examples, vin_paths
from training.documents.photo_effects import HARD, MILD, Realism
from training.documents.render import render_set
from training.documents.report import FieldScores, confusion_table, write_section

REPO = Path(__file__).resolve().parents[2]


def evaluate_ocr(engine: OcrEngine, count: int, seed: int, realism: Realism) -> tuple[FieldScores, dict]:
    scores = FieldScores()
    latencies: list[float] = []
    no_field = 0
    detected = Counter()
    for doc in render_set(count, seed, realism):
        data = doc.jpeg()
        start = time.perf_counter()
        rgb = decode_image(data).rgb
        result = read_document(engine, rgb, doc.image_class)
        latencies.append(time.perf_counter() - start)
        got = {f.name: (f.value, f.confidence) for f in result.fields}
        no_field += not result.fields
        detected["agrees" if result.detected_class is None else "other"] += 1
        scores.add(doc.image_class, doc.truth, got)
    stats = {"n": count, "median_s": statistics.median(latencies),
             "p90_s": sorted(latencies)[int(0.9 * len(latencies)) - 1], "no_field": no_field,
             "detected_other": detected["other"]}
    return scores, stats


def evaluate_real_vins(engine: OcrEngine) -> dict[str, float]:
    """The real VIN photos of the evaluation half carry no transcription: count what was found."""
    found = valid = 0
    paths = vin_paths("eval")
    latencies = []
    for path in paths:
        start = time.perf_counter()
        result = read_document(engine, decode_image(path.read_bytes()).rgb, "VIN")
        latencies.append(time.perf_counter() - start)
        vin = next((f for f in result.fields if f.name == "vin"), None)
        found += vin is not None and len(vin.value) == 17
        valid += vin is not None and vin.validated
    return {"n": len(paths), "found17": found / len(paths), "validated": valid / len(paths),
            "median_s": statistics.median(latencies)}


def evaluate_classifier(per_document_class: int, other: int, threads: int,
                        engine: OcrEngine) -> tuple[list[tuple[str, str]], list[tuple[str, str]], float]:
    """(truth, classifier) pairs, (truth, classifier + OCR keywords) pairs, median seconds per photo.

    The second list is what the pipeline does: a photo classified as a document is OCRed with that
    class, and the class the OCR text names (detected_class) wins (picloss.documents.classes).
    """
    from picloss.inference import OnnxRunner

    runner = OnnxRunner(PHOTO_CLASSIFIER, REPO / "models", threads=threads)
    pairs: list[tuple[str, str]] = []
    combined: list[tuple[str, str]] = []
    latencies = []
    items = examples("eval", per_document_class, other)
    for i in range(0, len(items), 16):
        chunk = items[i:i + 16]
        images = [item.load() for item in chunk]
        start = time.perf_counter()
        predictions = asyncio.run(classify(runner, images))
        latencies.append((time.perf_counter() - start) / len(chunk))
        for item, rgb, p in zip(chunk, images, predictions, strict=True):
            pairs.append((item.label, p.image_class))
            detected = None
            if p.image_class in DOCUMENT_CLASSES:
                detected = read_document(engine, rgb, p.image_class).detected_class
            combined.append((item.label, resolve_class(p.image_class, detected)))
    return pairs, combined, statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--hard", type=int, default=100)
    parser.add_argument("--cls-per-document-class", type=int, default=100)
    parser.add_argument("--cls-other", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    os.environ["PICLOSS_ORT_THREADS"] = str(args.threads)

    engine = OcrEngine(threads=args.threads)
    engine.warm_up()
    pairs, combined, cls_latency = evaluate_classifier(args.cls_per_document_class, args.cls_other,
                                                       args.threads, engine)
    cls_acc = sum(t == p for t, p in pairs) / len(pairs)
    combined_acc = sum(t == p for t, p in combined) / len(combined)
    print(f"classification accuracy {cls_acc:.4f} (with OCR keywords {combined_acc:.4f}) on {len(pairs)} photos")
    mild, mild_stats = evaluate_ocr(engine, args.documents, 303, MILD)
    hard, hard_stats = evaluate_ocr(engine, args.hard, 404, HARD)
    real_vin = evaluate_real_vins(engine)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO).stdout.strip() or "unknown"
    body = [
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC at commit `{commit}` (plus the working tree), "
        f"{os.cpu_count()} CPU cores, onnxruntime threads = {args.threads}.",
        "",
        f"### Photo classification: accuracy **{cls_acc:.4f}** on {len(pairs)} photos "
        f"(median {cls_latency * 1000:.0f} ms per photo in batches of 16)",
        "",
        "Rendered documents and OTHER scenes use evaluation seeds never used in training; DAMAGE is the",
        "damage_severity val + damaged_parts valid photos minus every DUPLICATES.tsv entry; VIN is the",
        "evaluation half (odd positions by file name) of vin_plates/valid.",
        "",
        "Image classifier alone:",
        "",
        *confusion_table(CLASSES, pairs),
        "",
        f"Classifier + OCR keywords (the pipeline: a photo classified as a document is OCRed and the class its "
        f"text names wins, `picloss.documents.classes.resolve_class`): accuracy **{combined_acc:.4f}**",
        "",
        *confusion_table(CLASSES, combined),
        "",
        f"### OCR on {mild_stats['n']} rendered documents (mild realism, seed 303)",
        "",
        f"Latency per photo (decode + OCR + extraction + validation): median **{mild_stats['median_s']:.3f} s**,"
        f" p90 {mild_stats['p90_s']:.3f} s; photos with no field (2001): {mild_stats['no_field']}; "
        f"photos whose text named another class: {mild_stats['detected_other']}.",
        "",
        *mild.table(),
        "",
        f"### OCR on {hard_stats['n']} hard rendered documents (strong blur/noise/JPEG, seed 404)",
        "",
        f"Median {hard_stats['median_s']:.3f} s per photo; no field (2001): {hard_stats['no_field']}.",
        "",
        *hard.table(),
        "",
        f"### Real VIN photos (vin_plates, evaluation half, {real_vin['n']} photos, 256x256, no transcription)",
        "",
        f"A 17-character VIN was read on {real_vin['found17']:.1%} of the photos; "
        f"{real_vin['validated']:.1%} passed the GB 16735 check digit (most of these plates are Russian-market "
        f"VINs without a valid check digit, so a failed check is expected and reported with low confidence); "
        f"median {real_vin['median_s']:.3f} s per photo. Exactness cannot be measured without transcriptions.",
    ]
    print("\n".join(body))
    write_section(args.out, body)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
