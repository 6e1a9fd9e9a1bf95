"""Photo registration (picloss/engines/registration.py) and the BATCH close-up rule built on it.

Photos are generated (devkit.photos.polygon_texture): a textured 'wide view', a
close-up crop of it (scaled, re-lit), and an unrelated texture.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from devkit.photos import polygon_texture
from picloss.engines.aggregator.rules import Sighting, adopt_from_wider, aggregate
from picloss.engines.registration import extract, from_wire, project_box, register, to_wire

WIDE = polygon_texture(1)
CROP_BOX = (300, 180, 460, 300)  # where the close-up was taken, in WIDE pixels
ZOOM = 2.0


def closeup(brightness: float = 1.1) -> np.ndarray:
    x0, y0, x1, y1 = CROP_BOX
    crop = Image.fromarray(WIDE[y0:y1, x0:x1]).resize((int((x1 - x0) * ZOOM), int((y1 - y0) * ZOOM)))
    return np.clip(np.asarray(crop).astype(np.float32) * brightness, 0, 255).astype(np.uint8)


def test_a_closeup_registers_into_the_wide_photo_where_it_was_taken() -> None:
    reg = register(extract(closeup()), extract(WIDE))
    assert reg is not None
    x0, y0, x1, y1 = project_box(reg.homography, (0, 0, int(160 * ZOOM), int(120 * ZOOM)))
    assert np.allclose((x0, y0, x1, y1), CROP_BOX, atol=10)  # corners extrapolate the fit
    assert reg.frame_share == pytest.approx((160 * 120) / (640 * 480), rel=0.1)


def test_the_wide_photo_does_not_register_into_its_closeup_and_strangers_do_not_register() -> None:
    assert register(extract(WIDE), extract(closeup())) is None  # it would cover more than its frame
    assert register(extract(polygon_texture(2)), extract(WIDE)) is None
    assert register(extract(np.full((300, 300, 3), 128, np.uint8)), extract(WIDE)) is None  # no features


def test_features_survive_the_wire_and_malformed_ones_are_empty() -> None:
    f = extract(WIDE)
    points, descriptors = to_wire(f)
    back = from_wire(points, descriptors, f.width, f.height)
    assert np.allclose(back.points, f.points) and np.array_equal(back.descriptors, f.descriptors)
    assert len(from_wire(points[:-1], descriptors, f.width, f.height)) == 0
    assert len(from_wire(points, descriptors[:-5], f.width, f.height)) == 0


def test_a_closeup_damage_takes_the_component_of_the_damage_it_lands_on() -> None:
    # The wide view calls the damage a fender (15); the close-up alone thinks door (5).
    wide_box = (340, 200, 400, 260)
    close_box = (int((340 - 300) * ZOOM), int((200 - 180) * ZOOM), int((400 - 300) * ZOOM), int((260 - 180) * ZOOM))
    sightings = [Sighting("wide", 15, 0, 70, wide_box), Sighting("close", 5, 0, 60, close_box)]
    features = {"wide": extract(WIDE), "close": extract(closeup())}

    adopted, links = adopt_from_wider(sightings, features)
    assert links == {"close": "wide"}
    assert [s.component_id for s in adopted] == [15, 15]

    without = aggregate(sightings, ["wide", "close"])
    assert sorted(e.component_id for e in without) == [5, 15]  # SINGLE-like: two components
    merged = aggregate(sightings, ["wide", "close"], features)
    assert [e.component_id for e in merged] == [15]
    assert [f for f, _ in merged[0].image_contain] == ["wide", "close"]


def test_a_closeup_damage_elsewhere_keeps_its_own_component() -> None:
    far_box = (0, 0, 20, 20)  # projects to (300, 180)-(310, 190): no damage there in the wide view
    sightings = [Sighting("wide", 15, 0, 70, (500, 400, 560, 460)), Sighting("close", 5, 0, 60, far_box)]
    adopted, _ = adopt_from_wider(sightings, {"wide": extract(WIDE), "close": extract(closeup())})
    assert [s.component_id for s in adopted] == [15, 5]


def test_a_closeup_damage_on_no_wide_damage_takes_the_wide_photos_part() -> None:
    # The wide view found no damage there, but saw the damaged rear bumper (20) around it.
    close_box = (int((340 - 300) * ZOOM), int((200 - 180) * ZOOM), int((400 - 300) * ZOOM), int((260 - 180) * ZOOM))
    sightings = [Sighting("wide", 22, 0, 70, (0, 0, 60, 60)), Sighting("close", 21, 0, 60, close_box)]
    parts = {"wide": [Sighting("wide", 20, 0, 0, (280, 150, 520, 320))]}
    features = {"wide": extract(WIDE), "close": extract(closeup())}
    adopted, _ = adopt_from_wider(sightings, features, parts)
    assert [s.component_id for s in adopted] == [22, 20]
    merged = aggregate(sightings, ["wide", "close"], features, parts)
    assert sorted(e.component_id for e in merged) == [20, 22]


def test_one_damage_in_two_photos_gets_one_component_the_more_confident_or_the_sided() -> None:
    close_box = (int((340 - 300) * ZOOM), int((200 - 180) * ZOOM), int((400 - 300) * ZOOM), int((260 - 180) * ZOOM))
    wide_box = (340, 200, 400, 260)
    features = {"wide": extract(WIDE), "close": extract(closeup())}
    # different kinds: the close-up is surer it is the trunk (23) than the wide view is of a bumper
    sure_close = [Sighting("wide", 21, 0, 70, wide_box, 40), Sighting("close", 23, 0, 60, close_box, 90)]
    assert [e.component_id for e in aggregate(sure_close, ["wide", "close"], features)] == [23]
    # same kind: the sided id wins whichever photo has it
    sided_close = [Sighting("wide", 21, 0, 70, wide_box, 90), Sighting("close", 20, 0, 60, close_box, 40)]
    assert [e.component_id for e in aggregate(sided_close, ["wide", "close"], features)] == [20]
