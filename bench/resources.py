"""CPU-seconds and peak resident memory of a set of processes (and their children), sampled with psutil."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import psutil


def _tree(pids: list[int]) -> list[psutil.Process]:
    procs = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return procs


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for p in _tree(pids):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for p in _tree(pids):
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


@dataclass
class Usage:
    cpu_s: float = 0.0
    idle_rss: int = 0
    peak_rss: int = 0


class UsageMeter:
    """`async with UsageMeter(pids) as usage:` samples RSS every 0.2 s and takes the CPU-time difference."""

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids
        self.usage = Usage()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Usage:
        self._cpu0 = cpu_seconds(self._pids)
        self.usage.idle_rss = self.usage.peak_rss = rss_bytes(self._pids)
        self._task = asyncio.create_task(self._sample())
        return self.usage

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.usage.cpu_s = cpu_seconds(self._pids) - self._cpu0

    async def _sample(self) -> None:
        while True:
            self.usage.peak_rss = max(self.usage.peak_rss, rss_bytes(self._pids))
            await asyncio.sleep(0.2)
