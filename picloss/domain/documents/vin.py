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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from picloss.domain.documents.confusions import ALTERNATIVES, TO_DIGIT, unique_valid
from picloss.domain.documents.wmi import known_wmi

VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q
CHECK_DIGIT_MARKETS = frozenset("12345L")
LOW_CHAR_SCORE = 0.9  # a character read at a lower probability may be corrected; above, it stays as read
FORCED = {"I": "1", "O": "0", "Q": "0"}
# Model-year characters of position 10 (ISO 3779 annex, 49 CFR 565.15, GB 16735): no I, O, Q, U, Z or 0.
MODEL_YEAR = frozenset("ABCDEFGHJKLMNPRSTVWXY123456789")
# Glyphs a recogniser mixes up on plates besides the OCR confusion groups (V/W/Y in WVW, X/K/N in X7L, XTA):
# used only where the character was unsure and exactly one reading fits.
PLATE_CONFUSIONS = ("VWY", "XKN", "6G", "EF", "MN", "HN", "UV")
WMI_LENGTH = 3
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
    """Plausible, and where the market makes them mandatory (North America, China), the check digit holds and
    position 10 is a model-year character."""
    return plausible_vin(vin) and (not uses_check_digit(vin) or (is_valid_vin(vin) and vin[9] in MODEL_YEAR))


@dataclass(frozen=True)
class VinCheck:
    value: str
    valid: bool
    corrected: bool
    checksum: bool = False  # validated by a mandatory check digit (not only by its structure)
    wmi: bool = False  # its world manufacturer identifier is a listed one (picloss/domain/documents/wmi.py)


def compact_vin(raw: str) -> str:
    return _SEPARATORS.sub("", raw).upper()


def _forced(value: str) -> str:
    return "".join(FORCED.get(ch, ch) for ch in value)


def _low(scores: Sequence[float] | None, i: int) -> bool:
    return scores is not None and i < len(scores) and scores[i] < LOW_CHAR_SCORE


def _result(value: str, corrected: bool) -> VinCheck:
    checksum = uses_check_digit(value) and is_valid_vin(value)
    return VinCheck(value, True, corrected, checksum, known_wmi(value) is not None)


_PLATE_ALTERNATIVES = {ch: group.replace(ch, "") for group in PLATE_CONFUSIONS for ch in group}


def confusable_at(value: str, i: int) -> bool:
    """Could the character at `i` be a commonly confused one (OCR groups, plate glyphs) misread, by the structure?
    Only when one of its confused readings still gives a plausible VIN: a digit of the numeric serial (the last four
    characters) is proven a digit by ISO 3779 itself."""
    ch = value[i]
    options = ALTERNATIVES.get(ch, "") + _PLATE_ALTERNATIVES.get(ch, "")
    return any(alt in VIN_ALPHABET and plausible_vin(value[:i] + alt + value[i + 1:]) for alt in options)


def _substitutions(value: str, positions: range, unsure: Callable[[int], bool],
                   others: Sequence[str] | None) -> Iterator[str]:
    """Every string differing from `value` in one unsure position: a confusable character or one another read gave."""
    for i in positions:
        if not unsure(i):
            continue
        options = ALTERNATIVES.get(value[i], "") + _PLATE_ALTERNATIVES.get(value[i], "") + (others[i] if others else "")
        for alt in dict.fromkeys(options):
            if alt != value[i] and alt in VIN_ALPHABET:
                yield value[:i] + alt + value[i + 1:]


def check_vin(raw: str, char_scores: Sequence[float] | None = None,
              alternatives: Sequence[str] | None = None) -> VinCheck:
    """Validate a read; correct it only in the sound ways (docstring of the module).

    `char_scores` are the recogniser's probabilities of the characters of the compacted value, `alternatives`
    per position the characters other reads of the same photo gave (picloss/engines/ocr/vin_read.py); a position is
    unsure when its probability is below LOW_CHAR_SCORE or the reads disagree there. Without either, only the
    forced I/O/Q → 1/0 readings are applied.
    """
    value = compact_vin(raw)
    if len(value) != 17:
        return VinCheck(value, False, False)
    if char_scores is not None and len(char_scores) != 17:
        char_scores = None
    if alternatives is not None and len(alternatives) != 17:
        alternatives = None

    def unsure(i: int) -> bool:
        return _low(char_scores, i) or bool(alternatives and alternatives[i])

    base = _forced(value)
    if known_wmi(base) is None:
        # an unlisted WMI read unsure (WWW for WVW, K7L for X7L, 294 for Z94): the one listed reading, if only one
        # fits; before the check digit, which a misread WMI may satisfy by chance or put in another market
        fixed = unique_valid(_substitutions(base, range(WMI_LENGTH), unsure, alternatives),
                             lambda v: known_wmi(v) is not None and vin_passes(v))
        if fixed is not None:
            return _result(fixed, True)
    if vin_passes(base):
        return _result(base, base != value)
    # one change where the character was unsure; vin_passes needs the check digit only where the market uses it,
    # so a change never serves a check digit the VIN does not carry
    # and never one that moves the VIN into or out of a check-digit market (191… failing its check digit is no 791…)
    market = uses_check_digit(base)
    fixed = unique_valid(_substitutions(base, range(17), unsure, alternatives),
                         lambda v: uses_check_digit(v) == market and vin_passes(v))
    if fixed is not None:
        return _result(fixed, True)
    return VinCheck(value, False, False)


def digit_readings(value: str) -> str:
    """The digit reading of confusable letters (B→8, S→5, …), for positions that must be digits."""
    return "".join(TO_DIGIT.get(ch, ch) for ch in value)
