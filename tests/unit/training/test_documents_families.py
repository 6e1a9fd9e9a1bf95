"""Layout families and degradations (issue 10): valid ground truth, a held-back family training never draws,
frame-filling photos with no background, turns, levels that really differ."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from picloss.domain.documents.idnumber import is_valid_id_number
from picloss.domain.documents.model import FieldRead
from picloss.domain.documents.validators import validate_field
from picloss.domain.documents.vin import is_valid_vin

layouts = pytest.importorskip("training.documents.layouts")
from training.documents import heldout_layouts, layouts_b  # noqa: E402
from training.documents.degrade import Degradation, add_occlusion, degrade, random_degradation  # noqa: E402

try:
    layouts.font_path()
    layouts_b.font_paths()
    heldout_layouts.font_paths()
except layouts.FontMissing as exc:
    pytest.skip(f"{exc}", allow_module_level=True)

TRAINING_DIR = Path(__file__).resolve().parents[3] / "training" / "documents"
FAMILIES = {"A": layouts.RENDERERS, "B": layouts_b.RENDERERS, "heldout": heldout_layouts.RENDERERS}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_draws_every_class_with_valid_ground_truth(family: str) -> None:
    renderers = FAMILIES[family]
    assert set(renderers) == {"IDCARD_FRONT", "IDCARD_BACK", "DRIVER_LICENSE", "DRIVING_LICENSE", "VIN"}
    for image_class, render in renderers.items():
        for seed in (3, 4):
            card = render(random.Random(seed))
            assert card.image_class == image_class
            assert card.image.width >= 500 and card.image.height >= 250
            assert card.truth
            for name, value in card.truth.items():
                if name in ("id", "证号"):
                    assert is_valid_id_number(value)
                if name in ("vin", "车辆识别代号"):
                    assert is_valid_vin(value)
                assert validate_field(FieldRead(name, value, 0.9)).value == value


def test_heldout_fonts_are_never_training_fonts() -> None:
    training = {str(p) for p in (*layouts.FONT_PATHS, *layouts_b.FONT_PATHS_B)}
    assert training.isdisjoint(str(p) for p in heldout_layouts.HELDOUT_FONT_PATHS)


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_only_the_evaluation_imports_the_heldout_family() -> None:
    importers = {p.name for p in TRAINING_DIR.glob("*.py")
                 if any(n.endswith("heldout_layouts") for n in _imported_modules(p))}
    assert importers == {"evaluate.py"}


def test_training_examples_never_draw_the_heldout_family(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from PIL import ImageFont

    from training.documents import classifier_data

    def forbidden(rng: random.Random) -> None:
        raise AssertionError("training drew the held-back family")

    for image_class in heldout_layouts.RENDERERS:
        monkeypatch.setitem(heldout_layouts.RENDERERS, image_class, forbidden)
    fonts_used: list[str] = []
    real_truetype = ImageFont.truetype

    def spy(font: str, *args: object, **kwargs: object) -> ImageFont.FreeTypeFont:
        fonts_used.append(str(font))
        return real_truetype(font, *args, **kwargs)

    monkeypatch.setattr(ImageFont, "truetype", spy)
    layouts.font.cache_clear()
    layouts.truetype.cache_clear()
    (tmp_path / "DUPLICATES.tsv").write_text("split_a\tfile_a\tsplit_b\tfile_b\tcorr\n")
    items = classifier_data.training_examples(2, 2, max_damage=0, datasets=tmp_path)
    rendered = [e for e in items if e.source.startswith("rendered:")]
    assert {e.source.split(":")[1] for e in rendered} == {"A", "B"}
    for example in rendered:
        assert example.load().ndim == 3
    heldout_fonts = {str(p) for p in heldout_layouts.HELDOUT_FONT_PATHS}
    assert fonts_used and heldout_fonts.isdisjoint(fonts_used)


def _solid_card(color: tuple[int, int, int] = (200, 30, 30)) -> Image.Image:
    return Image.new("RGB", (856, 540), color)


@pytest.mark.parametrize("framing", ["scan", "crop"])
def test_frame_filling_photos_have_no_background_margin(framing: str) -> None:
    for seed in range(3):
        rgb = degrade(_solid_card(), random.Random(seed), Degradation("clean", framing, 0))
        # every pixel, edges included, is the card's red (lighting shifts brightness a little, never the hue)
        assert (rgb[..., 0].astype(int) - rgb[..., 1] > 100).all()
        assert min(rgb.shape[:2]) >= 400


def test_photo_framing_shows_background_around_the_card() -> None:
    rgb = degrade(_solid_card(), random.Random(0), Degradation("clean", "photo", 0))
    not_card = ~(rgb[..., 0].astype(int) - rgb[..., 1] > 100)
    assert not_card.mean() > 0.2
    assert not_card[0].mean() > 0.9 or not_card[:, 0].mean() > 0.9  # an edge of the photo is background


def test_turns_are_exact_rotations_of_the_upright_photo() -> None:
    card = layouts_b.RENDERERS["VIN"](random.Random(1)).image
    upright = degrade(card, random.Random(5), Degradation("mild", "scan", 0))
    for orientation, k in ((90, -1), (180, 2), (270, 1)):
        turned = degrade(card, random.Random(5), Degradation("mild", "scan", orientation))
        assert np.array_equal(turned, np.rot90(upright, k))


def test_hard_level_is_blurrier_than_clean() -> None:
    card = layouts.RENDERERS["IDCARD_FRONT"](random.Random(2)).image

    def sharpness(level: str) -> float:
        values = []
        for seed in range(3):
            rgb = degrade(card, random.Random(seed), Degradation(level, "scan", 0))
            values.append(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())
        return float(np.mean(values))

    assert sharpness("hard") < 0.5 * sharpness("clean")


def test_occlusion_covers_only_a_corner() -> None:
    base = np.full((600, 800, 3), 255, np.uint8)
    for seed in range(5):
        changed = np.abs(add_occlusion(base, random.Random(seed)).astype(int) - 255).sum(-1) > 30
        assert 0.005 < changed.mean() < 0.15
        ys, xs = np.nonzero(changed)
        touches_x = xs.min() == 0 or xs.max() == 799
        touches_y = ys.min() == 0 or ys.max() == 599
        assert touches_x and touches_y


def test_random_degradations_cover_levels_framings_and_turns() -> None:
    rng = random.Random(0)
    draws = [random_degradation(rng) for _ in range(400)]
    assert {d.level for d in draws} == {"clean", "mild", "hard"}
    assert {d.framing for d in draws} == {"photo", "scan", "crop"}
    assert {d.orientation for d in draws} == {0, 90, 180, 270}
    assert 0.15 < np.mean([d.orientation != 0 for d in draws]) < 0.35


def test_real_photo_training_and_evaluation_splits_do_not_overlap() -> None:
    from training.documents import classifier_data as cd

    if not (cd.DATASETS / "vin_plates/train/images").is_dir():
        pytest.skip("shared datasets not present")
    for paths in (cd.vin_paths, cd.clean_car_paths):
        train, held = paths("train"), paths("eval")
        assert train and held
        assert all("/train/" in str(p) for p in train) and all("/valid/" in str(p) for p in held)
        assert {p.read_bytes() for p in held[:50]}.isdisjoint({p.read_bytes() for p in train[:2000]})
    leaked = cd._duplicated_names(cd.DATASETS)
    assert leaked and not any(p.name in leaked for p in cd.damage_paths("eval"))
