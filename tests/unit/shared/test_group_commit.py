"""The ledger's group commit of concurrent accepts, with a stand-in writer (no database)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from picloss.platform.ledger.store import GroupCommit, _Accept


def item(n: int, nonce: str | None = None, seqno: str | None = None) -> _Accept:
    return _Accept("app", nonce or f"n{n}", 600, f"PL{n}", "mch", seqno or f"s{n}", "h", "SINGLE", "cb", ())


class Writer:
    def __init__(self, fail_on: str | None = None) -> None:
        self.groups: list[list[str]] = []
        self.fail_on = fail_on

    async def __call__(self, group: Sequence[_Accept]) -> list[Any]:
        self.groups.append([a.accept_seqno for a in group])
        await asyncio.sleep(0.01)  # one round trip
        if self.fail_on and any(a.accept_seqno == self.fail_on for a in group):
            raise ConnectionError("database gone")
        return [f"row-{a.accept_seqno}" for a in group]


async def test_alone_an_accept_is_written_at_once() -> None:
    writer = Writer()
    commit = GroupCommit(writer, writers=2)
    assert await commit.submit(item(1)) == "row-PL1"
    assert writer.groups == [["PL1"]]


async def test_concurrent_accepts_share_round_trips_and_each_gets_its_own_row() -> None:
    writer = Writer()
    commit = GroupCommit(writer, writers=2, max_group=16)
    rows = await asyncio.gather(*(commit.submit(item(n)) for n in range(40)))
    assert rows == [f"row-PL{n}" for n in range(40)]
    assert sorted(s for g in writer.groups for s in g) == sorted(f"PL{n}" for n in range(40))
    assert len(writer.groups) <= 5 and max(len(g) for g in writer.groups) <= 16, writer.groups


async def test_one_nonce_or_one_req_seqno_never_shares_a_group() -> None:
    writer = Writer()
    commit = GroupCommit(writer, writers=1)
    items = [item(1, nonce="same"), item(2, nonce="same"), item(3, seqno="dup"), item(4, seqno="dup"), item(5)]
    rows = await asyncio.gather(*(commit.submit(i) for i in items))
    assert rows == [f"row-PL{n}" for n in range(1, 6)]
    for group in writer.groups:
        assert not {"PL1", "PL2"} <= set(group) and not {"PL3", "PL4"} <= set(group), writer.groups


async def test_a_failed_write_fails_its_group_only() -> None:
    writer = Writer(fail_on="PL0")
    commit = GroupCommit(writer, writers=1, max_group=1)
    results = await asyncio.gather(*(commit.submit(item(n)) for n in range(3)), return_exceptions=True)
    assert isinstance(results[0], ConnectionError) and results[1:] == ["row-PL1", "row-PL2"]
    with pytest.raises(ConnectionError):
        await GroupCommit(Writer(fail_on="PL7")).submit(item(7))
