"""PROTOCOL §6: component part ids, Chinese and English names."""

from __future__ import annotations

COMPONENTS: dict[int, tuple[str, str]] = {
    1: ("左前车门", "left front door"), 2: ("左后车门", "left rear door"), 3: ("右前车门", "right front door"),
    4: ("右后车门", "right rear door"), 5: ("未知车门", "unknown door"), 6: ("前车窗", "windshield"),
    7: ("后车窗", "rear window"), 8: ("左车窗", "left window"), 9: ("右车窗", "right window"),
    10: ("未知车窗", "unknown window"), 11: ("左前叶子板", "left front fender"),
    12: ("右前叶子板", "right front fender"), 13: ("左后叶子板", "left rear fender"),
    14: ("右后叶子板", "right rear fender"), 15: ("未知叶子板", "unknown fender"),
    16: ("左车把手", "left door handle"), 17: ("右车把手", "right door handle"),
    18: ("未知车把手", "unknown door handle"), 19: ("前保险杠", "front bumper"), 20: ("后保险杠", "rear bumper"),
    21: ("未知保险杠", "unknown bumper"), 22: ("前车盖", "hood"), 23: ("后车盖", "trunk lid"),
    24: ("前格栅", "front grille"), 25: ("左前车灯", "left headlamp"), 26: ("右前车灯", "right headlamp"),
    27: ("左后车灯", "left tail lamp"), 28: ("右后车灯", "right tail lamp"), 29: ("未知车灯", "unknown lamp"),
    30: ("左倒车镜", "left mirror"), 31: ("右倒车镜", "right mirror"), 32: ("未知倒车镜", "unknown mirror"),
    33: ("左底大边", "left rocker panel"), 34: ("右底大边", "right rocker panel"),
    35: ("未知底大边", "unknown rocker panel"), 36: ("左轮胎", "left tire"), 37: ("右轮胎", "right tire"),
    38: ("未知轮胎", "unknown tire"), 39: ("顶部天窗", "sunroof / roof"), 40: ("未知部件部位", "unknown part"),
}

UNKNOWN_SIDE_IDS = frozenset({5, 10, 15, 18, 21, 29, 32, 35, 38})
UNKNOWN_PART_ID = 40


def component_name(component_id: int) -> str:
    zh, en = COMPONENTS.get(component_id, ("?", "not a protocol id"))
    return f"{component_id} {zh} ({en})"
