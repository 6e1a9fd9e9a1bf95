"""`make eval-docs`: photo classification + document OCR on data the project never trained or tuned on.

- HELD-BACK family (`heldout_layouts.py`, fonts training never sees): per class x degradation level x framing
  (photo on a background / frame-filling scan / tight crop), upright, plus turned 90/180/270 degrees. Never used
  for training, model selection or any threshold; reported separately from
- the TRAINING families (A = `layouts.py`, B = `layouts_b.py`) rendered with evaluation seeds (a sanity figure
  only: these templates were trained on);
- real photos: vin_plates/valid (VIN), damage_severity/val + damaged_parts/valid minus every DUPLICATES.tsv entry
  (DAMAGE), clean_cars/*/valid (car photos: DAMAGE class), and OTHER scenes (evaluation seeds).

Classification is reported for the classifier alone and for the pipeline: the orchestrator's own `Pipeline`
(`picloss/engines/pipeline/pipeline.py` + `routing.py`: classifier, OCR text, car detector and damage gate of the
damage service) on in-process model services (`pipeline_eval.py`), so the figure is the class the service reports.
OCR runs on every held-back document with its true class
(`picloss.engines.ocr.reader.read_document`): ID number / VIN / every other field exact per degradation level, wrong
values at confidence >= 0.9 as a share of reported values, median latency per photo.

    nice -n 10 .venv/bin/python -m training.documents.evaluate            # full run (~15 min on 2 cores)
    nice -n 10 .venv/bin/python -m training.documents.evaluate --limit 2 --no-write  # smoke run
    ... --compare-models-dir /tmp/old_photo_classifier_models              # also the old classifier, same photos
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from picloss.domain.documents.fields import FIELDS
from picloss.engines.classifier.classify import classify
from picloss.engines.classifier.classify import decode as classifier_decode
from picloss.engines.models.photo_classifier import CLASSES, PHOTO_CLASSIFIER
from picloss.platform.imaging import decode_image, encode_jpeg
from picloss.protocol.codes import DOCUMENT_CLASSES
from training.documents import heldout_layouts, layouts, layouts_b
from training.documents.classifier_data import _load_file, clean_car_paths, damage_paths, vin_paths
from training.documents.degrade import FRAMINGS, LEVELS, ORIENTATIONS, Degradation, degrade
from training.documents.other_scenes import other_photo
from training.documents.pipeline_eval import InProcessServices, damage_assessor, run_pipeline
from training.documents.report import confusion_table, write_section
from training.documents.vin_text import VinLabel, load_labels
from training.documents.vin_text import lines as vin_text_lines

REPO = Path(__file__).resolve().parents[2]
ID_FIELDS = {(f.document, f.name) for f in FIELDS if f.validator == "id_number"}
VIN_FIELDS = {(f.document, f.name) for f in FIELDS if f.validator == "vin"}
DOC_CLASSES = tuple(c for c in CLASSES if c in DOCUMENT_CLASSES)
FAMILIES = {"heldout": heldout_layouts.RENDERERS, "A": layouts.RENDERERS, "B": layouts_b.RENDERERS}


@dataclass
class Photo:
    group: str  # heldout / train-A / train-B / real-VIN / real-damage / clean-cars / other
    label: str
    load: Callable[[], np.ndarray]
    how: Degradation | None = None
    truth: dict[str, str] = field(default_factory=dict)
    vin_label: VinLabel | None = None  # real VIN photos labelled by eye (vin_text_valid.csv), read with class VIN


def rendered_photos(family: str, per_cell: int, rotated_per_class: int, seed: int,
                    max_cells: int | None = None) -> list[Photo]:
    """per_cell photos for every class x level x framing (upright), plus turned ones per class; `max_cells`
    (smoke runs) keeps an evenly spread subset of the upright cells."""
    out: list[Photo] = []
    renderers = FAMILIES[family]
    for k, label in enumerate(DOC_CLASSES):
        cells = [Degradation(level, framing, 0) for level in LEVELS for framing in FRAMINGS] * per_cell
        if max_cells and len(cells) > max_cells:
            cells = cells[::-(-len(cells) // max_cells)]
        rot_rng = random.Random(seed * 7 + k)
        cells += [Degradation(rot_rng.choice(LEVELS), rot_rng.choice(FRAMINGS), rot_rng.choice(ORIENTATIONS[1:]))
                  for _ in range(rotated_per_class)]
        for i, how in enumerate(cells):
            rng = random.Random(seed * 1_000_003 + k * 10_007 + i)
            card, photo_seed = renderers[label](rng), rng.randrange(2**31)

            def load(card=card, how=how, photo_seed=photo_seed) -> np.ndarray:
                return degrade(card.image, random.Random(photo_seed), how)
            out.append(Photo(family if family == "heldout" else f"train-{family}", label, load, how, card.truth))
    return out


def real_photos(limit: int | None) -> list[Photo]:
    def cap(paths: list[Path]) -> list[Path]:
        return paths[:limit] if limit else paths

    labels = {lab.image: lab for lab in load_labels()}
    out = [Photo("real-VIN", "VIN", _load_file(p), vin_label=labels.get(p.name)) for p in cap(vin_paths("eval"))]
    out += [Photo("real-damage", "DAMAGE", _load_file(p)) for p in cap(damage_paths("eval"))]
    out += [Photo("clean-cars", "DAMAGE", _load_file(p)) for p in cap(clean_car_paths("eval"))]
    return out


def other_photos(count: int, seed: int = 505) -> list[Photo]:
    return [Photo("other", "OTHER", lambda i=i: other_photo(random.Random(seed * 1_000_003 + i))) for i in range(count)]


@dataclass
class Outcome:
    photo: Photo
    predicted: str
    old_predicted: str | None
    pipeline: str | None  # None: the pipeline class was not measured (--no-pipeline)
    fields: dict[str, tuple[str, float]] | None = None  # OCR with the true class (held-back documents)
    ocr_s: float | None = None
    damaged: bool = False  # the pipeline reported damage on the photo
    jpeg_full: str | None = None  # the classifier on the photo sent as JPEG (q90), decoded in full
    # ... decoded as the classifier service decodes it (reduced, picloss.platform.imaging)
    jpeg_service: str | None = None


def run(photos: list[Photo], runner, old_runner, services: InProcessServices, pipeline: bool = True,
        dump: Path | None = None) -> list[Outcome]:
    """Classifier alone (and the old one), the OCR of every held-back document with its true class, and, unless
    `pipeline` is off, the service's final class: the orchestrator's Pipeline on in-process services."""
    outcomes: list[Outcome] = []
    start = time.monotonic()
    out = dump.open("w") if dump else None
    for i in range(0, len(photos), 16):
        chunk = photos[i:i + 16]
        images = [p.load() for p in chunk]
        services.load(images)
        preds = asyncio.run(classify(runner, images))
        jpegs = [encode_jpeg(rgb, quality=90) for rgb in images]  # what the orchestrator sends (as pipeline_eval)
        fulls = asyncio.run(classify(runner, [decode_image(j).rgb for j in jpegs]))
        served = asyncio.run(classify(runner, [classifier_decode(j) for j in jpegs]))
        olds = asyncio.run(classify(old_runner, images)) if old_runner else [None] * len(chunk)
        reads = {j: services.read(str(j), p.label) for j, p in enumerate(chunk)
                 if p.group == "heldout" or p.vin_label is not None}
        files = asyncio.run(run_pipeline(services, images)) if pipeline else [None] * len(chunk)
        for j, (photo, pred, old, f, full, svc) in enumerate(zip(chunk, preds, olds, files, fulls, served,
                                                                   strict=True)):
            read = reads.get(j)
            fields = {x.name: (x.value, x.confidence) for x in read.result.fields} if read else None
            final = str(f.image_class.value) if f is not None and f.image_class is not None else None
            damaged = f is not None and f.damages is not None and len(f.damages.damages) > 0
            outcomes.append(Outcome(photo, pred.image_class, old.image_class if old else None, final, fields,
                                    read.seconds if read else None, damaged, full.image_class, svc.image_class))
            if out:
                out.write(json.dumps({
                    "i": i + j, "group": photo.group, "label": photo.label,
                    "how": [photo.how.level, photo.how.framing, photo.how.orientation] if photo.how else None,
                    "classified": pred.image_class, "scores": {c: round(s, 3) for c, s in pred.scores[:3]},
                    "pipeline": final, "damaged": damaged, "code": int(f.code) if f is not None else None,
                    "vehicles": [(v.kind, round(v.score, 2), v.of_interest) for v in f.damages.vehicles]
                    if f is not None and f.damages is not None else None,
                    "reads": {k[1]: {"text_class": r.result.text_class, "detected": r.result.detected_class,
                                     "fields": len(r.result.fields)} for k, r in services.reads.items()
                              if k[0] == str(j)},
                    "truth_read": {x.name: x.value for x in read.result.fields} if read else None,
                }, ensure_ascii=False) + "\n")
        print(f"  {len(outcomes)}/{len(photos)} photos ({time.monotonic() - start:.0f} s)", flush=True)
    if out:
        out.close()
    return outcomes


def _acc(pairs: list[tuple[str, str | None]]) -> str:
    if any(p is None for _, p in pairs):
        return "not run"
    return f"{sum(t == p for t, p in pairs) / len(pairs):.3f} ({sum(t == p for t, p in pairs)}/{len(pairs)})" \
        if pairs else "-"


def classification_lines(outcomes: list[Outcome], compare: bool) -> list[str]:
    groups = ("heldout", "train-A", "train-B", "real-VIN", "real-damage", "clean-cars", "other")
    head = ("| photos | n | classifier | pipeline (service routing: classifier + OCR text + car detector) |"
            + (" old classifier |" if compare else ""))
    lines = [head, "|---|---|---|---|" + ("---|" if compare else "")]

    def row(name: str, sel: list[Outcome]) -> None:
        if not sel:
            return
        cells = [name, str(len(sel)), _acc([(o.photo.label, o.predicted) for o in sel]),
                 _acc([(o.photo.label, o.pipeline) for o in sel])]
        if compare:
            cells.append(_acc([(o.photo.label, o.old_predicted or "") for o in sel]))
        lines.append("| " + " | ".join(cells) + " |")

    for g in groups:
        sel = [o for o in outcomes if o.photo.group == g]
        row(f"**{g}**", sel)
        if g in ("heldout", "train-A", "train-B"):
            for label in DOC_CLASSES:
                row(f"{g} {label}", [o for o in sel if o.photo.label == label])
            for level in LEVELS:
                row(f"{g} level {level} (upright)",
                    [o for o in sel if o.photo.how.level == level and not o.photo.how.orientation])
            row(f"{g} frame-filling (scan + tight crop, upright)",
                [o for o in sel if o.photo.how.frame_filling and not o.photo.how.orientation])
            for framing in FRAMINGS:
                row(f"{g} framing {framing} (upright)",
                    [o for o in sel if o.photo.how.framing == framing and not o.photo.how.orientation])
            row(f"{g} turned 90/180/270", [o for o in sel if o.photo.how.orientation])
    return lines


def decode_lines(outcomes: list[Outcome]) -> list[str]:
    """The classifier on the photo as the service decodes it (issue 14: decoded once, reduced to the model's size)
    against a full decode of the same JPEG, per set: a reduced decode must not cost accuracy."""
    groups = ("heldout", "train-A", "train-B", "real-VIN", "real-damage", "clean-cars", "other")
    lines = ["### Classifier on the service's reduced decode",
             "",
             "Each photo as the orchestrator sends it (JPEG q90), decoded in full or as the classifier service decodes "
             "it (`picloss.engines.classifier.classify.decode`: JPEG DCT reduction by 1/2-1/8 while both sides stay "
             ">= 448, twice the model's input).",
             "",
             "| photos | n | full decode | service decode | same class |", "|---|---|---|---|---|"]
    for g in groups:
        sel = [o for o in outcomes if o.photo.group == g and o.jpeg_full is not None]
        if sel:
            same = sum(o.jpeg_full == o.jpeg_service for o in sel)
            lines.append(f"| {g} | {len(sel)} | {_acc([(o.photo.label, o.jpeg_full) for o in sel])} | "
                         f"{_acc([(o.photo.label, o.jpeg_service) for o in sel])} | {same / len(sel):.3f} |")
    return [*lines, ""]


def pipeline_lines(outcomes: list[Outcome]) -> list[str]:
    sel = [o for o in outcomes if o.photo.group not in ("train-A", "train-B") and o.pipeline is not None]
    if not sel:
        return []
    docs = [o for o in outcomes if o.photo.label in DOCUMENT_CLASSES and o.photo.group != "real-VIN"
            and o.pipeline is not None]
    damaged = sum(o.damaged for o in docs)
    return ["Held-back documents and real photos, pipeline (the class the service reports):", "",
            *confusion_table(CLASSES, [(o.photo.label, o.pipeline) for o in sel]), "",
            f"Rendered documents (all families) reported with damage by the pipeline: **{damaged}** of {len(docs)}.",
            ""]


def ocr_lines(outcomes: list[Outcome]) -> list[str]:
    docs = [o for o in outcomes if o.photo.group == "heldout" and o.fields is not None]
    if not docs:
        return ["(no held-back documents read)"]

    def bucket(o: Outcome) -> str:
        return "turned" if o.photo.how.orientation else o.photo.how.level

    stats: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    per_field: dict[tuple[str, str], list[bool]] = defaultdict(list)
    # per field and level: exact / missing (no value) / wrong (a value that is not the truth)
    outcome_of: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reported: dict[str, int] = defaultdict(int)
    confident_wrong: dict[str, int] = defaultdict(int)
    confident: dict[str, int] = defaultdict(int)
    for o in docs:
        b = bucket(o)
        for name, value in o.photo.truth.items():
            read = o.fields.get(name)
            ok = read is not None and read[0] == value
            kind = "id" if (o.photo.label, name) in ID_FIELDS else "vin" if (o.photo.label, name) in VIN_FIELDS \
                else "other"
            stats[b][kind].append(ok)
            stats[b]["all"].append(ok)
            per_field[(o.photo.label, name)].append(ok)
            outcome_of[(o.photo.label, name, b)]["exact" if ok else "missing" if read is None else "wrong"] += 1
        for name, (value, conf) in o.fields.items():
            reported[b] += 1
            if conf >= 0.9:
                confident[b] += 1
                if o.photo.truth.get(name) != value:  # a value that is not the truth (or a field not on the card)
                    confident_wrong[b] += 1
        stats[b]["photo all fields exact"].append(all(o.fields.get(n, ("",))[0] == v
                                                      for n, v in o.photo.truth.items()))

    def share(v: list[bool]) -> str:
        return f"{sum(v) / len(v):.3f} ({sum(v)}/{len(v)})" if v else "-"

    lines = ["| held-back level | photos | ID number exact | VIN exact | every other field exact | "
             "all fields of the photo exact | wrong at conf >= 0.9 / reported values |",
             "|---|---|---|---|---|---|---|"]
    for b in (*LEVELS, "turned"):
        if b not in stats:
            continue
        n = sum(1 for o in docs if bucket(o) == b)
        wrong = f"{confident_wrong[b] / reported[b]:.2%} ({confident_wrong[b]}/{reported[b]})" if reported[b] else "-"
        lines.append(f"| {b} | {n} | {share(stats[b]['id'])} | {share(stats[b]['vin'])} | {share(stats[b]['other'])} "
                     f"| {share(stats[b]['photo all fields exact'])} | {wrong} |")
    buckets = (*LEVELS, "turned")
    total_rep, total_wrong = sum(reported.values()), sum(confident_wrong.values())
    latencies = [o.ocr_s for o in docs]
    lines += ["", f"Wrong values at confidence >= 0.9, all held-back photos: **{total_wrong / max(1, total_rep):.2%}** "
              f"({total_wrong} of {total_rep} reported values; {sum(confident.values())} reported at >= 0.9). "
              f"OCR latency per photo (read_document, full-size photo): median **{statistics.median(latencies):.3f} s**"
              f", p90 {sorted(latencies)[max(0, int(0.9 * len(latencies)) - 1)]:.3f} s.", "",
              "Per field: exact over every level, then per level exact / missing (no value returned) / wrong (a value "
              "that is not the truth).", "",
              "| document | field | n | exact | " + " | ".join(f"{b} ex/miss/wrong" for b in buckets) + " |",
              "|---|---|---|---|" + "---|" * len(buckets)]

    def cell(c: str, n: str, b: str) -> str:
        k = outcome_of.get((c, n, b))
        return f"{k['exact']}/{k['missing']}/{k['wrong']}" if k else "-"

    lines += [f"| {c} | {n} | {len(v)} | {sum(v) / len(v):.3f} | " + " | ".join(cell(c, n, b) for b in buckets) + " |"
              for (c, n), v in sorted(per_field.items())]
    return lines


def vin_lines(outcomes: list[Outcome]) -> list[str]:
    """Issue 22: the labelled real VIN photos (`vin_text_valid.csv`), read with class VIN (the OCR service's answer)."""
    sel = [o for o in outcomes if o.photo.vin_label is not None and o.fields is not None]
    if not sel:
        return []
    reads = {}
    for o in sel:
        vin = o.fields.get("vin")
        reads[o.photo.vin_label.image] = (vin[0], vin[1]) if vin else None
    return ["### Real VIN photos read by the OCR (labelled by eye, held out)", "",
            "`training/documents/vin_text_valid.csv`: the VIN of the first 200 photos of `vin_plates/valid` (sorted by "
            "name) read character by character by a person, illegible ones marked and not counted as legible; used "
            "for evaluation only. Read with class VIN (`read_document`). Character accuracy is 1 - edit distance / 17 "
            "over the legible photos where a VIN was returned.", "",
            *vin_text_lines([o.photo.vin_label for o in sel], reads), ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-cell", type=int, default=4, help="held-back photos per class x level x framing")
    parser.add_argument("--rotated", type=int, default=12, help="held-back turned photos per class")
    parser.add_argument("--train-per-cell", type=int, default=1, help="training-family photos per cell")
    parser.add_argument("--other", type=int, default=100)
    parser.add_argument("--limit", type=int, default=None,
                        help="smoke run: at most LIMIT photos per real set and class of each family")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--compare-models-dir", type=Path, default=None,
                        help="a second models dir (e.g. the previous photo_classifier) classified on the same photos")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    parser.add_argument("--no-pipeline", action="store_true",
                        help="skip the service pipeline (OCR of predicted classes, damage and car models; "
                             "pipeline column 'not run'); faster")
    parser.add_argument("--groups", default=None,
                        help="iterate on some sets only, comma-separated: heldout,A,B,real,other (never with a write)")
    parser.add_argument("--dump", type=Path, default=None, help="one JSON line per photo (classes, reads) here")
    args = parser.parse_args()
    if args.limit:
        args.per_cell, args.train_per_cell, args.rotated, args.other = 1, 1, args.limit, args.limit

    from picloss.engines.ocr.engine import OcrEngine
    from picloss.platform.inference import OnnxRunner

    engine = OcrEngine(threads=args.threads)
    engine.warm_up()
    assessor = None if args.no_pipeline else damage_assessor(args.models_dir, args.threads)
    runner = OnnxRunner(PHOTO_CLASSIFIER, args.models_dir, threads=args.threads)
    old_runner = OnnxRunner(PHOTO_CLASSIFIER, args.compare_models_dir, threads=args.threads) \
        if args.compare_models_dir else None
    groups = set((args.groups or "heldout,A,B,real,other").split(","))
    if args.groups and not args.no_write:
        parser.error("--groups is for iterating: use it with --no-write")
    photos = rendered_photos("heldout", args.per_cell, args.rotated, 9001, args.limit) if "heldout" in groups else []
    if "A" in groups:
        photos += rendered_photos("A", args.train_per_cell, max(1, args.rotated // 4), 9101, args.limit)
    if "B" in groups:
        photos += rendered_photos("B", args.train_per_cell, max(1, args.rotated // 4), 9201, args.limit)
    photos += (real_photos(args.limit) if "real" in groups else []) + (other_photos(args.other) if "other" in groups
                                                                       else [])
    started = time.monotonic()
    services = InProcessServices(runner, engine, assessor)
    outcomes = run(photos, runner, old_runner, services, pipeline=not args.no_pipeline, dump=args.dump)
    elapsed = time.monotonic() - started

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO).stdout.strip() or "unknown"
    held = _acc([(o.photo.label, o.predicted) for o in outcomes if o.photo.group == "heldout"])
    body = [
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC at commit `{commit}` (plus the working tree), "
        f"{os.cpu_count()} CPU cores, onnxruntime threads = {args.threads}, {len(photos)} photos in {elapsed:.0f} s"
        f"{' (SMOKE RUN, --limit)' if args.limit else ''}.",
        "",
        "The **held-back family** (`training/documents/heldout_layouts.py`: own templates, AR PL UMing / Noto Serif "
        "CJK fonts that no training photo uses) was never used for training, model selection or any threshold. "
        "Training families A (`layouts.py`) and B (`layouts_b.py`) are shown for comparison only. Levels clean / "
        "mild / hard and framings photo / scan / tight crop come from `training/documents/degrade.py`.",
        "",
        f"### Photo classification (held-back documents, classifier alone: {held})",
        "",
        *classification_lines(outcomes, old_runner is not None),
        "",
        "Held-back documents and real photos, classifier alone:",
        "",
        *confusion_table(CLASSES, [(o.photo.label, o.predicted) for o in outcomes
                                   if o.photo.group not in ("train-A", "train-B")]),
        "",
        *decode_lines(outcomes),
        *pipeline_lines(outcomes),
        *vin_lines(outcomes),
        "### OCR on the held-back family (read with the true class)",
        "",
        *ocr_lines(outcomes),
    ]
    print("\n".join(body))
    if not args.no_write:
        write_section(args.out, body)
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
