"""Read a VIN plate properly (issue 22): the VIN line found by the OCR's own text boxes, rectified, enlarged and
read again in several contrasts, then a consensus of the reads, character by character.

One OCR pass finds the text boxes. Every box whose text could hold a VIN (ten or more Latin letters and digits) is
cut out of the photo along its four corners with a small margin (a perspective warp: a plate photographed at an angle
becomes a straight line), enlarged to the recogniser's line height and read again as it is, with its contrast
inverted (white stamped or printed characters on a dark plate) and contrast-stretched (CLAHE on grey: faded or
low-light plates). A small photo (a thumbnail, a cropped plate: characters a few pixels high) is enlarged and its
text boxes found again by the detector alone; only the long boxes (a VIN line is long) are read, once each, and the
VIN-like ones again inverted and contrast-stretched. Each read, and the first pass's own, yields 17-character
candidates (`extract._vin_candidates`). The reads that are the same VIN up to a few characters vote per position
with the recogniser's probabilities; the winner of each position scores its probabilities summed over the reads
divided by the number of reads, so a character the reads disagree on, or read unsure in most of them, stays below
0.9: it is the only kind of character `vin.check_vin` may change (confusion groups, the other reads' characters, a
listed WMI, the check digit where the market has one). The read returned carries, per character, the highest
probability any read gave it, at most DISPUTED where some read gave another character, and how many reads gave
exactly the final value (`FieldRead.agreeing`): validators._vin_rule lets a VIN without check digit reach 0.9 only
when several reads gave it character for character, no read disputed any character, some read was sure of each
(and the reads on average, for a character of a commonly confused pair after the WMI: `proof_scores`), its WMI is
listed and nothing was corrected.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from picloss.domain.documents.model import FieldRead
from picloss.domain.documents.vin import FORCED, WMI_LENGTH, check_vin, compact_vin, confusable_at, uses_check_digit
from picloss.engines.ocr.engine import OcrEngine, OcrLine
from picloss.engines.ocr.extract import _vin_candidates
from picloss.engines.ocr.layout import Row, group_rows

MIN_LATIN = 10  # a box with fewer Latin letters and digits cannot hold a VIN
LINE_HEIGHT = 64  # crops are enlarged to this height (the recogniser reads 48-pixel lines; a margin is kept)
# Of the box height: above/below, left/right. The detector's boxes are already grown around the text (DB unclip);
# a wider margin brings the neighbouring lines into the crop and shrinks the characters the recogniser sees (the
# development photos: 0.35/0.25 read 90 of 101 legible VINs exactly, 0.1/0.1 92, 0.2/0.15 88).
MARGIN = (0.1, 0.1)
MAX_LINES = 4  # the most VIN-like boxes re-read per photo (cost bound)
NEAR = 3  # reads of one VIN differ in at most this many positions
MIN_SIDE = 736  # a smaller photo (a thumbnail, a cropped plate) is read again enlarged to this size
MIN_ASPECT = 2.5  # on the enlarged photo only boxes this many times longer than high are read (a VIN line is ~8)
DISPUTED = 0.89  # the most a character some read disputes may score (below LOW_CHAR_SCORE: unsure)


@dataclass(frozen=True)
class VinRead:
    value: str
    score: float  # line score of the read
    char_scores: tuple[float, ...] | None


# Type-approval and certification codes printed on plates above the VIN (TC RU E-RU.MT02.00095, E-BY.117.00065,
# e2*2001/116*0373): compacted, they can look like a VIN.
APPROVAL = re.compile(r"(TC|ТС)\s*(RU|BY|KZ|UA)\b|E-?\s?(RU|BY|KZ|UA|CN)[.\-]|\be\d{1,2}\s*[*'’]|\d/\d+\*", re.I)


def _latin(text: str) -> int:
    return sum(ch.isascii() and ch.isalnum() for ch in text)


# A VIN read with a character or two too many or too few (a separator read as a letter, two characters merged):
# a run of 15 to 19 letters and digits, some of them digits.
NEAR_VIN = re.compile(r"[0-9A-Z]{15,19}")
MIN_DIGITS = 4


def _near_vin(text: str) -> bool:
    runs = NEAR_VIN.findall(compact_vin(text))
    return any(sum(ch.isdigit() for ch in run) >= MIN_DIGITS and not run.isdigit() for run in runs)


# A VIN line even where its VIN does not validate: a whole run of 15 to 19 letters and digits (separators removed)
# ending in four digits (the ISO 3779 serial; I/O/Q read as 1/0/0), holding six digits or more and a letter. A
# watermark or a name with a year in it (D2005CHRISENIDLE), a camera's time stamp (Jul 15,2022 2:05:37 PM), an ID
# number (18 digits) is none.
VIN_LINE = re.compile(r"(?<![0-9A-Z])[0-9A-Z]{11,15}[0-9IOQ]{4}(?![0-9A-Z])")
VIN_LINE_DIGITS = 6


def names_vin(rows: list[Row]) -> bool:
    """The text holds a VIN line (VIN_LINE) outside approval codes."""
    for row in rows:
        for line in row.lines:
            if _latin(line.text) < MIN_LATIN or APPROVAL.search(line.text):
                continue
            runs = [m.group() for m in VIN_LINE.finditer(compact_vin(line.text))]
            if any(sum(ch.isdigit() for ch in run) >= VIN_LINE_DIGITS and not run.isdigit() for run in runs):
                return True
    return False


def vin_boxes(rows: list[Row]) -> list[OcrLine]:
    """The boxes that could hold a VIN, most Latin characters first: those of a row that yields a VIN candidate
    (a VIN cut in two boxes: both), and those whose text is a VIN up to a character or two. Make names, plate
    headings and type-approval codes are left out: half the ten-Latin-character boxes of the development photos,
    read again for nothing."""
    lines = [line for row in rows for line in row.lines
             if _latin(line.text) >= MIN_LATIN and not APPROVAL.search(line.text)
             and (_near_vin(line.text) or _reads_of([row]))]
    return sorted(lines, key=lambda line: -_latin(line.text))[:MAX_LINES]


def rectify(image: np.ndarray, box: np.ndarray, height: int = LINE_HEIGHT) -> np.ndarray:
    """The box's quadrilateral, widened by MARGIN, warped to a straight line `height` pixels high."""
    import cv2

    tl, tr, br, bl = (np.asarray(p, dtype=np.float32) for p in box)
    along = (tr - tl + br - bl) / 2
    across = (bl - tl + br - tr) / 2
    w, h = float(np.linalg.norm(along)), float(np.linalg.norm(across))
    if w < 2 or h < 2:
        return np.zeros((height, height, 3), np.uint8)
    u, v = along / w, across / h
    dy, dx = MARGIN[0] * h, MARGIN[1] * h
    src = np.array([tl - u * dx - v * dy, tr + u * dx - v * dy, br + u * dx + v * dy, bl - u * dx + v * dy],
                   dtype=np.float32)
    out_h = height
    out_w = max(height, round((w + 2 * dx) / (h + 2 * dy) * out_h))
    dst = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(image, matrix, (out_w, out_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def variants(crop: np.ndarray) -> list[np.ndarray]:
    """The crop as it is, contrast-inverted, and contrast-stretched (CLAHE on grey)."""
    import cv2

    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    stretched = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(2, 8)).apply(grey)
    return [crop, 255 - crop, np.repeat(stretched[:, :, None], 3, axis=2)]


def _reads_of(lines: list[OcrLine] | list[Row]) -> list[VinRead]:
    rows = [x if isinstance(x, Row) else Row((x,)) for x in lines]
    rows = [Row(tuple(line for line in row.lines if not APPROVAL.search(line.text))) for row in rows]
    return [VinRead(c.value, c.score, c.char_scores) for c in _vin_candidates(rows)]


def _forced(value: str) -> str:
    return "".join(FORCED.get(ch, ch) for ch in value)


def _hamming(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


@dataclass(frozen=True)
class Consensus:
    value: str
    char_scores: tuple[float, ...]  # per position: the winner's probabilities summed over the reads / the reads
    best_scores: tuple[float, ...]  # per position: the highest probability a read gave the winner; DISPUTED at most
    alternatives: tuple[str, ...]  # per position: the other characters some read gave
    agreeing: int  # reads that gave exactly `value`
    reads: int  # reads in the group


def consensus(reads: list[VinRead]) -> list[Consensus]:
    """Groups of reads of one VIN (within NEAR positions of the group's first read, the best-scored reads first),
    each voted position by position; the groups in order of their total weight."""
    ordered = sorted(reads, key=lambda r: -r.score)
    groups: list[list[VinRead]] = []
    for read in ordered:
        value = _forced(read.value)
        for group in groups:
            if _hamming(_forced(group[0].value), value) <= NEAR:
                group.append(read)
                break
        else:
            groups.append([read])
    out = []
    for group in groups:
        total = len(group)
        chars, scores, bests, alts = [], [], [], []
        for i in range(17):
            votes: dict[str, list[float]] = defaultdict(list)
            for read in group:
                votes[_forced(read.value)[i]].append(read.char_scores[i] if read.char_scores is not None
                                                     else read.score)
            best = max(votes, key=lambda c: (sum(votes[c]), max(votes[c])))
            chars.append(best)
            scores.append(round(sum(votes[best]) / total, 4))
            bests.append(round(max(votes[best]) if len(votes) == 1 else min(max(votes[best]), DISPUTED), 4))
            alts.append("".join(c for c in votes if c != best))
        value = "".join(chars)
        agreeing = sum(_forced(r.value) == value for r in group)
        out.append(Consensus(value, tuple(scores), tuple(bests), tuple(alts), agreeing, total))
    weight = {c.value: sum(c.char_scores) * c.reads for c in out}
    return sorted(out, key=lambda c: -weight[c.value])


def proof_scores(value: str, cand: Consensus) -> tuple[float, ...]:
    """The per-character scores the confidence rests on: the best read's (`Consensus.best_scores`), except on a VIN
    without check digit, where a character of a commonly confused pair (V/Y, D/0, B/8, ...: `vin.confusable_at`)
    after the WMI (which the table checks) scores the mean over the reads. One sure read of a character the
    recogniser mixes up is no proof when the other reads of the same line were unsure of it: a consistent misread
    (every read a Y for a V, some of them sure) gives such a mean; on the development photos the one consistent
    misread seen (a D read 0 by every read, best 0.93, mean 0.87) is of this kind."""
    if uses_check_digit(value):
        return cand.best_scores
    return tuple(min(best, mean) if i >= WMI_LENGTH and confusable_at(value, i) else best
                 for i, (best, mean) in enumerate(zip(cand.best_scores, cand.char_scores, strict=True)))


def enlarge(rgb: np.ndarray, min_side: int = MIN_SIDE) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    scale = min_side / max(h, w)
    if scale <= 1:
        return rgb
    return cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)


def aspect(box: np.ndarray) -> float:
    """Length over height of a text box."""
    tl, tr, br, bl = (np.asarray(p, dtype=np.float32) for p in box)
    length = float(np.linalg.norm(tr - tl) + np.linalg.norm(br - bl))
    return length / max(float(np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)), 1.0)


