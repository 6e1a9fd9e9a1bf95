"""Development set for hard photos of bilingual licences (issue 22): training family B with the English sub-label
printed inline after the Chinese one (性别 Sex 女), as new-style licences print it, degraded at one level.

Not an evaluation: family B is a training family and these photos were used to develop the extraction rules for
misread English sub-labels (picloss/engines/ocr/extract.py, `chinese_first` fields). The held-back family
(`make eval-docs`) stays the measure.

    .venv/bin/python -m training.documents.dev_bilingual --level hard --per-framing 2 --seed 4242
"""

from __future__ import annotations

import argparse
import random
import time

import training.documents.layouts_b as family_b
from picloss.engines.ocr.engine import OcrEngine
from picloss.engines.ocr.reader import read_document
from training.documents.degrade import FRAMINGS, LEVELS, Degradation, degrade

CLASSES = ("IDCARD_FRONT", "DRIVER_LICENSE", "DRIVING_LICENSE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--level", choices=LEVELS, default="hard")
    parser.add_argument("--per-framing", type=int, default=2)
    parser.add_argument("--seed", type=int, default=4242)
    args = parser.parse_args()
    family_b.ENGLISH_INLINE = True
    engine = OcrEngine(threads=1)
    engine.warm_up()
    exact: dict[str, list[bool]] = {f: [] for f in FRAMINGS}
    start = time.monotonic()
    for k, label in enumerate(CLASSES):
        for i, framing in enumerate(list(FRAMINGS) * args.per_framing):
            rng = random.Random(args.seed * 1_000_003 + k * 10_007 + i)
            card, photo_seed = family_b.RENDERERS[label](rng), rng.randrange(2**31)
            photo = degrade(card.image, random.Random(photo_seed), Degradation(args.level, framing, 0))
            got = {f.name: f.value for f in read_document(engine, photo, label).fields}
            for name, truth in card.truth.items():
                exact[framing].append(got.get(name) == truth)
                if got.get(name) != truth:
                    print(f"  {label} {framing} #{i} {name}: read {got.get(name)!r}, truth {truth!r}")
    for framing, hits in exact.items():
        print(f"{args.level} {framing}: {sum(hits)}/{len(hits)} fields exact")
    total = [h for hits in exact.values() for h in hits]
    print(f"{args.level} all: {sum(total)}/{len(total)} fields exact ({time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
