"""The real VIN text set (issue 22): VINs of `vin_plates/valid` photos labelled by eye, for evaluation only.

`vin_text_valid.csv` holds one row per photo: the image file name, the VIN read character by character by a
person (empty when illegible), `legible` (1/0), the plate kind (`plate`: a manufacturer's printed or embossed plate
or label, riveted or glued; `sticker`: a paper/foil door-jamb label; `stamped`: punched into the body; `windscreen`)
and a note. A label its author was not sure of is marked illegible, never guessed. Nothing is fitted, tuned or
thresholded on these photos: they are the held-out measure of `make eval-docs`.

Figures on the legible photos: exact VIN, character accuracy (1 - edit distance / 17, over the photos where a VIN
was returned), legible photos with no VIN returned, wrong 17-character VINs at confidence >= 0.9 (the dangerous
case), the share of legible photos reported at >= 0.9 and how many of those are exact.

    nice -n 19 .venv/bin/python -m training.documents.vin_text            # read the labelled photos, print figures
    ... --labels training/documents/vin_text_train_dev.csv --split train  # the development labels (train photos)

`vin_text_train_dev.csv` holds 132 `vin_plates/train` photos labelled the same way (101 legible), for development:
32 first, then 100 `image_*` photos drawn at random (seed 22) from those not yet labelled, the kind of photo the valid
split holds. The reading (picloss/engines/ocr/vin_read.py) and its confidence were tried and tuned on them, never on the
valid labels.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from training.documents.report import char_accuracy

HERE = Path(__file__).resolve().parent
LABELS = HERE / "vin_text_valid.csv"
DEV_LABELS = HERE / "vin_text_train_dev.csv"  # train photos, for development only
CONFIDENT = 0.9
KINDS = ("plate", "sticker", "stamped", "windscreen")


@dataclass(frozen=True)
class VinLabel:
    image: str  # file name in vin_plates/valid/images
    vin: str | None  # None: illegible
    kind: str
    note: str = ""


def load_labels(path: Path = LABELS) -> list[VinLabel]:
    out: list[VinLabel] = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            legible = row["legible"] == "1"
            vin = row["vin"].strip() or None
            if legible != (vin is not None):
                raise ValueError(f"{path}: {row['image']}: legible={row['legible']} but vin={row['vin']!r}")
            if vin is not None and len(vin) != 17:
                raise ValueError(f"{path}: {row['image']}: a labelled VIN has 17 characters, got {vin!r}")
            if row["kind"] not in KINDS:
                raise ValueError(f"{path}: {row['image']}: unknown plate kind {row['kind']!r}")
            out.append(VinLabel(row["image"], vin, row["kind"], row.get("note", "")))
    return out


@dataclass
class VinFigures:
    labelled: int
    legible: int
    exact: int
    returned: int  # legible photos with a VIN returned
    char_accuracy: float | None  # mean over the legible photos with a VIN returned
    confident: int  # legible photos whose VIN was reported at >= 0.9
    confident_exact: int
    confident_wrong_17: int  # wrong 17-character VINs at >= 0.9, legible or not
    illegible_returned: int  # illegible photos for which a VIN was returned anyway
    conf_right: float | None  # mean confidence of exact reads
    conf_wrong: float | None  # mean confidence of wrong reads

    @property
    def no_vin(self) -> int:
        return self.legible - self.returned


def figures(labels: list[VinLabel], reads: Mapping[str, tuple[str, float] | None]) -> VinFigures:
    """`reads`: image name -> (VIN, confidence) as the service reports it, or None when no VIN was returned."""
    legible = [lab for lab in labels if lab.vin is not None]
    exact = returned = confident = confident_exact = wrong17 = illegible_returned = 0
    chars: list[float] = []
    right_conf: list[float] = []
    wrong_conf: list[float] = []
    for lab in labels:
        read = reads.get(lab.image)
        if lab.vin is None:
            if read is not None:
                illegible_returned += 1
            continue
        if read is None:
            continue
        value, conf = read
        returned += 1
        ok = value == lab.vin
        exact += ok
        chars.append(char_accuracy(lab.vin, value))
        (right_conf if ok else wrong_conf).append(conf)
        if conf >= CONFIDENT:
            confident += 1
            confident_exact += ok
            wrong17 += (not ok) and len(value) == 17
    return VinFigures(len(labels), len(legible), exact, returned, statistics.fmean(chars) if chars else None,
                      confident, confident_exact, wrong17, illegible_returned,
                      statistics.fmean(right_conf) if right_conf else None,
                      statistics.fmean(wrong_conf) if wrong_conf else None)


def _share(k: int, n: int) -> str:
    return f"{k / n:.3f} ({k}/{n})" if n else "-"


def _mean(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def lines(labels: list[VinLabel], reads: Mapping[str, tuple[str, float] | None]) -> list[str]:
    """The markdown table of the VIN text set, overall and per plate kind."""
    out = ["| photos | labelled | legible | VIN exact | char accuracy (VIN returned) | legible, no VIN returned | "
           "reported at conf >= 0.9 (of legible) | exact among those | wrong 17-char VINs at conf >= 0.9 | "
           "mean conf right / wrong |",
           "|---|---|---|---|---|---|---|---|---|---|"]

    def row(name: str, sel: list[VinLabel]) -> None:
        if not sel:
            return
        f = figures(sel, reads)
        out.append(f"| {name} | {f.labelled} | {f.legible} | {_share(f.exact, f.legible)} | {_mean(f.char_accuracy)} "
                   f"| {f.no_vin} | {_share(f.confident, f.legible)} | {_share(f.confident_exact, f.confident)} | "
                   f"**{f.confident_wrong_17}** | {_mean(f.conf_right)} / {_mean(f.conf_wrong)} |")

    row("**all**", labels)
    for kind in KINDS:
        row(f"kind {kind}", [lab for lab in labels if lab.kind == kind])
    return out


def read_labelled(labels: list[VinLabel], threads: int = 2,
                  split: str = "valid") -> tuple[dict[str, tuple[str, float] | None], list[float]]:
    """Read every labelled photo as the OCR service does with the VIN class (`read_document`)."""
    from picloss.engines.ocr.engine import OcrEngine
    from picloss.engines.ocr.reader import read_document
    from picloss.platform.imaging import decode_image
    from training.documents.classifier_data import DATASETS

    engine = OcrEngine(threads=threads)
    engine.warm_up()
    folder = DATASETS / f"vin_plates/{split}/images"
    reads: dict[str, tuple[str, float] | None] = {}
    seconds: list[float] = []
    for lab in labels:
        rgb = decode_image((folder / lab.image).read_bytes()).rgb
        t0 = time.perf_counter()
        result = read_document(engine, rgb, "VIN")
        seconds.append(time.perf_counter() - t0)
        vins = [(f.value, f.confidence) for f in result.fields if f.name == "vin"]
        reads[lab.image] = vins[0] if vins else None
    return reads, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--split", choices=("valid", "train"), default="valid", help="the photos' vin_plates split")
    parser.add_argument("--show", action="store_true", help="print every read that is not exact")
    args = parser.parse_args()
    labels = load_labels(args.labels)
    reads, seconds = read_labelled(labels, args.threads, args.split)
    print("\n".join(lines(labels, reads)))
    print(f"median read {statistics.median(seconds):.3f} s")
    if args.show:
        for lab in labels:
            read = reads.get(lab.image)
            if lab.vin is not None and (read is None or read[0] != lab.vin):
                print(f"{lab.image[:14]} truth {lab.vin} read {read}")
            elif lab.vin is None and read is not None:
                print(f"{lab.image[:14]} illegible, read {read}")


if __name__ == "__main__":
    main()
