"""Vehicle identification numbers per ISO 3779, with the check digit in position 9 where the market uses it.

Never invent (issue 10): a VIN is exactly 17 characters of the ISO 3779 alphabet with a plausible structure;
the check digit is mandatory only where the market uses it; a character is changed only when it is a
forced reading (I/O/Q never occur in a VIN) or when it was read with low confidence and exactly one
change inside the OCR confusion groups validates.

Markets with a mandatory check digit (first WMI character, ISO 3780 regions): 1–5 North America
(49 CFR 565) and L China (GB 16735). Everywhere else (Europe W/V/S/T/X/Y/Z, Japan J, Korea K, …)
position 9 is free, so a check-digit failure proves nothing and is never "repaired".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from picloss.documents.confusions import TO_DIGIT, single_substitutions, unique_valid

VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q
CHECK_DIGIT_MARKETS = frozenset("12345L")
LOW_CHAR_SCORE = 0.9  # a character read at a lower probability may be corrected; above, it stays as read
FORCED = {"I": "1", "O": "0", "Q": "0"}
_TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
}
_SHAPE = re.compile(r"^[0-9A-HJ-NPR-Z]{8}[0-9X][0-9A-HJ-NPR-Z]{8}$")
_ALPHABET_17 = re.compile(r"^[0-9A-HJ-NPR-Z]{17}$")
_SEPARATORS = re.compile(r"[\s\-*·.:：_]")
# Words of watermarks and makes read as "VINs" on real photos (4+ letters: a real VIN hardly spells one;
# WWW or COM alone may occur in a real VIN, e.g. LSVSWWWG…).
_WORDS = ("HTTP", "MOTOR", "STOCK", "SHUTTER", "ALAMY", "DREAMS", "PHOTO")


def vin_check_digit(vin: str) -> str:
    total = sum(_TRANSLITERATION[ch] * w for ch, w in zip(vin, VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def is_valid_vin(vin: str) -> bool:
    """17 characters of the alphabet and a correct check digit (whatever the market)."""
    return bool(_SHAPE.match(vin)) and vin_check_digit(vin) == vin[8]


def uses_check_digit(vin: str) -> bool:
    return bool(vin) and vin[0] in CHECK_DIGIT_MARKETS


def plausible_vin(vin: str) -> bool:
    """ISO 3779 structure: 17 characters of the alphabet, the last four characters numeric (ISO 3779
    VIS), at least five digits and one letter, no run of more than 11 letters (a word; 8 letters, an X
    check digit, a model-year and a plant letter do occur: LHGNFLMPXFA577057), no watermark word."""
    if not _ALPHABET_17.match(vin):
        return False
    if not any(ch.isalpha() for ch in vin):
        return False
    if not vin[-4:].isdigit() or sum(ch.isdigit() for ch in vin) < 5:
        return False
    if max(len(run) for run in re.split(r"\d+", vin)) > 11:
        return False
    return not any(word in vin for word in _WORDS)


def vin_passes(vin: str) -> bool:
    """Plausible, and the check digit holds where the market makes it mandatory."""
    return plausible_vin(vin) and (not uses_check_digit(vin) or is_valid_vin(vin))


@dataclass(frozen=True)
class VinCheck:
    value: str
    valid: bool
    corrected: bool
    checksum: bool = False  # validated by a mandatory check digit (not only by its structure)


def compact_vin(raw: str) -> str:
    return _SEPARATORS.sub("", raw).upper()


def _forced(value: str) -> str:
    return "".join(FORCED.get(ch, ch) for ch in value)


def _low(scores: Sequence[float] | None, i: int) -> bool:
    return scores is not None and i < len(scores) and scores[i] < LOW_CHAR_SCORE


def _result(value: str, corrected: bool) -> VinCheck:
    return VinCheck(value, True, corrected, uses_check_digit(value) and is_valid_vin(value))


def check_vin(raw: str, char_scores: Sequence[float] | None = None) -> VinCheck:
    """Validate a read; correct it only in the two sound ways (docstring of the module).

    `char_scores` are the recogniser's probabilities of the characters of the compacted value; without
    them only the forced I/O/Q → 1/0 readings are applied.
    """
    value = compact_vin(raw)
    if len(value) != 17:
        return VinCheck(value, False, False)
    if char_scores is not None and len(char_scores) != 17:
        char_scores = None
    base = _forced(value)
    if vin_passes(base):
        return _result(base, base != value)
    # one change inside the confusion groups, only where the character was unsure; vin_passes needs the check
    # digit only where the market uses it, so a change never serves a check digit the VIN does not carry
    fixed = unique_valid(single_substitutions(base, lambda i, alt: _low(char_scores, i) and alt not in FORCED),
                         vin_passes)
    if fixed is not None:
        return _result(fixed, True)
    return VinCheck(value, False, False)


def digit_readings(value: str) -> str:
    """The digit reading of confusable letters (B→8, S→5, …), for positions that must be digits."""
    return "".join(TO_DIGIT.get(ch, ch) for ch in value)
