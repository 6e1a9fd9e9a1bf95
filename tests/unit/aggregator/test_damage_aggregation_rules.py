"""BATCH rules: one entry per component, unknown sides resolved by the claim, degree combined."""

from __future__ import annotations

from picloss.engines.aggregator.rules import REPAIR, REPLACE, Sighting, aggregate, combine_degree, resolve_unknown

BOX = (10, 10, 50, 50)


def s(fileid: str, cid: int, degree: int = REPAIR, score: int = 80, box: tuple[int, int, int, int] = BOX) -> Sighting:
    return Sighting(fileid, cid, degree, score, box)


def test_same_component_in_several_photos_is_one_entry() -> None:
    entries = aggregate([s("a", 22), s("b", 22, box=(0, 0, 9, 9)), s("b", 22)], ["a", "b"])
    assert len(entries) == 1
    entry = entries[0]
    assert entry.component_id == 22
    assert [f for f, _ in entry.image_contain] == ["a", "b"]
    assert len(entry.image_contain[1][1]) == 2


def test_unknown_side_merges_into_the_only_sided_entry_of_its_kind() -> None:
    assert resolve_unknown([21, 19])[21] == 19
    assert resolve_unknown([29, 26, 22])[29] == 26
    entries = aggregate([s("wide", 19), s("closeup", 21)], ["wide", "closeup"])
    assert [e.component_id for e in entries] == [19]
    assert {f for f, _ in entries[0].image_contain} == {"wide", "closeup"}


def test_two_sided_candidates_keep_the_unknown_entry() -> None:
    assert resolve_unknown([29, 25, 26])[29] == 29


def test_unknown_bumper_takes_the_claims_view() -> None:
    assert resolve_unknown([21, 22])[21] == 19  # bonnet elsewhere in the claim: front
    assert resolve_unknown([21, 23])[21] == 20  # trunk: rear
    assert resolve_unknown([21, 22, 23])[21] == 21  # both: ambiguous
    assert resolve_unknown([5, 22])[5] == 5  # doors are not decided by a front/rear view


def test_unknown_part_40_is_never_merged() -> None:
    assert resolve_unknown([40, 22])[40] == 40


def test_degree_replace_if_any_confident_replace() -> None:
    assert combine_degree([(REPAIR, 90), (REPLACE, 70)]) == (REPLACE, 70)
    assert combine_degree([(REPAIR, 90), (REPAIR, 70), (REPLACE, 55)]) == (REPAIR, 80)
    assert combine_degree([(REPLACE, 55), (REPLACE, 51), (REPAIR, 60)]) == (REPLACE, 53)


def test_entry_degree_uses_the_merged_members() -> None:
    entries = aggregate([s("a", 19, REPAIR, 90), s("b", 21, REPLACE, 75)], ["a", "b"])
    assert (entries[0].component_id, entries[0].degree_id, entries[0].degree_score) == (19, REPLACE, 75)
