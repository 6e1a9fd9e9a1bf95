"""Vehicle identification numbers per ISO 3779 with the GB 16735 check digit in position 9."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from picloss.documents.confusions import ALTERNATIVES, single_substitutions, unique_valid

VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q
_TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
}
_SHAPE = re.compile(r"^[0-9A-HJ-NPR-Z]{8}[0-9X][0-9A-HJ-NPR-Z]{8}$")


def vin_check_digit(vin: str) -> str:
    total = sum(_TRANSLITERATION[ch] * w for ch, w in zip(vin, VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def is_valid_vin(vin: str) -> bool:
    return bool(_SHAPE.match(vin)) and vin_check_digit(vin) == vin[8]


@dataclass(frozen=True)
class VinCheck:
    value: str
    valid: bool
    corrected: bool


def _allowed(i: int, ch: str) -> bool:
    if i == 8:
        return ch.isdigit() or ch == "X"
    return ch in VIN_ALPHABET


def check_vin(raw: str) -> VinCheck:
    """Validate, correcting OCR confusions only when exactly one candidate validates.

    I/O/Q never occur in a VIN, so each must be one of its look-alikes; then every single
    substitution of another confusable character is tried.
    """
    value = re.sub(r"[\s\-*·.]", "", raw).upper()
    if is_valid_vin(value):
        return VinCheck(value, True, False)
    if len(value) != 17:
        return VinCheck(value, False, False)
    bases = list(_forced_readings(value))
    fixed = unique_valid(iter(bases), is_valid_vin)
    if fixed is None and not any(is_valid_vin(b) for b in bases):
        fixed = unique_valid((c for b in bases for c in single_substitutions(b, _allowed)), is_valid_vin)
    if fixed is not None:
        return VinCheck(fixed, True, True)
    return VinCheck(value, False, False)


def _forced_readings(value: str) -> list[str]:
    """Every reading where each forbidden letter (I, O, Q) is replaced by an allowed look-alike."""
    options = []
    for i, ch in enumerate(value):
        if _allowed(i, ch):
            options.append(ch)
        else:
            options.append("".join(a for a in ALTERNATIVES.get(ch, "") if _allowed(i, a)))
    if any(not o for o in options):
        return []
    return ["".join(p) for p in itertools.product(*options)][:256]
