"""HELD-BACK layout family: fake document templates for EVALUATION ONLY.

Never used for training, model selection or choosing any threshold or rule: only `evaluate.py` imports this
module, and `tests/unit/training/test_documents_families.py` checks that training code never does.
Written independently of `layouts.py` (family A) and `layouts_b.py` (family B), with fonts neither uses
(AR PL UMing and Noto Serif CJK, a Ming/Song serif look): other field order and offsets, labels followed by
English sub-labels (new-style 驾驶证), brown/teal label colours, seals over the 准驾车型/有效期限 rows and over
行驶证 rows, addresses whose road names contain label words (民族大道, 国籍路), portrait VIN stickers.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from training.documents import fake_data as fd
from training.documents.layouts import Card, installed_fonts, truetype

HELDOUT_FONT_PATHS = (
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
)


def font_paths() -> tuple[Path, ...]:
    return installed_fonts(HELDOUT_FONT_PATHS, "held-back", "fonts-arphic-uming, fonts-noto-cjk")


ROADS_HELDOUT = ("民族大道", "国籍路", "住址巷", "性别街", "友谊路", "迎宾大道", "滨江路", "春华街")
DISTRICTS = {"11": "北京市东城区", "31": "上海市黄浦区", "44": "广东省深圳市罗湖区", "51": "四川省绵阳市涪城区",
             "32": "江苏省苏州市姑苏区", "33": "浙江省宁波市海曙区", "37": "山东省青岛市市南区",
             "41": "河南省洛阳市西工区", "42": "湖北省武汉市洪山区", "43": "湖南省株洲市天元区",
             "35": "福建省泉州市鲤城区", "61": "陕西省宝鸡市渭滨区"}


class _Style:
    def __init__(self, rng: random.Random) -> None:
        self.path = str(rng.choice(font_paths()))
        self.label = rng.choice(((110, 70, 40), (20, 110, 120), (90, 90, 120)))
        self.value = rng.choice(((10, 10, 10), (20, 30, 70)))

    def f(self, size: int) -> ImageFont.FreeTypeFont:
        return truetype(self.path, size)


def _person(rng: random.Random) -> fd.Person:
    """fake_data's person with an address in this family's own style (road names that hold label words)."""
    p = fd.random_person(rng)
    prefix = DISTRICTS.get(p.id_number[:2], "北京市东城区")
    tail = f"{rng.randrange(1, 400)}号"
    if rng.random() < 0.6:
        tail += f"{rng.randrange(1, 20)}幢{rng.randrange(1, 6)}单元{rng.randrange(101, 1899)}号"
    return fd.Person(p.name, p.sex, p.nation, p.birth, prefix + rng.choice(ROADS_HELDOUT) + tail, p.id_number)


def _paper(size: tuple[int, int], rng: random.Random) -> Image.Image:
    base = rng.choice(((250, 247, 240), (236, 244, 240), (244, 238, 232), (228, 234, 246)))
    img = Image.new("RGB", size, base)
    d = ImageDraw.Draw(img)
    for i in range(-size[1], size[0], rng.randrange(18, 34)):  # diagonal weave
        tint = tuple(max(0, c - 9) for c in base)
        d.line((i, 0, i + size[1], size[1]), fill=tint, width=1)
    return img


def _stamp(img: Image.Image, center: tuple[int, int], radius: int, text: str, style: _Style,
           rng: random.Random) -> Image.Image:
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    cx, cy = center
    a = rng.randrange(110, 190)
    d.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=(200, 25, 45, a), width=5)
    d.ellipse((cx - radius + 10, cy - radius + 10, cx + radius - 10, cy + radius - 10), outline=(200, 25, 45, a),
              width=2)
    d.regular_polygon((cx, cy - radius // 3, radius // 6), 5, fill=(200, 25, 45, a))
    d.text((cx - radius + 22, cy + 4), text, font=style.f(max(16, radius // 4)), fill=(200, 25, 45, a))
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


def _row(d: ImageDraw.ImageDraw, s: _Style, x: int, y: int, label: str, english: str, value: str,
         gap: int, size: int = 25) -> None:
    """Label, English sub-label to its right ("姓名 Name"), then the value at x + gap."""
    d.text((x, y), label, font=s.f(21), fill=s.label)
    if english:
        d.text((x + 22 * len(label) + 4, y + 6), english, font=s.f(13), fill=s.label)
    d.text((x + gap, y - 4), value, font=s.f(size), fill=s.value)


def idcard_front(rng: random.Random) -> Card:
    p = _person(rng)
    s = _Style(rng)
    img = _paper((856, 540), rng)
    d = ImageDraw.Draw(img)
    x, gap = rng.randrange(45, 90), rng.randrange(85, 110)
    y = rng.randrange(40, 70)
    d.text((x, y), "姓  名", font=s.f(20), fill=s.label)
    d.text((x + gap, y - 6), p.name, font=s.f(32), fill=s.value)
    y += 64
    d.text((x, y), "性  别", font=s.f(20), fill=s.label)
    d.text((x + gap, y - 4), p.sex, font=s.f(28), fill=s.value)
    d.text((x + gap + 90, y), "民  族", font=s.f(20), fill=s.label)
    d.text((x + 2 * gap + 90, y - 4), p.nation, font=s.f(28), fill=s.value)
    y += 60
    d.text((x, y), "出  生", font=s.f(20), fill=s.label)
    d.text((x + gap, y - 4), f"{p.birth.year} 年 {p.birth.month:d} 月 {p.birth.day:d} 日", font=s.f(28),
           fill=s.value)
    y += 60
    d.text((x, y), "住  址", font=s.f(20), fill=s.label)
    for i in range(0, len(p.address), 11):
        d.text((x + gap, y - 4 + (i // 11) * 40), p.address[i:i + 11], font=s.f(28), fill=s.value)
    d.text((x, 458), "公民身份号码", font=s.f(22), fill=s.label)
    d.text((x + 180, 450), " ".join([p.id_number[:6], p.id_number[6:14], p.id_number[14:]])
           if rng.random() < 0.3 else p.id_number, font=s.f(34), fill=s.value)
    px = rng.randrange(600, 630)
    d.rectangle((px, 60, px + 200, 320), fill=(226, 230, 236))
    d.ellipse((px + 55, 95, px + 145, 210), fill=(160, 130, 115))
    d.pieslice((px + 20, 215, px + 180, 390), 180, 360, fill=(70, 60, 60))
    truth = {"name": p.name, "sex": p.sex, "nation": p.nation, "birth": p.birth.isoformat(),
             "address": p.address, "id": p.id_number}
    return Card(img, "IDCARD_FRONT", truth)


AUTHORITIES_HELDOUT = ("绵阳市公安局涪城分局", "苏州市公安局姑苏分局", "宁波市公安局海曙分局", "洛阳市公安局西工分局",
                       "株洲市公安局天元分局", "泉州市公安局鲤城分局", "宝鸡市公安局渭滨分局", "北京市公安局东城分局")


def idcard_back(rng: random.Random) -> Card:
    s = _Style(rng)
    img = _paper((856, 540), rng)
    d = ImageDraw.Draw(img)
    cx, cy = rng.randrange(110, 150), rng.randrange(110, 140)
    for r in (70, 55):
        d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(190, 40, 40), width=4)
    d.regular_polygon((cx, cy, 34), 5, fill=(225, 175, 30), rotation=rng.randrange(0, 30))
    d.text((cx + 130, 60), "中 华 人 民 共 和 国", font=s.f(38), fill=s.value)
    d.text((cx + 160, 140), "居民身份证", font=s.f(58), fill=s.value)
    authority = rng.choice(AUTHORITIES_HELDOUT)
    start = fd.random_date(rng, date(2005, 1, 1), date(2025, 6, 30))
    term = rng.choice((5, 10, 10, 20, 0))
    end = "长期" if term == 0 else f"{fd.add_years(start, term):%Y.%m.%d}"
    period = f"{start:%Y.%m.%d}-{end}"
    x, y = rng.randrange(110, 200), rng.randrange(330, 370)
    d.text((x, y), "签 发 机 关", font=s.f(22), fill=s.label)
    d.text((x + 170, y - 4), authority, font=s.f(28), fill=s.value)
    d.text((x, y + 72), "有 效 期 限", font=s.f(22), fill=s.label)
    d.text((x + 170, y + 68), period, font=s.f(28), fill=s.value)
    return Card(img, "IDCARD_BACK", {"authority": authority, "valid_date": period})


def driver_license(rng: random.Random) -> Card:
    """New-style 驾驶证: every label with its English sub-label, 证号 at the bottom, a seal over the last rows."""
    p = _person(rng)
    s = _Style(rng)
    img = _paper((920, 640), rng)
    d = ImageDraw.Draw(img)
    d.text((120, 16), "中华人民共和国机动车驾驶证", font=s.f(38), fill=s.value)
    d.text((190, 62), "Driving License of the People's Republic of China", font=s.f(17), fill=s.value)
    first = fd.random_date(rng, fd.add_years(p.birth, 18), date(2024, 12, 31))
    start = fd.random_date(rng, first, date(2025, 6, 30))
    end = "长期" if rng.random() < 0.2 else fd.add_years(start, rng.choice((6, 10))).isoformat()
    cls = rng.choice(fd.LICENCE_CLASSES)
    x, gap, row = rng.randrange(28, 50), 230, rng.randrange(50, 56)
    y = 105
    _row(d, s, x, y, "姓名", "Name", p.name, gap)
    _row(d, s, x + 330, y, "性别", "Sex", p.sex, 110)
    _row(d, s, x + 480, y, "国籍", "Nationality", "中国", 150)
    y += row
    _row(d, s, x, y, "住址", "Address", p.address[:20], gap - 110, 24)
    if len(p.address) > 20:
        d.text((x + gap - 110, y + 30), p.address[20:], font=s.f(24), fill=s.value)
    y += int(row * 1.7)
    _row(d, s, x, y, "出生日期", "Date of Birth", p.birth.isoformat(), gap)
    y += row
    _row(d, s, x, y, "初次领证日期", "Date of First Issue", first.isoformat(), gap + 40)
    y += row
    cls_y = y
    _row(d, s, x, y, "准驾车型", "Class", cls, gap)
    y += row
    _row(d, s, x, y, "有效期限", "Valid Period", f"{start.isoformat()} 至 {end}", gap - 50)
    y += row
    _row(d, s, x, y, "证号", "License No.", p.id_number, gap - 90, 27)
    d.rectangle((700, 330, 880, 560), fill=(220, 225, 232))
    d.ellipse((750, 360, 830, 460), fill=(150, 125, 110))
    img = _stamp(img, (x + gap + rng.randrange(20, 160), cls_y + row // 2), 78, "公安局交通警察支队", s, rng)
    truth = {"证号": p.id_number, "姓名": p.name, "性别": p.sex, "国籍": "中国", "住址": p.address,
             "出生日期": p.birth.isoformat(), "初次领证日期": first.isoformat(), "准驾车型": cls,
             "有效期限": f"{start.isoformat()}至{end}"}
    return Card(img, "DRIVER_LICENSE", truth)


def driving_license(rng: random.Random) -> Card:
    p = _person(rng)
    s = _Style(rng)
    img = _paper((920, 640), rng)
    d = ImageDraw.Draw(img)
    d.text((130, 18), "中华人民共和国机动车行驶证", font=s.f(38), fill=s.value)
    plate, vtype, use = fd.random_plate(rng), rng.choice(fd.VEHICLE_TYPES), rng.choice(fd.USES)
    model = rng.choice(fd.BRANDS) + "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3)) + \
        "".join(rng.choice("0123456789") for _ in range(3))
    vin, engine = fd.random_vin(rng), fd.random_engine_number(rng)
    registered = fd.random_date(rng, date(2005, 1, 1), date(2025, 6, 30))
    issued = fd.random_date(rng, registered, date(2025, 9, 30))
    english = rng.random() < 0.5
    x, row = rng.randrange(28, 50), rng.randrange(52, 58)
    rows = [("号牌号码", "Plate No.", plate, None), ("所有人", "Owner", p.name, None),
            ("住址", "Address", p.address, None), ("品牌型号", "Model", model, None),
            ("车辆识别代号", "VIN", vin, None), ("发动机号码", "Engine No.", engine, None)]
    y = 100
    for label, eng, value, _ in rows:
        _row(d, s, x, y, label, eng if english else "", value, 200, 25)
        y += row
    # the right column, written after the left one: 车辆类型 / 使用性质 beside the first rows
    _row(d, s, x + 470, 100, "车辆类型", "Vehicle Type" if english else "", vtype, 200)
    _row(d, s, x + 470, 100 + row, "使用性质", "Use Character" if english else "", use, 220)
    _row(d, s, x, y, "注册日期", "Register Date" if english else "", registered.isoformat(), 200)
    _row(d, s, x + 470, y, "发证日期", "Issue Date" if english else "", issued.isoformat(), 200)
    img = _stamp(img, (rng.randrange(560, 800), rng.randrange(300, 520)), 90, "车辆管理所专用章", s, rng)
    truth = {"号牌号码": plate, "车辆类型": vtype, "所有人": p.name, "住址": p.address, "使用性质": use,
             "品牌型号": model, "车辆识别代号": vin, "发动机号码": engine,
             "注册日期": registered.isoformat(), "发证日期": issued.isoformat()}
    return Card(img, "DRIVING_LICENSE", truth)


def vin_plate(rng: random.Random) -> Card:
    vin = fd.random_vin(rng)
    s = _Style(rng)
    kind = rng.random()
    if kind < 0.4:  # a portrait sticker with a bar code
        img = Image.new("RGB", (520, 760), (248, 248, 244))
        d = ImageDraw.Draw(img)
        d.rectangle((8, 8, 512, 752), outline=(30, 30, 30), width=3)
        d.text((30, 30), "机动车出厂合格标签", font=s.f(30), fill=(20, 20, 20))
        d.text((30, 100), "VIN / 车辆识别代号", font=s.f(22), fill=(20, 20, 20))
        d.text((30, 140), vin, font=s.f(36), fill=(0, 0, 0))
        for i in range(60):
            if rng.random() < 0.55:
                d.rectangle((40 + i * 7, 220, 44 + i * 7, 330), fill=(0, 0, 0))
        d.text((30, 380), f"生产日期 {rng.randrange(2008, 2025)}-{rng.randrange(1, 13):02d}", font=s.f(24),
               fill=(20, 20, 20))
        d.text((30, 430), f"额定载客 {rng.randrange(2, 8)} 人", font=s.f(24), fill=(20, 20, 20))
        return Card(img, "VIN", {"vin": vin})
    if kind < 0.7:  # an anodised plate, label above the VIN
        metal = rng.choice(((170, 175, 180), (215, 200, 160), (60, 70, 90)))
        ink = (245, 245, 245) if sum(metal) < 400 else (15, 15, 15)
        img = Image.new("RGB", (960, 400), metal)
        d = ImageDraw.Draw(img)
        d.rectangle((14, 14, 946, 386), outline=ink, width=2)
        d.text((40, 40), "制造厂名称  " + rng.choice(fd.BRANDS)[:-1] + "汽车股份有限公司", font=s.f(26), fill=ink)
        d.text((40, 110), f"品牌 {rng.choice(fd.BRANDS)}   发动机排量 {rng.randrange(10, 40) / 10:.1f}L", font=s.f(24),
               fill=ink)
        d.text((40, 190), "车辆识别代号 VIN", font=s.f(24), fill=ink)
        d.text((40, 240), vin, font=s.f(rng.choice((50, 56))), fill=ink)
        return Card(img, "VIN", {"vin": vin})
    # stamped into the frame: dotted/engraved look on grey steel
    img = Image.new("RGB", (1040, 280), tuple([rng.randrange(90, 170)] * 3))
    d = ImageDraw.Draw(img)
    for _ in range(300):
        x0, y0 = rng.randrange(1040), rng.randrange(280)
        d.line((x0, y0, x0 + rng.randrange(10, 60), y0), fill=tuple([rng.randrange(70, 190)] * 3))
    text = "*" + vin + "*" if rng.random() < 0.4 else vin
    d.text((40, 100), text, font=s.f(60), fill=(35, 35, 35))
    return Card(img, "VIN", {"vin": vin})


RENDERERS = {
    "IDCARD_FRONT": idcard_front, "IDCARD_BACK": idcard_back, "DRIVER_LICENSE": driver_license,
    "DRIVING_LICENSE": driving_license, "VIN": vin_plate,
}
