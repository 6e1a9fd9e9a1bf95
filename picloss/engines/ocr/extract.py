"""Field extraction per document type from rows of OCR boxes, without a fixed layout.

Labels are recognised by POSITION (issue 10): at the start of an OCR box, as their own box, after a
gap inside a box (the OCR's space; exact labels only: 于涛嘉 性别 Sex 女), after a closed value that ends
inside a box (性别男民族汉), or, for labels of four characters or more that never
occur in a value (号牌号码, 车辆识别代号…), anywhere in a box. A two-character label found inside a
value (民族 in 民族大道) is text, not a label. Labels at a box start are matched with tolerance to OCR
errors (便用性质 → 使用性质), and only when what follows could be the field's value. English sub-labels
(Name, Sex, License No., …) are labels too: they start a field or are dropped, never kept in a value.
A value is what follows its label in the same box, the next boxes of its row, or the box below it when
the label stands alone; addresses continue on the rows below, in the value column.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from picloss.domain.documents.crosscheck import edit_distance
from picloss.domain.documents.dates import normalize_date
from picloss.domain.documents.fields import FIELDS, NATIONS, document_field, fields_of, names
from picloss.domain.documents.model import FieldRead
from picloss.domain.documents.validators import VIN_FIELDS
from picloss.domain.documents.vin import check_vin, compact_vin
from picloss.engines.ocr.engine import OcrLine
from picloss.engines.ocr.labels import (
    ENGLISH_RUN,
    LABELS,
    LONG_LABEL,
    MULTILINE_FIELDS,
    TITLE_TEXT,
    TITLES,
    LabelHit,
    all_english_labels,
    chinese_labels,
    english_labels,
    match_chinese_at_start,
    match_english,
    norm_english,
)
from picloss.engines.ocr.layout import Row

# The kinds of the fields, from their rows (picloss/domain/documents/fields.py).
NO_SPACE_FIELDS = names(lambda f: f.no_spaces)
# The issuing office's seal (…公安局交通警察支队车辆管理所), stamped over licence fields: only its words are
# removed, never the rest of a box the detector merged them into.
SEAL_TEXT = re.compile(
    r"(?:[\u4e00-\u9fff]{2,4}(?:省|自治区))?(?:[\u4e00-\u9fff]{2,4}市)?公安(?:厅|局)"
    r"(?:交通(?:警察|管理)?|交警)?(?:总队|支队|大队|局)?(?:车辆管理所)?"
    r"|[\u4e00-\u9fff]{0,4}?(?:交通警察|交警)(?:总队|支队|大队)(?:车辆管理所)?|车辆管理所|车管所"
    r"|公安交(?:通|警)?(?:管理?)?(?:局|所|部门)?")  # 公安交管, 公安交: the seal's words read in part
_SYMBOL = re.compile(r"[^\w\u4e00-\u9fff]")
_EDGE_SYMBOLS = re.compile(r"^[^\w\u4e00-\u9fff]+|[^\w\u4e00-\u9fff]+$")
_LATIN = re.compile(r"[A-Za-z]")
_LEADING_SYMBOLS = re.compile(r"^[^\w\u4e00-\u9fff]+")
CLOSED_VALUES: dict[str, tuple[str, ...]] = {f.name: f.closed for f in FIELDS if f.closed}
# closed fields whose label at a box start counts only when one of their values follows (not 国籍)
CLOSED_LABELS = names(lambda f: bool(f.closed) and f.closed_label)
DATES = names(lambda f: f.date)
DATE_LIKE = names(lambda f: f.date or f.digits_first)
# a Latin run before the first Chinese character of a `chinese_first` value is its English sub-label misread past
# recognition (Sm, adre, 0m, waicleTipe for Sex, Address, Owner, Vehicle Type on a blurred photo), never the value
CJK_INITIAL_FIELDS = names(lambda f: f.chinese_first)
NAME_FIELDS = names(lambda f: f.validator in ("person_name", "owner"))
ID_NUMBER_FIELDS = names(lambda f: f.self_proving == "id")
_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}")  # a Chinese name alone in a box, before a closed field's label
_LATIN_LEAD = re.compile(r"^[^\u4e00-\u9fff]*?[A-Za-z][^\u4e00-\u9fff]*?(?=[\u4e00-\u9fff])")


@dataclass
class Segment:
    """A piece of one OCR box: the field its label names (None: no label), the value characters."""

    field: str | None
    chars: list[tuple[str, float]]
    line_score: float
    x0: float
    english_label: bool = False

    @property
    def text(self) -> str:
        return "".join(c for c, _ in self.chars)


def _closed_prefix(name: str, text: str) -> str | None:
    """The complete closed value (男, 汉族, 中国) the text starts with, if any."""
    return next((v for v in CLOSED_VALUES.get(name, ()) if text.startswith(v)), None)


def drop_latin_lead(name: str, text: str) -> str:
    """`text` without the Latin run before its first Chinese character, in a field whose value starts with one."""
    return _LATIN_LEAD.sub("", text, count=1) if name in CJK_INITIAL_FIELDS else text


def _value_may_follow(name: str, rest: str) -> bool:
    """Could `rest` start the value of field `name`? Keeps 民族大道 from being the nation label."""
    rest = _EDGE_SYMBOLS.sub("", rest.strip())
    if not rest or _LATIN.match(rest):
        return True
    if name in CLOSED_LABELS:
        return _closed_prefix(name, rest) is not None
    if name in DATE_LIKE:
        return bool(re.match(r"^[0-9OoIlDBSZ]", rest))
    return True


def _drop_seal(text: str, scores: list[float]) -> tuple[str, list[float]]:
    keep = [True] * len(text)
    for m in SEAL_TEXT.finditer(text):
        for i in range(m.start(), m.end()):
            keep[i] = False
    return "".join(c for c, k in zip(text, keep, strict=True) if k), [s for s, k in zip(scores, keep, strict=True) if k]


@cache
def _spaced_labels(image_class: str) -> re.Pattern[str]:
    """A label printed with its characters spread out (姓 名, 性　别, 出 生), at a label position: the box's start
    or after a gap."""
    spread = sorted((lb for lb in chinese_labels(image_class) if len(lb) >= 2), key=len, reverse=True)
    return re.compile(r"(?:^|(?<=\s))(?:" + "|".join(r"[ \u3000]+".join(map(re.escape, lb)) for lb in spread) + ")")


def _close_spaced_labels(text: str, scores: list[float], image_class: str) -> tuple[str, list[float]]:
    """Each spread-out label written as the label itself (the gaps inside it dropped with their scores)."""
    keep = [True] * len(text)
    for m in _spaced_labels(image_class).finditer(text):
        for i in range(m.start(), m.end()):
            keep[i] = keep[i] and not text[i].isspace()
    if all(keep):
        return text, scores
    return "".join(c for c, k in zip(text, keep, strict=True) if k), [s for s, k in zip(scores, keep, strict=True) if k]


def _closed_label_inside(text: str, i: int, cn: dict[str, str], before: Segment | None = None
                         ) -> tuple[str, int] | None:
    """A closed field's exact label inside a box with no gap before it (张三性别男国籍中国), taken as a label only
    when one of its values follows in full and then the box ends, a gap or another of the document's labels: so
    性别街 or 民族大道 in an address are never labels. A Latin run between the label and the value is its misread
    English sub-label (性别Sez男); after a name the label may also end the box, its value in the next one.
    Returns (field, label length)."""
    for label, name in cn.items():
        if name not in CLOSED_VALUES or not text.startswith(label, i):
            continue
        rest = drop_latin_lead(name, text[i + len(label):].lstrip())
        if not rest.strip() and before is not None and _is_name(before):
            return name, len(label)  # a name's box ends with the label: its value is in the next box (彭杰性别 | 男)
        value = _closed_prefix(name, rest)
        if value is None:
            continue
        after = rest[len(value):]
        if not after or after[0].isspace() or any(after.startswith(lb) for lb in cn):
            return name, len(label)
    return None


def scan_line(line: OcrLine, image_class: str, drop_seal: bool = False) -> list[Segment]:
    """Cut one OCR box at the labels found at label positions."""
    cn = chinese_labels(image_class)
    long_labels = sorted((lb for lb in cn if len(lb) >= LONG_LABEL), key=len, reverse=True)
    en_own, en_all = english_labels(image_class), all_english_labels()
    text, scores = line.text, line.scores_per_char()
    if drop_seal:
        text, scores = _drop_seal(text, scores)
    text, scores = _close_spaced_labels(text, scores, image_class)
    xs = line.box[:, 0]
    x_left, width = float(xs.min()), float(xs.max() - xs.min())
    segments: list[Segment] = []
    current = Segment(None, [], line.score, x_left)

    def start(name: str | None, at: int, english: bool = False) -> None:
        nonlocal current
        if current.chars or current.field is not None:
            segments.append(current)
        current = Segment(name, [], line.score, x_left + width * at / max(1, len(text)), english)

    i, box_start, after_gap = 0, True, False
    while i < len(text):
        if box_start or after_gap:
            j = i
            while j < len(text) and _SYMBOL.match(text[j]):
                j += 1
            rest = text[j:]
            hit = match_chinese_at_start(rest, cn, own_box=len(rest.strip()) == len(rest) <= 2 and i == 0)
            if hit is None and box_start and i == 0:
                hit = _misread_closed_label(rest, cn)
            if hit is not None and not box_start and hit.distance > 0:
                hit = None  # after a gap inside a box only the exact label counts
            box_start = after_gap = False
            if hit is not None and _value_may_follow(hit.field, rest[hit.end:]):
                start(hit.field, j)
                i = j + hit.end
                continue
        long_hit = next((lb for lb in long_labels if text.startswith(lb, i)), None)
        if long_hit is not None and i > 0:
            start(cn[long_hit], i)
            i += len(long_hit)
            continue
        inside = _closed_label_inside(text, i, cn, current) if i > 0 else None
        if inside is not None and inside[0] != current.field:
            start(inside[0], i)
            i += inside[1]
            continue
        label_end = _english_label_at(text, i, en_own, en_all)
        if label_end is not None:
            own_field, end = label_end
            if own_field is not None:
                start(own_field, i, english=True)
            i = end  # another document's label text (own_field None): dropped
            continue
        current.chars.append((text[i], scores[i]))
        # A gap in the print (the OCR's space) inside one box is a label position too: 于涛嘉 性别 Sex 女.
        after_gap = text[i].isspace()
        i += 1
        if current.field in CLOSED_VALUES and i < len(text):
            value = drop_latin_lead(current.field, _EDGE_SYMBOLS.sub("", current.text.strip()))
            whole = _closed_prefix(current.field, value)
            if whole == value and not any(v.startswith(value + text[i]) for v in CLOSED_VALUES[current.field]):
                start(None, i)
                box_start = True  # what follows a complete closed value is read like a new box
    if current.chars or current.field is not None:
        segments.append(current)
    return segments


def _english_label_at(text: str, i: int, own: dict[str, str], every: dict[str, str]) -> tuple[str | None, int] | None:
    """An English sub-label starting at i: (its field if it is one of this document's, else None; its end).

    The Latin run may go on into the value (Engine No. YBF3SU78F, VIN LSGA80…): the run and then its prefixes
    ending at a space or after a dot are tried, longest first. A run may start with 0 or 1 read for O or I
    (0wmer) when a letter follows."""
    if i > 0 and _LATIN.match(text[i - 1]):
        return None
    lead = 0
    if text[i] in "01" and i + 1 < len(text) and _LATIN.match(text[i + 1]) and not (i > 0 and text[i - 1].isdigit()):
        lead = 1
    elif not _LATIN.match(text[i]):
        return None
    run = ENGLISH_RUN.match(text, i + lead)
    if run is None:
        return None
    ends = [run.end()] + [k for k in range(run.end() - 1, i + lead, -1)
                          if text[k] == " " or (text[k - 1] in ".:：" and text[k] != " ")]
    for k, end in enumerate(ends):
        piece = text[i:end].rstrip()
        if k == 0:  # the whole run: OCR slips tolerated
            found = match_english(piece, own)
            if found is not None:
                return found, end
            if match_english(piece, every) is not None:
                return None, end
            continue
        # a prefix of the run must be a label exactly (else "Driving License of the People's…" is 证号)
        norm = norm_english(piece)
        if norm in _normalised(own):
            return _normalised(own)[norm], end
        if norm in _normalised(every):
            return None, end
    return None


_NORMALISED: dict[int, dict[str, str]] = {}


def _normalised(labels: dict[str, str]) -> dict[str, str]:
    if id(labels) not in _NORMALISED:
        _NORMALISED[id(labels)] = {norm_english(label): name for label, name in labels.items()}
    return _NORMALISED[id(labels)]


def _row_y(row: Row) -> tuple[float, float]:
    centres = [float(line.box[:, 1].mean()) for line in row.lines]
    heights = [float(np.linalg.norm(line.box[3] - line.box[0])) for line in row.lines]
    return float(np.mean(centres)), float(np.median(heights))


def _is_title(text: str) -> bool:
    return any(t in text for t in TITLE_TEXT)


@dataclass
class _Value:
    chars: list[tuple[str, float]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    x0: float | None = None
    last_y: float = 0.0
    has_char_scores: bool = True

    def add(self, seg: Segment, y: float, line: OcrLine) -> None:
        if self.x0 is None:
            self.x0 = seg.x0
        self.chars.extend(seg.chars)
        self.scores.append(seg.line_score)
        self.last_y = y
        self.has_char_scores &= line.char_scores is not None

    def text(self) -> str:
        return "".join(c for c, _ in self.chars)


def _is_name(seg: Segment) -> bool:
    """The segment is a name's value: of a name field, or a Chinese name alone before any label."""
    return seg.field in NAME_FIELDS or (seg.field is None and bool(_NAME.fullmatch(seg.text)))


def _misread_closed_label(box: str, cn: dict[str, str]) -> LabelHit | None:
    """A two-character closed label with one character misread, alone in a box with a complete value of its field
    after it and nothing else (性制女: 性别 女). Two characters with one wrong are no evidence alone; followed by
    exactly one of the field's few values, to the end of the box, they are."""
    for label, name in cn.items():
        if len(label) != 2 or name not in CLOSED_VALUES or len(box) < 3:
            continue
        head = box[:2]
        if any(ch.isspace() for ch in head) or edit_distance(head, label) != 1 \
                or (head[0] != label[0] and head[1] != label[1]):
            continue
        rest = drop_latin_lead(name, box[2:].strip())
        if rest in CLOSED_VALUES[name]:
            return LabelHit(name, 2, 1, label)
    return None


def _closed_head(name: str, seg: Segment) -> tuple[Segment, OcrLine] | None:
    """A box beside a closed field's label that starts with one of its complete values and goes on past it (女国中国:
    the next label misread and its value, in the same box): the value, and the rest as a box of its own."""
    if name not in CLOSED_VALUES:
        return None
    text = seg.text
    start = len(text) - len(drop_latin_lead(name, _LEADING_SYMBOLS.sub("", text, count=1)))  # both cut a prefix only
    value = _closed_prefix(name, text[start:])
    end = start + len(value) if value is not None else 0
    if value is None or not text[end:].strip() or any(v.startswith(text[start:end + 1]) for v in CLOSED_VALUES[name]):
        return None
    chars = seg.chars[end:]
    rest = OcrLine("".join(c for c, _ in chars), seg.line_score,
                   np.array([[seg.x0, 0], [seg.x0 + 1, 0], [seg.x0 + 1, 1], [seg.x0, 1]], dtype=np.float32),
                   tuple(sc for c, sc in chars if not c.isspace()))
    return Segment(None, seg.chars[:end], seg.line_score, seg.x0), rest


def _clean(name: str, text: str) -> str:
    text = _EDGE_SYMBOLS.sub("", drop_latin_lead(name, text.strip()))
    return re.sub(r"\s+", "", text) if name in NO_SPACE_FIELDS else re.sub(r"\s+", " ", text)


def _label_only(seg: Segment) -> bool:
    return not _clean(seg.field or "", seg.text)


def extract_labelled(image_class: str, rows: list[Row], by_content: bool = False) -> list[FieldRead]:
    drop_seal = image_class in ("DRIVER_LICENSE", "DRIVING_LICENSE")
    found: dict[str, _Value] = {}
    current: str | None = None
    loose: list[tuple[Segment, float, OcrLine]] = []  # values no label claimed
    for row in rows:
        y, h = _row_y(row)
        if current is not None and found[current].chars and y - found[current].last_y > 2.5 * h:
            current = None  # too far below: a new block, not a continuation
        for line in row.lines:
            queue = scan_line(line, image_class, drop_seal)
            while queue:
                seg = queue.pop(0)
                if seg.field is not None:
                    known = found.get(seg.field)
                    if known is not None and known.chars:
                        # A repeated label (the English twin of a Chinese one): never a second value.
                        if seg.field == current and not _label_only(seg):
                            known.add(seg, y, line)
                        continue
                    if known is None:
                        found[seg.field] = _Value(last_y=y)
                    current = seg.field
                    if not _label_only(seg):
                        found[seg.field].add(seg, y, line)
                    continue
                text = _clean("", seg.text)
                if not text or _is_title(text):
                    continue
                if current is None:
                    loose.append((seg, y, line))
                    continue
                value = found[current]
                if not value.chars:
                    whole = _closed_head(current, seg)
                    value.add(whole[0] if whole else seg, y, line)  # the value beside or below a lone label
                    if whole is not None:  # 女国中国 beside 性别: 女, then the rest read as a box of its own
                        queue[:0] = scan_line(whole[1], image_class, drop_seal)
                        current = None
                elif value.last_y == y or (current in MULTILINE_FIELDS and value.x0 is not None
                                           and seg.x0 >= value.x0 - 2 * h):
                    value.add(seg, y, line)
        if current is not None and current not in MULTILINE_FIELDS and found[current].chars:
            current = None
    _claim_numbers(image_class, found, loose)
    if by_content:
        _claim_by_content(image_class, found, loose)
    fields = []
    for name, value in found.items():
        raw = value.text()
        cleaned = _clean(name, raw)
        if name in DATES:
            cleaned = normalize_date(cleaned) or cleaned
        if name in ID_NUMBER_FIELDS:
            cleaned = _id_number_in(cleaned)
        if not cleaned:
            continue
        char_scores = _aligned_scores(raw, cleaned, value) if value.has_char_scores else None
        read = FieldRead(name, cleaned, round(min(value.scores), 4), char_scores=char_scores)
        if name in VIN_FIELDS:
            read = _best_vin_in(read) or read
        fields.append(read)
    return fields


# A number that proves itself by its checksum is its field even when the label was not read (the only
# ID number on an ID card or 驾驶证, the only check-digit VIN on a 行驶证).
SELF_PROVING: dict[str, tuple[str, str]] = {f.document: (f.name, f.self_proving) for f in FIELDS if f.self_proving}


def _claim_numbers(image_class: str, found: dict[str, _Value], loose: list[tuple[Segment, float, OcrLine]]) -> None:
    from picloss.domain.documents.idnumber import is_valid_id_number

    if image_class not in SELF_PROVING:
        return
    name, kind = SELF_PROVING[image_class]
    if name in found and found[name].chars:
        return
    hits = []
    for seg, y, line in loose:
        compact = re.sub(r"[\s\-]", "", seg.text).upper()
        if kind == "id":  # the number alone, or the one valid number inside (a misread label glued: 证6165…)
            ok = is_valid_id_number(_id_number_in(compact))
        else:
            ok = check_vin(compact).checksum
        if ok:
            hits.append((seg, y, line))
    if len({h[0].text for h in hits}) == 1:
        seg, y, line = hits[0]
        found[name] = _Value(last_y=y)
        found[name].add(seg, y, line)


def _id_number(image_class: str, found: dict[str, _Value]) -> str | None:
    from picloss.domain.documents.idnumber import is_valid_id_number

    proving = SELF_PROVING.get(image_class)
    value = found.get(proving[0]) if proving is not None and proving[1] == "id" else None
    number = _id_number_in(re.sub(r"[\s\-]", "", value.text()).upper()) if value is not None else ""
    return number if is_valid_id_number(number) else None


def _content_rules(image_class: str, found: dict[str, _Value]) -> dict[str, Callable[[str], bool]]:
    """Per field, what a value alone must be to be that field without its label: a closed value of the field
    (a nation, 中国, a vehicle class, a use character, a plate, an issuing authority, a validity period), or the
    birth date and sex that the checksum-valid ID number of the same card encodes."""
    from picloss.domain.documents.dates import normalize_period
    from picloss.domain.documents.idnumber import id_birth_date
    from picloss.domain.documents.validators import AUTHORITY, PLATE, USE_CHARACTERS, VEHICLE_CLASSES

    def period(style: str) -> Callable[[str], bool]:
        return lambda v: (p := normalize_period(v, style)) is not None and p[1]

    rules: dict[str, dict[str, Callable[[str], bool]]] = {
        "IDCARD_FRONT": {"nation": lambda v: v.removesuffix("族") in NATIONS},
        "IDCARD_BACK": {"authority": lambda v: bool(AUTHORITY.match(v)), "valid_date": period("idcard")},
        "DRIVER_LICENSE": {"国籍": lambda v: v == "中国", "准驾车型": lambda v: bool(VEHICLE_CLASSES.match(v)),
                           "有效期限": period("licence")},
        "DRIVING_LICENSE": {"使用性质": lambda v: v in USE_CHARACTERS,
                            "号牌号码": lambda v: bool(PLATE.match(v.replace("·", "")))},
    }
    out = dict(rules.get(image_class, {}))
    number = _id_number(image_class, found)
    birth = id_birth_date(number) if number else None
    if number and birth:
        encoded = {f.id_encoded: f.name for f in fields_of(image_class) if f.id_encoded}
        birth_name, sex_name = encoded["birth"], encoded["sex"]
        out[birth_name] = lambda v: normalize_date(v) == birth.isoformat()
        out[sex_name] = lambda v: v == ("男" if int(number[16]) % 2 else "女")
    return out


def _claim_by_content(image_class: str, found: dict[str, _Value],
                      loose: list[tuple[Segment, float, OcrLine]]) -> None:
    """A value whose label was not read (small light print lost on a blurred photo) is its field when its content
    alone says so (`_content_rules`) and exactly one unclaimed value of the photo fits (all of a box, else what
    follows its first gap: `_value_parts`); nothing is ever guessed
    from a position, so another template's layout cannot mislead it. Claimed only on the pass whose orientation
    was kept (picloss/engines/ocr/reader.py): text read upside down yields a closed value by chance (土, 中国, C5)."""
    taken: set[int] = set()
    for name, fits in _content_rules(image_class, found).items():
        if name in found and found[name].chars:
            continue
        parts = ((i, next((p for p in _value_parts(seg) if fits(_clean(name, p.text))), None))
                 for i, (seg, _, _) in enumerate(loose) if i not in taken)
        hits = [(i, part) for i, part in parts if part is not None]
        if len({_canonical(name, _clean(name, part.text)) for _, part in hits}) != 1:
            continue
        part, (_, y, line) = hits[0][1], loose[hits[0][0]]
        taken.update(j for j, _ in hits)
        found[name] = _Value(last_y=y)
        found[name].add(part, y, line)


def _canonical(name: str, value: str) -> str:
    return (normalize_date(value) or value) if name in DATES else value


def _value_parts(seg: Segment) -> list[Segment]:
    """The value a loose box may be: all of it, or what follows its first gap (a label misread past recognition
    before the OCR's space: 国 中国, 主生前 1960-12-13)."""
    gap = next((k for k, ch in enumerate(seg.chars) if ch[0].isspace() and seg.text[:k].strip()), None)
    if gap is None:
        return [seg]
    return [seg, Segment(None, seg.chars[gap + 1:], seg.line_score, seg.x0)]


def _id_number_in(value: str) -> str:
    """The one checksum-valid 18-character ID number inside a value that is not one itself (a misread English
    sub-label glued before it: LICNEN428713200111206805); else the value as read."""
    from picloss.domain.documents.idnumber import is_valid_id_number

    compact = value.upper()
    if len(compact) <= 18 or is_valid_id_number(compact):
        return value
    found = {compact[k:k + 18] for k in range(len(compact) - 17) if is_valid_id_number(compact[k:k + 18])}
    return found.pop() if len(found) == 1 else value


def _aligned_scores(raw: str, cleaned: str, value: _Value) -> tuple[float, ...] | None:
    """Character scores of the cleaned value: the kept characters of the raw one, in order."""
    out, it = [], iter(value.chars)
    for ch in cleaned:
        for c, s in it:
            if c == ch:
                out.append(s)
                break
        else:
            return None
    return tuple(out)


def _best_vin_in(read: FieldRead) -> FieldRead | None:
    """The 17-character VIN inside a 车辆识别代号 value (a glued 'VIN' label or stray text around it)."""
    compact = compact_vin(read.value)
    scores = read.char_scores
    if scores is not None and len(scores) != len(compact):
        scores = None
    for m in re.finditer(r"[0-9A-Z]{17,}", compact):
        for start in range(m.start(), m.end() - 16):
            window = compact[start:start + 17]
            sub = tuple(scores[start:start + 17]) if scores is not None else None
            if check_vin(window, sub).valid:
                return FieldRead(read.name, window, read.confidence, char_scores=sub)
    return None


VIN_TOKEN = re.compile(r"[0-9A-Z]+")
VIN_LABEL_PREFIXES = ("VIN", "NO", "VINNO")


@dataclass(frozen=True)
class _VinCandidate:
    value: str
    score: float
    char_scores: tuple[float, ...] | None
    exact: bool  # the whole token (not a label-stripped or joined one)


def _vin_candidates(rows: list[Row]) -> list[_VinCandidate]:
    out: list[_VinCandidate] = []
    for row in rows:
        pieces: list[tuple[str, list[float], float, bool]] = []
        for line in row.lines:
            compact_chars = [(c.upper(), s) for c, s in zip(line.text, line.scores_per_char(), strict=True)
                             if not re.match(r"[\s\-*·.:：_]", c)]
            text = "".join(c for c, _ in compact_chars)
            for m in VIN_TOKEN.finditer(text):
                token, sc = m.group(), [s for _, s in compact_chars[m.start():m.end()]]
                pieces.append((token, sc, line.score, line.char_scores is not None))
        for token, sc, score, known in pieces:
            options = [(token, sc, True)]
            for prefix in VIN_LABEL_PREFIXES:
                if token.startswith(prefix) and len(token) - len(prefix) == 17:
                    options.append((token[len(prefix):], sc[len(prefix):], False))
            for value, vs, exact in options:
                if len(value) == 17:
                    out.append(_VinCandidate(value, score, tuple(vs) if known else None, exact))
        for (a, sa, ca, ka), (b, sb, cb, kb) in itertools.pairwise(pieces):
            if len(a) + len(b) == 17 and len(a) >= 3 and len(b) >= 3:  # one VIN cut in two boxes
                out.append(_VinCandidate(a + b, min(ca, cb), tuple(sa + sb) if ka and kb else None, False))
    return out


def extract_vin(rows: list[Row]) -> list[FieldRead]:
    """The photo's VIN: a 17-character candidate that validates (check digit where the market uses one,
    ISO 3779 structure everywhere); a checksum-proven one wins. Nothing when none validates."""
    best: tuple[tuple[bool, bool, float], _VinCandidate] | None = None
    for cand in _vin_candidates(rows):
        check = check_vin(cand.value, cand.char_scores)
        if not check.valid:
            continue
        key = (check.checksum, cand.exact, cand.score)
        if best is None or key > best[0]:
            best = (key, cand)
    if best is None:
        return []
    cand = best[1]
    return [FieldRead("vin", cand.value, round(cand.score, 4), char_scores=cand.char_scores)]


def extract_fields(image_class: str, rows: list[Row], by_content: bool = False) -> list[FieldRead]:
    """The fields of one pass; `by_content`: also the values whose labels were not read (`_claim_by_content`)."""
    if image_class == "VIN":
        return extract_vin(rows)
    if image_class in LABELS:
        return extract_labelled(image_class, rows, by_content)
    return []


def class_scores(rows: list[Row]) -> dict[str, int]:
    """Evidence per document class: distinct labels found at label positions, +3 for a printed title."""
    text = "".join(row.text for row in rows).replace(" ", "")
    scores = {}
    for image_class in LABELS:
        names = {seg.field for row in rows for line in row.lines
                 for seg in scan_line(line, image_class) if seg.field is not None and not seg.english_label}
        title = any(t in text for t in TITLES.get(image_class, ()))
        scores[image_class] = len(names) + 3 * title
    if "准驾车型" in text:
        scores["DRIVER_LICENSE"] += 1
    return scores


MIN_EVIDENCE = 2
MIN_EVIDENCE_OVER_VIN = 3  # a VIN plate prints 车辆识别代号 too: a licence needs more to win over it


def decide_class(rows: list[Row], asked: str, scores: dict[str, int] | None = None) -> str:
    """The class the text supports: the asked one unless another document's labels/title outweigh it
    (`scores`: `class_scores(rows)` when the caller has it already)."""
    scores = class_scores(rows) if scores is None else scores
    best = max(scores, key=lambda c: (scores[c], c == asked))
    own = scores.get(asked, 0)
    if own >= scores[best] and own >= MIN_EVIDENCE:
        return asked
    if scores[best] > own and scores[best] >= (MIN_EVIDENCE_OVER_VIN if asked == "VIN" else MIN_EVIDENCE):
        return best
    if asked != "VIN" and own - _shared_with_vin_plate(rows, asked) <= 0 and extract_vin(rows):
        return "VIN"  # no label of the asked document (but those a VIN plate prints too), and a VIN that validates
    return asked


# A VIN plate prints 车辆识别代号 above its VIN, as a 行驶证 does: that label alone is no evidence of a 行驶证.
VIN_PLATE_LABELS = document_field("DRIVING_LICENSE", "车辆识别代号").labels


def _shared_with_vin_plate(rows: list[Row], asked: str) -> int:
    if asked != "DRIVING_LICENSE":
        return 0
    text = "".join(row.text for row in rows).replace(" ", "")
    return int(any(label in text for label in VIN_PLATE_LABELS))


def detect_class(rows: list[Row]) -> str | None:
    """The document class the text itself names, or None when it names none."""
    scores = class_scores(rows)
    best = max(scores, key=lambda c: scores[c])
    if scores[best] >= MIN_EVIDENCE:
        return best
    if extract_vin(rows):
        return "VIN"
    return None
