"""Issue 24's loop without a model: which version serves, promotion and rollback, the held-out split by claim,
matching verdicts to labels, and the bootstrap verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from picloss.client.sdk.labels import LabelBox, PhotoLabels
from picloss.platform.inference.versions import (
    VersionError,
    numbered_versions,
    parse_versions,
    pinned_version,
    serving_version,
    with_pinned_version,
)
from training.damage import compare, insurer, promote

CONFIG = 'name: "damage_detector"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 8\n'


def repository(tmp_path: Path, versions: tuple[int, ...], config: str = CONFIG) -> Path:
    for v in versions:
        (tmp_path / "damage_detector" / str(v)).mkdir(parents=True)
        (tmp_path / "damage_detector" / str(v) / "model.onnx").write_bytes(b"onnx %d" % v)
    (tmp_path / "damage_detector" / "config.pbtxt").write_text(config)
    return tmp_path


def test_serving_version_is_the_pin_else_the_highest_numbered(tmp_path: Path) -> None:
    models = repository(tmp_path, (1, 2, 10))
    assert numbered_versions(models, "damage_detector") == [1, 2, 10]  # numerically, not as text
    assert serving_version(models, "damage_detector") == "10"
    (models / "damage_detector" / "config.pbtxt").write_text(with_pinned_version(CONFIG, 2))
    assert serving_version(models, "damage_detector") == "2"
    assert serving_version(models, "damage_detector", override="1") == "1"
    with pytest.raises(VersionError, match="version 7 is not in"):
        serving_version(models, "damage_detector", override="7")
    with pytest.raises(VersionError, match="not a number"):
        serving_version(models, "damage_detector", override="latest")


def test_pin_replaces_a_policy_and_reads_back() -> None:
    once = with_pinned_version(CONFIG, 3)
    twice = with_pinned_version(once, 4)
    assert pinned_version(once) == 3 and pinned_version(twice) == 4 and twice.count("version_policy") == 1
    assert pinned_version(CONFIG) is None
    assert pinned_version("version_policy: { specific { versions: [1, 3] } }") == 3


def test_model_versions_setting() -> None:
    assert parse_versions(" damage_detector=2, damage_gate=1 ,") == {"damage_detector": "2", "damage_gate": "1"}
    for bad in ("damage_detector", "damage_detector=latest", "=2"):
        with pytest.raises(VersionError):
            parse_versions(bad)


def candidate_dir(tmp_path: Path, verdicts: dict[str, str] | None) -> Path:
    cand = tmp_path / "candidate"
    cand.mkdir(parents=True)
    (cand / "model.onnx").write_bytes(b"candidate")
    (cand / "MODEL_CARD.md").write_text("# card\n")
    if verdicts is not None:
        (cand / "compare.json").write_text(json.dumps({"figures": {k: {"verdict": v} for k, v in verdicts.items()}}))
    return cand


def test_promote_needs_a_comparison_that_is_not_worse(tmp_path: Path) -> None:
    models = repository(tmp_path / "models", (1,))
    with pytest.raises(promote.PromoteError, match="not compared"):
        promote.promote(candidate_dir(tmp_path / "a", None), models)
    with pytest.raises(promote.PromoteError, match="worse than the model in service on box recall"):
        promote.promote(candidate_dir(tmp_path / "b", {"box recall": "worse", "precision": "better"}), models)
    assert numbered_versions(models, "damage_detector") == [1]  # a refused promotion writes nothing
    good = candidate_dir(tmp_path / "c", {"box recall": "within noise", "precision": "better"})
    assert promote.promote(good, models) == 2
    assert (models / "damage_detector" / "2" / "model.onnx").read_bytes() == b"candidate"
    assert (models / "damage_detector" / "2" / "MODEL_CARD.md").is_file()
    assert serving_version(models, "damage_detector") == "2"
    assert not list((models / "damage_detector").glob(".*"))  # no staging folder left


def test_rollback_goes_back_one_version_at_a_time(tmp_path: Path) -> None:
    models = repository(tmp_path, (1, 2, 3))
    assert promote.rollback(models) == (3, 2)
    assert promote.rollback(models) == (2, 1)
    with pytest.raises(promote.PromoteError, match="first one"):
        promote.rollback(models)
    assert "* damage_detector/1" in promote.status(models)


def test_held_out_split_is_by_claim_and_stable() -> None:
    claims = [f"PL20261207000000{i:04x}" for i in range(2000)]
    share = sum(insurer.held_out(c) for c in claims) / len(claims)
    assert 0.17 < share < 0.23
    assert [insurer.held_out(c) for c in claims] == [insurer.held_out(c) for c in claims]
    photos = [insurer.LabelledPhoto(PhotoLabels(f"{c}-{k}.jpg", 10, 10, (), c), Path("x")) for c in claims[:50]
              for k in range(3)]
    train, test = insurer.split(photos)
    assert not {p.claim for p in train} & {p.claim for p in test}  # every photo of a claim on one side


def test_photo_counts_match_one_to_one() -> None:
    truth = PhotoLabels("a.jpg", 640, 480, (LabelBox((10, 10, 110, 110), 22), LabelBox((300, 300, 400, 400), 19)))
    reported = [insurer.Reported((12, 12, 108, 108), 22), insurer.Reported((15, 15, 105, 105), 22),
                insurer.Reported((500, 10, 600, 60), 5)]
    c = insurer.photo_counts(truth, reported)
    assert (c.boxes, c.found, c.right_component, c.reported, c.true_reports) == (2, 1, 1, 3, 1)
    assert (c.damage_photos, c.damage_photos_found, c.clean_photos) == (1, 1, 0)
    clean = insurer.photo_counts(PhotoLabels("b.jpg", 640, 480), reported[:1])
    assert (clean.clean_photos, clean.clean_photos_flagged) == (1, 1)


def evaluation(found: list[int]) -> insurer.Evaluation:
    """One claim per entry, 10 labelled boxes each, `found` of them matched."""
    ev = insurer.Evaluation()
    for i, f in enumerate(found):
        ev.claims[f"c{i}"] = insurer.ClaimCounts(boxes=10, found=f, right_component=f, reported=10, true_reports=f,
                                                 damage_photos=1, damage_photos_found=1)
    return ev


def test_bootstrap_verdicts() -> None:
    base = evaluation([3, 4, 5, 3, 4, 5, 3, 4, 5, 4] * 3)
    better = evaluation([7, 8, 9, 7, 8, 9, 7, 8, 9, 8] * 3)
    noisy = evaluation([2, 6, 4, 3, 5, 4, 6, 2, 4, 4] * 3)
    recall = "box recall @IoU 0.3"
    up = compare.compare(base, better, reps=300)
    assert up[recall]["verdict"] == "better" and up[recall]["difference"] == pytest.approx(0.4)
    assert compare.compare(better, base, reps=300)[recall]["verdict"] == "worse"
    assert compare.compare(base, noisy, reps=300)[recall]["verdict"] == "within noise"
    assert compare.compare(base, base, reps=50)["no-damage photos with a false damage"]["verdict"] == "not measured"
    lo, hi = up[recall]["candidate_ci"]  # type: ignore[misc]
    assert lo < 0.8 < hi


def test_labels_find_photos_beside_them_or_in_their_claims_folder(tmp_path: Path) -> None:
    from picloss.client.sdk.labels import to_coco

    photos = [PhotoLabels("a.jpg", 4, 4, (LabelBox((0, 0, 2, 2), 22),), "PL1"), PhotoLabels("b.jpg", 4, 4, (), "PL2")]
    (tmp_path / "labels.json").write_text(json.dumps(to_coco(photos)))
    (tmp_path / "shots" / "PL1").mkdir(parents=True)
    (tmp_path / "shots" / "PL1" / "a.jpg").write_bytes(b"a")
    (tmp_path / "shots" / "b.jpg").write_bytes(b"b")
    found = insurer.load(tmp_path / "labels.json", tmp_path / "shots")
    assert [p.path.relative_to(tmp_path).as_posix() for p in found] == ["shots/PL1/a.jpg", "shots/b.jpg"]
    assert [p.claim for p in found] == ["PL1", "PL2"]
    (tmp_path / "shots" / "b.jpg").unlink()
    with pytest.raises(insurer.LabelsError, match="1 labelled photos not found"):
        insurer.load(tmp_path / "labels.json", tmp_path / "shots")
