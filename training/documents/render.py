"""Render fake document photos with their ground truth (fixed seed).

    python -m training.documents.render --out /tmp/docs --count 20 --seed 1
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from picloss.protocol.codes import DOCUMENT_CLASSES
from training.documents.layouts import RENDERERS
from training.documents.photo_effects import MILD, Realism, encode_jpeg, to_photo

# DOCUMENT_CLASSES is also imported from here (classifier_data.py): one renderer per class, in order.
assert tuple(RENDERERS) == DOCUMENT_CLASSES, "a renderer for every document class, in the protocol's order"


@dataclass(frozen=True)
class RenderedDocument:
    image_class: str
    rgb: np.ndarray
    truth: dict[str, str]

    def jpeg(self, quality: int = 92) -> bytes:
        return encode_jpeg(self.rgb, quality)


def render_document(image_class: str, rng: random.Random, realism: Realism = MILD,
                    size: tuple[int, int] | None = None) -> RenderedDocument:
    card = RENDERERS[image_class](rng)
    return RenderedDocument(str(image_class), to_photo(card.image, rng, realism, size), card.truth)


def render_set(count: int, seed: int, realism: Realism = MILD) -> list[RenderedDocument]:
    """`count` documents cycling through the classes, reproducible from `seed`."""
    rng = random.Random(seed)
    return [render_document(DOCUMENT_CLASSES[i % len(DOCUMENT_CLASSES)], rng, realism) for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i, doc in enumerate(render_set(args.count, args.seed)):
        name = f"{i:04d}_{doc.image_class}.jpg"
        (args.out / name).write_bytes(doc.jpeg())
        truth[name] = {"image_class": doc.image_class, "fields": doc.truth}
    (args.out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1))
    print(f"wrote {args.count} photos to {args.out}")


if __name__ == "__main__":
    main()
