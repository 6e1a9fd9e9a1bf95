"""Flat drawings of fake documents (never real ones): ID card front/back, 驾驶证, 行驶证, VIN plate.

Each function returns the card as an RGB PIL image and the ground truth: field name -> normalised value
(the names of picloss.ocr.v1.Field; dates YYYY-MM-DD, periods as picloss.domain.documents.dates formats).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from picloss.domain.documents.fields import DocumentField, document_field
from training.documents import fake_data as fd

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)


class FontMissing(RuntimeError):
    pass


def font_path() -> Path:
    for path in FONT_PATHS:
        if path.exists():
            return path
    raise FontMissing("no CJK font: run `make fonts` (installs fonts-wqy-zenhei)")


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path()), size)


def installed_fonts(paths: tuple[Path, ...], what: str, packages: str) -> tuple[Path, ...]:
    """The fonts of `paths` that are installed; FontMissing (naming the Debian packages) when none is."""
    found = tuple(p for p in paths if p.exists())
    if not found:
        raise FontMissing(f"{what} fonts missing: run `make fonts` ({packages})")
    return found


@cache
def truetype(path: str, size: int) -> ImageFont.FreeTypeFont:
    """One loaded font per (file, size), shared by the layout families."""
    return ImageFont.truetype(path, size)


@dataclass(frozen=True)
class Card:
    image: Image.Image
    image_class: str
    truth: dict[str, str]


class Sheet:
    """The fields a card draws, by their rows of the table (picloss/domain/documents/fields.py): `label(name, truth)`
    is the
    field's printed label, and records its ground truth under its protocol name, in drawing order."""

    def __init__(self, image_class: str) -> None:
        self.image_class = image_class
        self.truth: dict[str, str] = {}

    def field(self, name: str, truth: str) -> DocumentField:
        self.truth[name] = truth
        return document_field(self.image_class, name)

    def label(self, name: str, truth: str) -> str:
        return self.field(name, truth).label

    def card(self, image: Image.Image) -> Card:
        return Card(image, self.image_class, self.truth)


def _canvas(size: tuple[int, int], rng: random.Random, base: tuple[int, int, int]) -> Image.Image:
    img = Image.new("RGB", size, base)
    draw = ImageDraw.Draw(img)
    for _ in range(40):  # faint guilloche-like pattern
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        r = rng.randrange(20, 160)
        tint = tuple(max(0, c - rng.randrange(6, 18)) for c in base)
        draw.ellipse((x - r, y - r, x + r, y + r), outline=tint, width=1)
    return img


def _wrap(text: str, width: int) -> list[str]:
    return [text[i:i + width] for i in range(0, len(text), width)]


