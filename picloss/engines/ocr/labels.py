"""The printed labels of each document type, matched with tolerance to OCR errors, and their English twins.

Field names are the protocol's (PROTOCOL §5): the ID card's English names, the licences' own Chinese
labels. New-style licences print an English sub-label under or next to each Chinese one (Name, Sex,
Nationality, …): those are labels too, never part of a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from picloss.domain.documents.crosscheck import edit_distance
from picloss.domain.documents.fields import documents, fields_of, names

# class -> ((field name, printed Chinese labels, English labels), …), from the table of fields (the documents
# that print labels; a VIN plate's VIN is found by its structure).
LabelSpec = tuple[str, tuple[str, ...], tuple[str, ...]]
LABELS: dict[str, tuple[LabelSpec, ...]] = {
    document: tuple((f.name, f.labels, f.english) for f in fields_of(document) if f.labels)
    for document in documents() if any(f.labels for f in fields_of(document))
}
# Titles that name a document type outright.
TITLES: dict[str, tuple[str, ...]] = {
    "IDCARD_BACK": ("居民身份证",),
    "DRIVER_LICENSE": ("驾驶证",),
    "DRIVING_LICENSE": ("行驶证",),
}
TITLE_TEXT = ("中华人民共和国", "居民身份证", "机动车驾驶证", "机动车行驶证", "驾驶证", "行驶证")
MULTILINE_FIELDS = names(lambda f: f.multiline)
# Labels this long never occur inside a value: they may also be found inside an OCR box.
LONG_LABEL = 4


def chinese_tolerance(label: str) -> int:
    """Edit distance a printed label may be misread by (便用性质 for 使用性质): none for two characters."""
    return 0 if len(label) <= 2 else 1 if len(label) <= 5 else 2


@dataclass(frozen=True)
class LabelHit:
    field: str
    end: int  # characters of the text the label takes
    distance: int
    label: str


def match_chinese_at_start(text: str, labels: dict[str, str], own_box: bool = False) -> LabelHit | None:
    """The printed label the text starts with, allowing OCR errors; longest and closest wins.

    `labels` maps a printed label to its field. A two-character label must be exact, except when the
    label is the whole box (its own box: one misread character allowed).
    """
    best: LabelHit | None = None
    for label, field in labels.items():
        tolerance = chinese_tolerance(label)
        if own_box and len(label) == 2 and len(text) == 2:
            tolerance = 1
        for end in range(max(1, len(label) - tolerance), min(len(text), len(label) + tolerance) + 1):
            head = text[:end]
            if head[0] != label[0] and head[-1] != label[-1]:
                continue  # a misread label keeps its first or last character
            d = edit_distance(head, label)
            if d > tolerance:
                continue
            hit = LabelHit(field, end, d, label)
            if best is None or (d, -len(label), abs(end - len(label))) < \
                    (best.distance, -len(best.label), abs(best.end - len(best.label))):
                best = hit
    return best


def norm_english(text: str) -> str:
    return re.sub(r"[^A-Z]", "", text.upper().replace("0", "O").replace("1", "I")).replace("RN", "M")


def english_tolerance(norm: str) -> int:
    return 0 if len(norm) <= 3 else 1 if len(norm) <= 7 else 2


ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z .:：'’/]*[A-Za-z.:：]|[A-Za-z]")


_TARGETS: dict[int, list[tuple[str, str, int]]] = {}
_MATCHES: dict[tuple[int, str], str | None] = {}


def _targets(labels: dict[str, str]) -> list[tuple[str, str, int]]:
    key = id(labels)
    if key not in _TARGETS:
        _TARGETS[key] = [(t, f, english_tolerance(t)) for t, f in
                         ((norm_english(label), field) for label, field in labels.items())]
    return _TARGETS[key]


def _match_one(norm: str, labels: dict[str, str]) -> str | None:
    best: tuple[int, str] | None = None
    for target, field, tolerance in _targets(labels):
        if abs(len(target) - len(norm)) > tolerance:
            continue
        d = edit_distance(norm, target)
        if d <= tolerance and (best is None or d < best[0]):
            best = (d, field)
    return best[1] if best is not None else None


def match_english(run: str, labels: dict[str, str]) -> str | None:
    """The field whose English label the Latin run is (case, spaces, dots and OCR slips ignored), also a
    run of two glued labels (SexNationality); None when it is not a label. `labels` must be one of the
    cached dicts of this module (results are memoised per dict)."""
    norm = norm_english(run)
    if len(norm) < 3 or len(norm) > 32:
        return None
    key = (id(labels), norm)
    if key not in _MATCHES:
        found = _match_one(norm, labels)
        for cut in range(3, len(norm) - 2) if found is None and len(norm) <= 24 else ():
            left = _match_one(norm[:cut], labels)
            if left is not None and _match_one(norm[cut:], labels) is not None:
                found = left
                break
        if len(_MATCHES) > 100_000:
            _MATCHES.clear()
        _MATCHES[key] = found
    return _MATCHES[key]


@cache
def chinese_labels(image_class: str) -> dict[str, str]:
    return {label: field for field, chinese, _ in LABELS[image_class] for label in chinese}


@cache
def english_labels(image_class: str) -> dict[str, str]:
    return {label: field for field, _, english in LABELS[image_class] for label in english}


@cache
def all_english_labels() -> dict[str, str]:
    return {label: field for specs in LABELS.values() for field, _, english in specs for label in english}
