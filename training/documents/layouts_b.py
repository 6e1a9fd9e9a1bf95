"""Training layout family B: a second, independently drawn set of fake document templates (never real ones).

Written separately from `layouts.py` (family A) so the classifier does not learn one template: other fonts
(WenQuanYi Micro Hei, AR PL UKai), ruled table cells, labels with or without English sub-labels, other field
order and offsets, tinted or white stock, seals over rows, landscape and square VIN plates.
Used for TRAINING only. The held-back evaluation family lives in `heldout_layouts.py` and shares no font.
Same contract as `layouts.py`: `RENDERERS[class](rng) -> Card` with the ground truth in normalised form.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from training.documents import fake_data as fd
from training.documents.layouts import Card, Sheet, installed_fonts, truetype

FONT_PATHS_B = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/arphic/ukai.ttc"),
)


def font_paths() -> tuple[Path, ...]:
    return installed_fonts(FONT_PATHS_B, "family B", "fonts-wqy-microhei, fonts-arphic-ukai")


class _Pen:
    """One font file per card; labels in one of a few inks."""

    def __init__(self, rng: random.Random) -> None:
        self.path = str(rng.choice(font_paths()))
        self.label_ink = rng.choice(((30, 60, 130), (60, 60, 60), (120, 70, 40), (20, 100, 90)))
        self.ink = rng.choice(((0, 0, 0), (25, 25, 60), (40, 30, 30)))
        self.english = rng.random() < 0.5

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        return truetype(self.path, size)


def _stock(size: tuple[int, int], rng: random.Random) -> Image.Image:
    base = rng.choice(((255, 255, 255), (246, 242, 228), (232, 242, 248), (240, 236, 246)))
    img = Image.new("RGB", size, base)
    d = ImageDraw.Draw(img)
    step = rng.randrange(6, 14)
    tint = tuple(max(0, c - rng.randrange(5, 14)) for c in base)
    for y in range(0, size[1], step):  # fine horizontal security lines
        d.line((0, y, size[0], y + rng.randrange(-3, 4)), fill=tint, width=1)
    return img


# Development only (training/documents/dev_bilingual.py): every card prints each English sub-label inline after its
# Chinese label, as new-style licences do. Training and evaluation never set it.
ENGLISH_INLINE = False


def _cell(d: ImageDraw.ImageDraw, pen: _Pen, s: Sheet, box: tuple[int, int, int, int], name: str, value: str,
          size: int = 26, ruled: bool = True, truth: str | None = None) -> None:
    """One field in its cell: the printed label and English sub-label of its row, then the value as drawn (`truth`:
    its normalised form when it differs)."""
    row = s.field(name, value if truth is None else truth)
    label, english = row.label, row.english_label
    x0, y0 = box[:2]
    if ruled:
        d.rectangle(box, outline=(140, 140, 150), width=2)
    d.text((x0 + 8, y0 + 6), label, font=pen.font(20), fill=pen.label_ink)
    x = x0 + 8 + 21 * len(label) + 14
    if ENGLISH_INLINE and english:  # 性别 Sex 女
        d.text((x - 8, y0 + 12), english, font=pen.font(12), fill=pen.label_ink)
        x += int(pen.font(12).getlength(english)) + 6
    elif pen.english and english:
        d.text((x0 + 8, y0 + 30), english, font=pen.font(12), fill=pen.label_ink)
    d.text((x, y0 + 6), value, font=pen.font(size), fill=pen.ink)


def _seal(img: Image.Image, rng: random.Random, center: tuple[int, int], text: str, r: int = 80) -> Image.Image:
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    cx, cy = center
    alpha = rng.randrange(90, 170)
    if rng.random() < 0.5:
        d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(210, 20, 30, alpha), width=6)
    else:
        d.rectangle((cx - r, cy - r * 2 // 3, cx + r, cy + r * 2 // 3), outline=(210, 20, 30, alpha), width=6)
    d.text((cx - r + 18, cy - 16), text, font=truetype(font_paths()[0], 26), fill=(210, 20, 30, alpha))
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


def _face(d: ImageDraw.ImageDraw, box: tuple[int, int, int, int], rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    d.rounded_rectangle(box, 12, fill=(rng.randrange(180, 230), rng.randrange(190, 235), 240))
    w = x1 - x0
    d.ellipse((x0 + w * 0.3, y0 + w * 0.15, x0 + w * 0.7, y0 + w * 0.65), fill=(150, 125, 110))
    d.chord((x0 + w * 0.1, y1 - w * 0.45, x1 - w * 0.1, y1 + w * 0.4), 180, 360, fill=(40, 45, 70))


def idcard_front(rng: random.Random) -> Card:
    p = fd.random_person(rng)
    pen = _Pen(rng)
    img = _stock((860, 545), rng)
    d = ImageDraw.Draw(img)
    ox, oy = rng.randrange(30, 70), rng.randrange(30, 60)
    photo_left = rng.random() < 0.3
    tx = ox + (250 if photo_left else 0)
    _face(d, (ox, oy + 40, ox + 210, oy + 300) if photo_left else (620, oy + 30, 820, oy + 290), rng)
    big, small = pen.font(rng.choice((27, 29))), pen.font(21)
    s = Sheet("IDCARD_FRONT")
    y = oy
    d.text((tx, y), s.label("name", p.name), font=small, fill=pen.label_ink)
    d.text((tx + 70, y - 3), p.name, font=big, fill=pen.ink)
    y += 58
    d.text((tx, y), s.label("sex", p.sex), font=small, fill=pen.label_ink)
    d.text((tx + 70, y - 3), p.sex, font=big, fill=pen.ink)
    d.text((tx + 150, y), s.label("nation", p.nation), font=small, fill=pen.label_ink)
    d.text((tx + 220, y - 3), p.nation, font=big, fill=pen.ink)
    y += 58
    d.text((tx, y), s.label("birth", p.birth.isoformat()), font=small, fill=pen.label_ink)
    d.text((tx + 70, y - 3), f"{p.birth.year}年{p.birth.month}月{p.birth.day}日", font=big, fill=pen.ink)
    y += 58
    d.text((tx, y), s.label("address", p.address), font=small, fill=pen.label_ink)
    width = 10 if photo_left else 13
    for i in range(0, len(p.address), width):
        d.text((tx + 70, y - 3 + (i // width) * 38), p.address[i:i + width], font=big, fill=pen.ink)
    d.text((ox, 450), s.label("id", p.id_number), font=small, fill=pen.label_ink)
    d.text((ox + 150 + rng.randrange(0, 60), 444), p.id_number, font=pen.font(33), fill=pen.ink)
    return s.card(img)


AUTHORITIES_B = ("深圳市公安局南山分局", "重庆市公安局渝中分局", "西安市公安局雁塔分局", "长沙市公安局岳麓分局",
                 "厦门市公安局思明分局", "郑州市公安局金水分局", "天津市公安局和平分局", "青岛市公安局市南分局")


def idcard_back(rng: random.Random) -> Card:
    pen = _Pen(rng)
    img = _stock((860, 545), rng)
    d = ImageDraw.Draw(img)
    emblem_x = rng.choice((60, 90, 640))
    d.regular_polygon((emblem_x + 70, 120, 60), rng.choice((5, 8)), outline=(200, 30, 30), width=6)
    d.regular_polygon((emblem_x + 70, 120, 26), 5, fill=(230, 190, 40))
    tx = 260 if emblem_x < 500 else 60
    d.text((tx, 50), "中华人民共和国", font=pen.font(rng.choice((40, 46))), fill=pen.ink)
    d.text((tx + 10, 130), "居民身份证", font=pen.font(rng.choice((56, 64))), fill=pen.ink)
    authority = rng.choice(AUTHORITIES_B)
    start = fd.random_date(rng, date(2006, 1, 1), date(2025, 3, 31))
    term = rng.choice((5, 10, 20, 0))
    end = "长期" if term == 0 else f"{fd.add_years(start, term):%Y.%m.%d}"
    period = f"{start:%Y.%m.%d}-{end}"
    y = rng.randrange(340, 380)
    x = rng.randrange(90, 170)
    s = Sheet("IDCARD_BACK")
    d.text((x, y), s.label("authority", authority), font=pen.font(24), fill=pen.label_ink)
    d.text((x + 140, y - 2), authority, font=pen.font(28), fill=pen.ink)
    d.text((x, y + 70), s.label("valid_date", period), font=pen.font(24), fill=pen.label_ink)
    d.text((x + 140, y + 68), period, font=pen.font(28), fill=pen.ink)
    return s.card(img)


def driver_license(rng: random.Random) -> Card:
    p = fd.random_person(rng)
    pen = _Pen(rng)
    img = _stock((900, 620), rng)
    d = ImageDraw.Draw(img)
    d.text((150, 18), "中华人民共和国机动车驾驶证", font=pen.font(36), fill=pen.ink)
    if pen.english:
        d.text((220, 60), "Driving License of the People's Republic of China", font=pen.font(16), fill=pen.ink)
    first = fd.random_date(rng, fd.add_years(p.birth, 18), date(2024, 12, 31))
    start = fd.random_date(rng, first, date(2025, 6, 30))
    end = "长期" if rng.random() < 0.2 else fd.add_years(start, rng.choice((6, 10))).isoformat()
    cls = rng.choice(fd.LICENCE_CLASSES)
    x0, y0, row = 30, 92, 60
    s = Sheet("DRIVER_LICENSE")
    _cell(d, pen, s, (x0, y0, 870, y0 + row), "证号", p.id_number, 28)
    _cell(d, pen, s, (x0, y0 + row, 330, y0 + 2 * row), "姓名", p.name)
    _cell(d, pen, s, (330, y0 + row, 560, y0 + 2 * row), "性别", p.sex)
    _cell(d, pen, s, (560, y0 + row, 870, y0 + 2 * row), "国籍", "中国")
    split = 18
    _cell(d, pen, s, (x0, y0 + 2 * row, 870, y0 + 4 * row), "住址", p.address[:split], truth=p.address)
    if len(p.address) > split:
        d.text((x0 + 70, y0 + 2 * row + 44), p.address[split:], font=pen.font(26), fill=pen.ink)
    right = 640
    _cell(d, pen, s, (x0, y0 + 4 * row, right, y0 + 5 * row), "出生日期", p.birth.isoformat())
    _cell(d, pen, s, (x0, y0 + 5 * row, right, y0 + 6 * row), "初次领证日期", first.isoformat())
    _cell(d, pen, s, (x0, y0 + 6 * row, right, y0 + 7 * row), "准驾车型", cls)
    _cell(d, pen, s, (x0, y0 + 7 * row, 870, y0 + 8 * row), "有效期限", f"{start.isoformat()} 至 {end}",
          truth=f"{start.isoformat()}至{end}")
    _face(d, (right + 20, y0 + 4 * row + 5, 860, y0 + 7 * row - 5), rng)
    if rng.random() < 0.6:
        img = _seal(img, rng, (rng.randrange(300, 600), y0 + int(6.5 * row)), "公安交管", 70)
    return s.card(img)


def driving_license(rng: random.Random) -> Card:
    p = fd.random_person(rng)
    pen = _Pen(rng)
    img = _stock((900, 620), rng)
    d = ImageDraw.Draw(img)
    d.text((150, 18), "中华人民共和国机动车行驶证", font=pen.font(36), fill=pen.ink)
    if pen.english:
        d.text((180, 60), "Vehicle License of the People's Republic of China", font=pen.font(16), fill=pen.ink)
    plate, vtype, use = fd.random_plate(rng), rng.choice(fd.VEHICLE_TYPES), rng.choice(fd.USES)
    model = rng.choice(fd.BRANDS) + "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2)) + \
        "".join(rng.choice("0123456789") for _ in range(4)) + rng.choice(("", "A", "L"))
    vin, engine = fd.random_vin(rng), fd.random_engine_number(rng)
    registered = fd.random_date(rng, date(2006, 1, 1), date(2025, 6, 30))
    issued = fd.random_date(rng, registered, date(2025, 9, 30))
    x0, y0, row = 30, 90, 58
    ruled = rng.random() < 0.6
    s = Sheet("DRIVING_LICENSE")
    _cell(d, pen, s, (x0, y0, 450, y0 + row), "号牌号码", plate, ruled=ruled)
    _cell(d, pen, s, (450, y0, 870, y0 + row), "车辆类型", vtype, ruled=ruled)
    _cell(d, pen, s, (x0, y0 + row, 870, y0 + 2 * row), "所有人", p.name, ruled=ruled)
    _cell(d, pen, s, (x0, y0 + 2 * row, 870, y0 + 3 * row), "住址", p.address, 24, ruled=ruled)
    _cell(d, pen, s, (x0, y0 + 3 * row, 380, y0 + 4 * row), "使用性质", use, ruled=ruled)
    _cell(d, pen, s, (380, y0 + 3 * row, 870, y0 + 4 * row), "品牌型号", model, 24, ruled=ruled)
    _cell(d, pen, s, (x0, y0 + 4 * row, 870, y0 + 5 * row), "车辆识别代号", vin, 27, ruled=ruled)
    _cell(d, pen, s, (x0, y0 + 5 * row, 870, y0 + 6 * row), "发动机号码", engine, ruled=ruled)
    _cell(d, pen, s, (x0, y0 + 6 * row, 450, y0 + 7 * row), "注册日期", registered.isoformat(), ruled=ruled)
    _cell(d, pen, s, (450, y0 + 6 * row, 870, y0 + 7 * row), "发证日期", issued.isoformat(), ruled=ruled)
    img = _seal(img, rng, (rng.randrange(520, 780), rng.randrange(y0 + 4 * row, y0 + 7 * row)), "车辆管理所", 85)
    return s.card(img)


def vin_plate(rng: random.Random) -> Card:
    vin = fd.random_vin(rng)
    pen = _Pen(rng)
    if rng.random() < 0.55:  # a riveted nameplate with a table
        metal = rng.choice(((210, 212, 215), (190, 180, 150), (235, 235, 230), (40, 40, 45)))
        ink = (240, 240, 240) if sum(metal) < 300 else (20, 20, 20)
        img = Image.new("RGB", (820, 500), metal)
        d = ImageDraw.Draw(img)
        d.rounded_rectangle((10, 10, 810, 490), 30, outline=ink, width=4)
        for cx, cy in ((40, 40), (780, 40), (40, 460), (780, 460)):
            d.ellipse((cx - 14, cy - 14, cx + 14, cy + 14), fill=(120, 120, 125))
        d.text((80, 40), rng.choice(fd.BRANDS)[:-1] + "汽车制造有限公司", font=pen.font(30), fill=ink)
        rows = [("车辆识别代号", vin), ("发动机型号", fd.random_engine_number(rng)[:6]),
                ("最大允许总质量", f"{rng.randrange(1200, 2600)}kg"), ("制造日期", f"{rng.randrange(2008, 2025)}年")]
        rng.shuffle(rows)
        for i, (label, value) in enumerate(rows):
            y = 110 + i * 88
            d.line((70, y + 74, 760, y + 74), fill=ink, width=1)
            d.text((80, y + 10), label, font=pen.font(24), fill=ink)
            d.text((80 + 25 * len(label) + 20, y), value, font=pen.font(40 if value == vin else 30), fill=ink)
        return Card(img, "VIN", {"vin": vin})
    # a VIN stamped into a painted body panel
    paint = tuple(rng.randrange(30, 230) for _ in range(3))
    img = Image.new("RGB", (rng.choice((900, 1000)), rng.choice((260, 320))), paint)
    d = ImageDraw.Draw(img)
    size = rng.choice((56, 64))
    dark = tuple(max(0, c - 70) for c in paint)
    light = tuple(min(255, c + 50) for c in paint)
    x, y = rng.randrange(30, 70), img.height // 2 - size // 2
    d.text((x + 2, y + 2), vin, font=pen.font(size), fill=light)
    d.text((x, y), vin, font=pen.font(size), fill=dark)
    return Card(img, "VIN", {"vin": vin})


RENDERERS = {
    "IDCARD_FRONT": idcard_front, "IDCARD_BACK": idcard_back, "DRIVER_LICENSE": driver_license,
    "DRIVING_LICENSE": driving_license, "VIN": vin_plate,
}
