"""Per-character scores come from the recogniser's own CTC probabilities, aligned with the line's text."""

from __future__ import annotations

from dataclasses import dataclass, field

from picloss.engines.ocr.engine import _char_scores


@dataclass
class WordInfo:  # the shape of rapidocr's ch_ppocr_rec WordInfo: one probability per decoded character
    confs: list[float] = field(default_factory=list)


def test_scores_skip_spaces_without_shifting() -> None:
    # '准驾车型 A1': the space has its own probability (0.5); 'A' keeps 0.99 and '1' keeps 0.8 (the old pairing
    # with word characters gave 'A' the space's score and '1' the A's)
    assert _char_scores("准驾车型 A1", WordInfo([0.9, 0.9, 0.9, 0.9, 0.5, 0.99, 0.8])) == (0.9, 0.9, 0.9, 0.9, 0.99,
                                                                                              0.8)


def test_misaligned_or_missing_scores_are_unknown() -> None:
    assert _char_scores("AB", WordInfo([0.9])) is None
    assert _char_scores("AB", None) is None