def long_lines(engine: OcrEngine, image: np.ndarray) -> list[OcrLine]:
    """The detector's boxes on `image` that are long enough to hold a VIN line, each read once rectified."""
    boxes = [box for box in engine.detect(image) if aspect(box) >= MIN_ASPECT]
    if not boxes:
        return []
    read = engine.recognize([rectify(image, box) for box in boxes])
    return [OcrLine(line.text, line.score, box, line.char_scores) for line, box in zip(read, boxes, strict=True)]


def read_vin(engine: OcrEngine, image: np.ndarray, rows: list[Row]) -> list[FieldRead]:
    """The photo's VIN from the first pass's rows (both boxes of a row joined too), the long boxes of the photo
    enlarged when it is small, and the re-reads of the VIN-like boxes; nothing when no consensus validates."""
    reads = _reads_of(rows)
    big = enlarge(image)
    if big is not image:
        # characters a few pixels high: the detector needs them larger; the long boxes' reads are the as-is reads
        rows = group_rows(long_lines(engine, big))
        reads += _reads_of(rows)
        crops = [v for line in vin_boxes(rows) for v in variants(rectify(big, line.box))[1:]]
    else:
        crops = [v for line in vin_boxes(rows) for v in variants(rectify(big, line.box))]
    if crops:
        reads += _reads_of(engine.recognize(crops))
    best: tuple[tuple[bool, bool, int, float], FieldRead] | None = None
    for cand in consensus(reads):
        check = check_vin(cand.value, cand.char_scores, cand.alternatives)
        if not check.valid:
            continue
        line_score = max(r.score for r in reads if _hamming(_forced(r.value), cand.value) <= NEAR)
        agreeing = sum(_forced(r.value) == check.value for r in reads)
        # the corrections above used the mean probabilities (a character read unsure by most reads may change); the
        # confidence uses the best read of each character and the reads' disputes (validators._vin_rule)
        read = FieldRead("vin", check.value, round(line_score, 4), corrected=check.corrected,
                         char_scores=proof_scores(check.value, cand), agreeing=agreeing)
        key = (check.checksum, check.wmi, agreeing, sum(cand.char_scores))
        if best is None or key > best[0]:
            best = (key, read)
    return [best[1]] if best else []