def _photo(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    draw.rectangle(box, fill=(rng.randrange(200, 235),) * 3)
    cx, w = (x0 + x1) // 2, x1 - x0
    draw.ellipse((cx - w // 5, y0 + w // 6, cx + w // 5, y0 + w // 6 + w // 2), fill=(120, 110, 105))
    draw.pieslice((x0 + w // 10, y1 - w // 2, x1 - w // 10, y1 + w // 3), 180, 360, fill=(60, 60, 80))


LABEL = (90, 110, 140)
INK = (20, 20, 25)


def idcard_front(rng: random.Random) -> Card:
    p = fd.random_person(rng)
    img = _canvas((856, 540), rng, (236, 240, 238))
    d = ImageDraw.Draw(img)
    s = Sheet("IDCARD_FRONT")
    lab, val = font(26), font(rng.choice((28, 30)))
    d.text((60, 50), s.label("name", p.name), font=lab, fill=LABEL)
    d.text((150, 48), p.name, font=val, fill=INK)
    d.text((60, 110), s.label("sex", p.sex), font=lab, fill=LABEL)
    d.text((150, 108), p.sex, font=val, fill=INK)
    d.text((250, 110), s.label("nation", p.nation), font=lab, fill=LABEL)
    d.text((340, 108), p.nation, font=val, fill=INK)
    d.text((60, 170), s.label("birth", p.birth.isoformat()), font=lab, fill=LABEL)
    d.text((150, 168), f"{p.birth.year}  年  {p.birth.month}  月  {p.birth.day}  日", font=val, fill=INK)
    d.text((60, 230), s.label("address", p.address), font=lab, fill=LABEL)
    for i, line in enumerate(_wrap(p.address, 12)):
        d.text((150, 228 + i * 42), line, font=val, fill=INK)
    d.text((60, 440), s.label("id", p.id_number), font=lab, fill=LABEL)
    d.text((260, 436), p.id_number, font=font(34), fill=INK)
    _photo(d, (590, 70, 800, 330), rng)
    return s.card(img)


AUTHORITY_CITIES = tuple(
    "北京市公安局朝阳分局 上海市公安局浦东分局 广州市公安局天河分局 成都市公安局武侯分局 "
    "南京市公安局鼓楼分局 杭州市公安局西湖分局 济南市公安局历下分局 武汉市公安局江汉分局".split()
)


def idcard_back(rng: random.Random) -> Card:
    img = _canvas((856, 540), rng, (238, 238, 230))
    d = ImageDraw.Draw(img)
    d.ellipse((60, 40, 200, 180), outline=(200, 40, 40), width=8)
    d.regular_polygon((130, 110, 40), 5, fill=(220, 180, 40))
    d.text((260, 60), "中华人民共和国", font=font(46), fill=INK)
    d.text((280, 150), "居民身份证", font=font(64), fill=INK)
    authority = rng.choice(AUTHORITY_CITIES)
    start = fd.random_date(rng, date(2008, 1, 1), date(2024, 12, 31))
    term = rng.choice((5, 10, 20, 0))
    end = "长期" if term == 0 else f"{fd.add_years(start, term):%Y.%m.%d}"
    period = f"{start:%Y.%m.%d}-{end}"
    s = Sheet("IDCARD_BACK")
    d.text((140, 360), s.label("authority", authority), font=font(26), fill=INK)
    d.text((290, 358), authority, font=font(30), fill=INK)
    d.text((140, 430), s.label("valid_date", period), font=font(26), fill=INK)
    d.text((290, 428), period, font=font(30), fill=INK)
    return s.card(img)


def _licence_row(d: ImageDraw.ImageDraw, s: Sheet, x: int, y: int, name: str, value: str, size: int = 26,
                 truth: str | None = None) -> None:
    """One field: its printed label, then the value as drawn (`truth`: its normalised form when it differs)."""
    label = s.label(name, value if truth is None else truth)
    d.text((x, y), label, font=font(22), fill=LABEL)
    d.text((x + 24 * len(label) + 16, y - 3), value, font=font(size), fill=INK)


def driver_license(rng: random.Random) -> Card:
    p = fd.random_person(rng)
    img = _canvas((880, 600), rng, (232, 236, 244))
    d = ImageDraw.Draw(img)
    d.text((170, 24), "中华人民共和国机动车驾驶证", font=font(38), fill=INK)
    first = fd.random_date(rng, fd.add_years(p.birth, 18), date(2024, 12, 31))
    start = fd.random_date(rng, first, date(2025, 6, 30))
    end = "长期" if rng.random() < 0.2 else fd.add_years(start, rng.choice((6, 10))).isoformat()
    cls = rng.choice(fd.LICENCE_CLASSES)
    s = Sheet("DRIVER_LICENSE")
    _licence_row(d, s, 40, 100, "证号", p.id_number, 28)
    _licence_row(d, s, 40, 160, "姓名", p.name)
    _licence_row(d, s, 330, 160, "性别", p.sex)
    _licence_row(d, s, 510, 160, "国籍", "中国")
    _licence_row(d, s, 40, 220, "住址", p.address[:16], truth=p.address)
    if len(p.address) > 16:
        d.text((128, 257), p.address[16:], font=font(26), fill=INK)
    _licence_row(d, s, 40, 320, "出生日期", p.birth.isoformat())
    _licence_row(d, s, 40, 380, "初次领证日期", first.isoformat())
    _licence_row(d, s, 40, 440, "准驾车型", cls)
    _licence_row(d, s, 40, 500, "有效期限", f"{start.isoformat()} 至 {end}", truth=f"{start.isoformat()}至{end}")
    _photo(d, (680, 300, 850, 520), rng)
    return s.card(img)


def driving_license(rng: random.Random) -> Card:
    p = fd.random_person(rng)
    img = _canvas((880, 600), rng, (236, 240, 234))
    d = ImageDraw.Draw(img)
    d.text((170, 24), "中华人民共和国机动车行驶证", font=font(38), fill=INK)
    plate, vtype, use = fd.random_plate(rng), rng.choice(fd.VEHICLE_TYPES), rng.choice(fd.USES)
    model = rng.choice(fd.BRANDS) + "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3)) + \
        "".join(rng.choice("0123456789") for _ in range(4))
    vin, engine = fd.random_vin(rng), fd.random_engine_number(rng)
    registered = fd.random_date(rng, date(2008, 1, 1), date(2025, 6, 30))
    issued = fd.random_date(rng, registered, date(2025, 9, 30))
    s = Sheet("DRIVING_LICENSE")
    _licence_row(d, s, 40, 100, "号牌号码", plate)
    _licence_row(d, s, 440, 100, "车辆类型", vtype)
    _licence_row(d, s, 40, 160, "所有人", p.name)
    _licence_row(d, s, 40, 220, "住址", p.address)
    _licence_row(d, s, 40, 280, "使用性质", use)
    _licence_row(d, s, 440, 280, "品牌型号", model, 24)
    _licence_row(d, s, 40, 340, "车辆识别代号", vin, 28)
    _licence_row(d, s, 40, 400, "发动机号码", engine)
    _licence_row(d, s, 40, 460, "注册日期", registered.isoformat())
    _licence_row(d, s, 440, 460, "发证日期", issued.isoformat())
    seal = Image.new("RGBA", img.size, (0, 0, 0, 0))
    sd = ImageDraw.Draw(seal)
    cx, cy, r = rng.randrange(560, 760), rng.randrange(400, 520), 95
    sd.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(220, 30, 30, 150), width=7)
    sd.text((cx - 80, cy - 20), "车辆管理所", font=font(32), fill=(220, 30, 30, 130))
    img = Image.alpha_composite(img.convert("RGBA"), seal).convert("RGB")
    return s.card(img)


def vin_plate(rng: random.Random) -> Card:
    vin = fd.random_vin(rng)
    metal = rng.choice(((200, 200, 205), (225, 225, 220), (180, 185, 190), (240, 240, 240)))
    img = _canvas((900, 360), rng, metal)
    d = ImageDraw.Draw(img)
    if rng.random() < 0.6:
        d.text((40, 30), rng.choice(fd.BRANDS)[:-1] + "汽车有限公司", font=font(30), fill=INK)
        model = f"{rng.choice('ABCDEFGH')}{rng.randrange(1000, 9999)}"
        d.text((40, 90), f"整车型号 {model}", font=font(26), fill=INK)
        d.text((40, 140), f"制造年月 {rng.randrange(2008, 2025)}年{rng.randrange(1, 13)}月", font=font(26),
               fill=INK)
        d.text((40, 200), "车辆识别代号", font=font(26), fill=INK)
        d.text((40, 250), vin, font=font(rng.choice((44, 48))), fill=INK)
    else:  # a VIN stamped alone
        d.text((40, 140), vin, font=font(rng.choice((52, 58))), fill=(60, 60, 60))
    return Card(img, "VIN", {"vin": vin})


RENDERERS = {
    "IDCARD_FRONT": idcard_front, "IDCARD_BACK": idcard_back, "DRIVER_LICENSE": driver_license,
    "DRIVING_LICENSE": driving_license, "VIN": vin_plate,
}
