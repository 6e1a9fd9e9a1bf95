"""PROTOCOL §6: the component part ids, their Chinese and English names, side-free kind and side.

One table, read by the damage service (part kind -> id), the aggregator (merging across photos), the SDK and the
report. `side` is what the Chinese name says of where the part sits on the car (左 left, 右 right, 前 front, 后 rear):
"left front", "rear", "left"..., "" for the roof, "unknown" (未知) when the id leaves the side open (the unknown-side
ids 5, 10, ..., 38) or names no part at all (40).
"""

from __future__ import annotations

from typing import NamedTuple


class Component(NamedTuple):
    zh: str
    en: str
    kind: str  # side-free kind, the same for every id of one part (merging across photos)
    side: str


UNKNOWN = "unknown"

TABLE: dict[int, Component] = {
    1: Component("左前车门", "left front door", "door", "left front"),
    2: Component("左后车门", "left rear door", "door", "left rear"),
    3: Component("右前车门", "right front door", "door", "right front"),
    4: Component("右后车门", "right rear door", "door", "right rear"),
    5: Component("未知车门", "unknown door", "door", UNKNOWN),
    6: Component("前车窗", "windshield", "windshield", "front"),
    7: Component("后车窗", "rear window", "window", "rear"),
    8: Component("左车窗", "left window", "window", "left"),
    9: Component("右车窗", "right window", "window", "right"),
    10: Component("未知车窗", "unknown window", "window", UNKNOWN),
    11: Component("左前叶子板", "left front fender", "fender", "left front"),
    12: Component("右前叶子板", "right front fender", "fender", "right front"),
    13: Component("左后叶子板", "left rear fender", "fender", "left rear"),
    14: Component("右后叶子板", "right rear fender", "fender", "right rear"),
    15: Component("未知叶子板", "unknown fender", "fender", UNKNOWN),
    16: Component("左车把手", "left door handle", "handle", "left"),
    17: Component("右车把手", "right door handle", "handle", "right"),
    18: Component("未知车把手", "unknown door handle", "handle", UNKNOWN),
    19: Component("前保险杠", "front bumper", "bumper", "front"),
    20: Component("后保险杠", "rear bumper", "bumper", "rear"),
    21: Component("未知保险杠", "unknown bumper", "bumper", UNKNOWN),
    22: Component("前车盖", "hood", "bonnet", "front"),
    23: Component("后车盖", "trunk lid", "trunk", "rear"),
    24: Component("前格栅", "front grille", "grille", "front"),
    25: Component("左前车灯", "left headlamp", "lamp", "left front"),
    26: Component("右前车灯", "right headlamp", "lamp", "right front"),
    27: Component("左后车灯", "left tail lamp", "lamp", "left rear"),
    28: Component("右后车灯", "right tail lamp", "lamp", "right rear"),
    29: Component("未知车灯", "unknown lamp", "lamp", UNKNOWN),
    30: Component("左倒车镜", "left mirror", "mirror", "left"),
    31: Component("右倒车镜", "right mirror", "mirror", "right"),
    32: Component("未知倒车镜", "unknown mirror", "mirror", UNKNOWN),
    33: Component("左底大边", "left rocker panel", "rocker", "left"),
    34: Component("右底大边", "right rocker panel", "rocker", "right"),
    35: Component("未知底大边", "unknown rocker panel", "rocker", UNKNOWN),
    36: Component("左轮胎", "left tire", "tire", "left"),
    37: Component("右轮胎", "right tire", "tire", "right"),
    38: Component("未知轮胎", "unknown tire", "tire", UNKNOWN),
    39: Component("顶部天窗", "sunroof / roof", "roof", ""),
    40: Component("未知部件部位", "unknown part", UNKNOWN, UNKNOWN),
}

UNKNOWN_PART_ID = 40  # no recognisable part
COMPONENTS: dict[int, tuple[str, str]] = {cid: (c.zh, c.en) for cid, c in TABLE.items()}
ID_TO_KIND: dict[int, str] = {cid: c.kind for cid, c in TABLE.items()}
# The ids of a known part whose side is left open (5, 10, 15, 18, 21, 29, 32, 35, 38); UNKNOWN_IDS adds 40.
UNKNOWN_SIDE_IDS = frozenset(cid for cid, c in TABLE.items() if c.side == UNKNOWN and cid != UNKNOWN_PART_ID)
UNKNOWN_IDS = UNKNOWN_SIDE_IDS | {UNKNOWN_PART_ID}


def component_name(component_id: int) -> str:
    zh, en = COMPONENTS.get(component_id, ("?", "not a protocol id"))
    return f"{component_id} {zh} ({en})"
