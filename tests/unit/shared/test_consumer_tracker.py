from picloss.platform.kafka.consumer import _PartitionTracker


def test_offsets_move_only_over_a_contiguous_prefix() -> None:
    t = _PartitionTracker()
    for off in (10, 11, 12, 13):
        t.add(off)
    assert t.finish(12) is None          # 10 and 11 still in flight
    assert t.finish(10) == 11            # 10 done: commit up to (exclusive) 11
    assert t.finish(11) == 13            # 11 done and 12 was done: jump to 13
    assert t.finish(13) == 14
    assert t.pending == {}


def test_unknown_offset_is_ignored() -> None:
    t = _PartitionTracker()
    t.add(5)
    assert t.finish(99) is None
    assert t.finish(5) == 6
