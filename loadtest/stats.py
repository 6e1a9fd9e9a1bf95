"""Percentiles and the accept→callback join, shared by the load test, the bench and the drill."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from devkit.receiver import Received


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def read_accept_log(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    accepted: dict[str, float] = {}
    for line in path.read_text().splitlines():
        seqno, _, at = line.partition("\t")
        if seqno and at:
            accepted.setdefault(seqno, float(at))
    return accepted


@dataclass(frozen=True)
class CallbackSummary:
    delivered: int  # distinct accept_seqnos answered 2xx
    calls: int  # every POST the sink got
    bad_signatures: int
    duplicates: int  # 2xx deliveries beyond the first per accept_seqno
    latencies_s: list[float]  # accept → first successful callback
    last_at: float


def summarise_callbacks(received: Iterable[Received], accepted: dict[str, float]) -> CallbackSummary:
    first_ok: dict[str, float] = {}
    calls = bad = dup = 0
    last = 0.0
    for r in received:
        calls += 1
        bad += 0 if r.signature_ok else 1
        seqno = str(r.body.get("accept_seqno", ""))
        if r.answered != 200 or not r.signature_ok:
            continue
        if seqno in first_ok:
            dup += 1
            continue
        first_ok[seqno] = r.at
        last = max(last, r.at)
    latencies = [first_ok[s] - accepted[s] for s in first_ok if s in accepted]
    return CallbackSummary(len(first_ok), calls, bad, dup, latencies, last)
