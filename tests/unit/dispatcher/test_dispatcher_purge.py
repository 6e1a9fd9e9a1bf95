"""The retention sweep of the dispatcher (services/dispatcher/reconcile.py): batches until one comes back short,
then waits; a failed round is tried again; RESULT_RETENTION_DAYS parsed in days."""

from __future__ import annotations

import asyncio

import pytest

from picloss.platform.config import ConfigError
from services.dispatcher.config import DEFAULT_RETENTION_DAYS, DispatcherConfig
from services.dispatcher.metrics import RESULTS_PURGED
from services.dispatcher.reconcile import purge_forever

ENV = {"DATABASE_URL": "postgresql://x", "KAFKA_BOOTSTRAP_SERVERS": "x:1", "PICLOSS_KEYS_FILE": "k.json",
       "PICLOSS_DATA_KEYS_FILE": "d.json"}


class PurgingLedger:
    def __init__(self, waiting: int, fail_first: bool = False) -> None:
        self.waiting, self.fail_first = waiting, fail_first
        self.calls: list[tuple[float, int]] = []

    async def purge_results(self, retention_s: float, batch: int) -> int:
        self.calls.append((retention_s, batch))
        if self.fail_first:
            self.fail_first = False
            raise OSError("database away")
        taken = min(batch, self.waiting)
        self.waiting -= taken
        return taken


async def run_for(ledger: PurgingLedger, seconds: float, every_s: float = 0.05) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(purge_forever(ledger, retention_s=86400.0, every_s=every_s, batch=4,  # type: ignore[arg-type]
                                             stop=stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 2)


async def test_the_sweep_purges_in_batches_until_a_short_one() -> None:
    ledger = PurgingLedger(waiting=10)
    before = RESULTS_PURGED._value.get()
    await run_for(ledger, 0.02, every_s=10)  # one round only
    assert ledger.calls == [(86400.0, 4)] * 3 and ledger.waiting == 0  # 4 + 4 + 2 (short: the round ends)
    assert RESULTS_PURGED._value.get() - before == 10


async def test_a_failed_round_is_tried_again_at_the_next() -> None:
    ledger = PurgingLedger(waiting=3, fail_first=True)
    await run_for(ledger, 0.3)
    assert ledger.waiting == 0 and len(ledger.calls) >= 2


def test_retention_is_read_in_days() -> None:
    assert DispatcherConfig.from_env(ENV).retention_s == DEFAULT_RETENTION_DAYS * 86400 == 30 * 86400
    assert DispatcherConfig.from_env({**ENV, "RESULT_RETENTION_DAYS": "0.5"}).retention_s == 43200
    with pytest.raises(ConfigError, match="RESULT_RETENTION_DAYS"):
        DispatcherConfig.from_env({**ENV, "RESULT_RETENTION_DAYS": "-1"})
    with pytest.raises(ConfigError, match="RESULT_RETENTION_DAYS"):
        DispatcherConfig.from_env({**ENV, "RESULT_RETENTION_DAYS": "a month"})
