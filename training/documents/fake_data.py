"""Random but valid document contents: checksum-valid ID numbers and VINs, fake names and addresses."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from picloss.domain.documents.idnumber import PROVINCE_CODES, id_check_char
from picloss.domain.documents.validators import NATIONS
from picloss.domain.documents.vin import VIN_ALPHABET, vin_check_digit

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅晓燕宇浩然子轩"
    "欣怡梓涵一诺思远博文雨泽嘉怡俊杰佳琪天宇"
)
PROVINCES = {
    "11": "北京市", "31": "上海市", "44": "广东省", "51": "四川省", "32": "江苏省", "33": "浙江省",
    "37": "山东省", "41": "河南省", "42": "湖北省", "43": "湖南省", "35": "福建省", "61": "陕西省",
}
CITIES = tuple("朝阳 海淀 浦东 天河 武侯 鼓楼 西湖 历下 金水 江汉 岳麓 思明 雁塔 南山 福田 宝安".split())
ROADS = "人民解放建设中山和平胜利文化新华光明幸福长江黄河友谊东风振兴团结青年学府"
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
VEHICLE_TYPES = ("小型轿车", "小型普通客车", "小型越野客车", "轻型普通货车")
USES = ("非营运", "营运", "出租客运", "租赁")
BRANDS = tuple("大众汽车牌 丰田牌 本田牌 别克牌 吉利牌 比亚迪牌 长安牌 日产牌 奥迪牌 福特牌".split())
LICENCE_CLASSES = ("C1", "C2", "A1", "A2", "B1", "B2", "C1E", "A1A2")


@dataclass(frozen=True)
class Person:
    name: str
    sex: str
    nation: str
    birth: date
    address: str
    id_number: str


def random_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange(max(1, (end - start).days)))


def random_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def random_address(rng: random.Random, province_code: str) -> str:
    province = PROVINCES.get(province_code, "北京市")
    city = rng.choice(CITIES) + "区"
    road = "".join(rng.sample(ROADS, 2)) + rng.choice(("路", "街", "大道"))
    tail = f"{rng.randrange(1, 999)}号" + (f"{rng.randrange(1, 30)}栋{rng.randrange(101, 2999)}室"
                                          if rng.random() < 0.7 else "")
    return province + city + road + tail


def random_person(rng: random.Random) -> Person:
    province = rng.choice(sorted(PROVINCES))
    assert province in PROVINCE_CODES
    birth = random_date(rng, date(1955, 1, 1), date(2004, 12, 31))
    sex = rng.choice("男女")
    parity = rng.choice((1, 3, 5, 7, 9)) if sex == "男" else rng.choice((0, 2, 4, 6, 8))
    order = rng.randrange(0, 99) * 10 + parity
    first17 = f"{province}{rng.randrange(1, 99):02d}{rng.randrange(1, 30):02d}{birth:%Y%m%d}{order:03d}"
    return Person(random_name(rng), sex, rng.choice(["汉"] * 8 + sorted(NATIONS)), birth,
                  random_address(rng, province), first17 + id_check_char(first17))


def random_vin(rng: random.Random) -> str:
    wmi = rng.choice(("LSV", "LFV", "LVS", "LGB", "LHG", "LBV", "LVG", "LSG", "LGX", "LB3"))
    body = wmi + "".join(rng.choice(VIN_ALPHABET) for _ in range(5)) + "0" + \
        rng.choice("ABCDEFGHJKLMNPRSTVWXY123456789") + "".join(rng.choice(VIN_ALPHABET[:10] + "ABCDEFGH")
                                                               for _ in range(1)) + \
        "".join(rng.choice("0123456789") for _ in range(6))
    return body[:8] + vin_check_digit(body) + body[9:]


def random_plate(rng: random.Random) -> str:
    tail = "".join(rng.choice("0123456789" + "ABCDEFGHJKLMNPQRSTUVWXYZ"[:12]) for _ in range(5))
    return rng.choice(PLATE_PROVINCES) + rng.choice(PLATE_LETTERS.replace("I", "").replace("O", "")) + tail


def random_engine_number(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.choice((7, 8, 9))))


def add_years(start: date, years: int) -> date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)
