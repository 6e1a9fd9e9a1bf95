"""`make loadtest`: locust headless against `make up` (or a stack started here), with photos served locally
and a callback sink; prints accepted/s, accept latency, callbacks/s and accept→callback latency."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devkit.photos import PhotoServer
from devkit.receiver import CallbackReceiver
from devkit.stack import REPO_ROOT
from loadtest.photos import default_photos_arg, load_photos
from loadtest.stats import percentile, read_accept_log, summarise_callbacks
from loadtest.target import Target, running_target, start_stack, target_of

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
CALLBACK_PATH = "/loadtest-callback"


@dataclass(frozen=True)
class LoadResult:
    duration_s: float
    accepted: int
    failed_requests: int
    accept_p50_ms: float
    accept_p95_ms: float
    accept_p99_ms: float
    delivered: int
    bad_signatures: int
    duplicates: int
    callbacks_per_s: float
    cb_p50_s: float
    cb_p95_s: float
    cb_p99_s: float

    @property
    def accepted_per_s(self) -> float:
        return self.accepted / self.duration_s

    def lines(self) -> list[str]:
        return [
            f"duration                 {self.duration_s:.0f} s",
            f"accepted                 {self.accepted} ({self.accepted_per_s:.2f}/s), failed requests "
            f"{self.failed_requests}",
            f"accept latency           p50 {self.accept_p50_ms:.0f} ms  p95 {self.accept_p95_ms:.0f} ms  "
            f"p99 {self.accept_p99_ms:.0f} ms",
            f"callbacks delivered      {self.delivered} ({self.callbacks_per_s:.2f}/s), bad signatures "
            f"{self.bad_signatures}, duplicates {self.duplicates}",
            f"accept→callback latency  p50 {self.cb_p50_s:.2f} s  p95 {self.cb_p95_s:.2f} s  "
            f"p99 {self.cb_p99_s:.2f} s",
        ]


def locust_percentiles(stats_csv: Path) -> tuple[int, int, float, float, float]:
    """(requests, failures, p50, p95, p99 in ms) of the 'Aggregated' row."""
    with stats_csv.open() as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated":
                return (
                    int(row["Request Count"]),
                    int(row["Failure Count"]),
                    float(row["50%"]),
                    float(row["95%"]),
                    float(row["99%"]),
                )
    return 0, 0, float("nan"), float("nan"), float("nan")


async def run_locust(
    target: Target,
    files: list[dict[str, str]],
    callback_url: str,
    work: Path,
    users: int,
    duration_s: int,
    batch_size: int,
) -> Path:
    env = {
        **os.environ,
        "LOADTEST_CA_CERT": target.ca_cert,
        "LOADTEST_APPID": target.appid,
        "LOADTEST_MCHID": target.mchid,
        "LOADTEST_KEY": target.key,
        "LOADTEST_FILES": json.dumps(files),
        "LOADTEST_CALLBACK_URL": callback_url,
        "LOADTEST_ACCEPT_LOG": str(work / "accepted.tsv"),
        "LOADTEST_BATCH_SIZE": str(batch_size),
        "PYTHONPATH": str(REPO_ROOT),
    }
    cmd = [
        str(Path(sys.executable).with_name("locust")),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(max(1, users // 5)),
        "-t",
        f"{duration_s}s",
        "--host",
        target.gateway_url,
        "--csv",
        str(work / "locust"),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    with (work / "locust.log").open("wb") as locust_log:
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=locust_log
        )
        await proc.wait()
    return work / "locust_stats.csv"


async def wait_drained(sink: CallbackReceiver, accepted_log: Path, drain_s: float) -> None:
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline:
        accepted = read_accept_log(accepted_log)
        done = {r.body.get("accept_seqno") for r in sink.received if r.answered == 200}
        if accepted and set(accepted) <= done:
            return
        await asyncio.sleep(0.5)


async def load(
    target: Target,
    *,
    users: int,
    duration_s: int,
    photos_dir: str | None,
    drain_s: float,
    work: Path,
    batch_size: int = 4,
) -> LoadResult:
    photos = await PhotoServer().start()
    sink = await CallbackReceiver(keys=[target.key]).start()
    try:
        for name, data in load_photos(photos_dir).items():
            photos.add(name, data)
        files = [photos.file_desc(n) for n in photos.photos]
        started = time.time()
        stats_csv = await run_locust(
            target, files, sink.url(CALLBACK_PATH), work, users, duration_s, batch_size
        )
        await wait_drained(sink, work / "accepted.tsv", drain_s)
    finally:
        await photos.stop()
        await sink.stop()
    accepted = read_accept_log(work / "accepted.tsv")
    _requests, failures, p50, p95, p99 = locust_percentiles(stats_csv)
    cbs = summarise_callbacks(sink.received, accepted)
    span = max(cbs.last_at - started, 1e-9)
    return LoadResult(
        float(duration_s),
        len(accepted),
        failures,
        p50,
        p95,
        p99,
        cbs.delivered,
        cbs.bad_signatures,
        cbs.duplicates,
        cbs.delivered / span if cbs.delivered else 0.0,
        percentile(cbs.latencies_s, 50),
        percentile(cbs.latencies_s, 95),
        percentile(cbs.latencies_s, 99),
    )


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(prog="loadtest")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument(
        "--photos", default=default_photos_arg(), help="folders, comma-separated (default: the dataset mix)"
    )
    parser.add_argument("--run-dir", type=Path, default=Path(".run"), help="where `make up` keeps its state")
    parser.add_argument(
        "--stack",
        choices=["auto", "full", "backbone"],
        default="auto",
        help="which stack to start when no `make up` stack runs",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path("/tmp/picloss-loadtest"),
        help="locust CSVs, accept log and (when started here) the stack's logs; emptied first",
    )
    parser.add_argument(
        "--drain", type=float, default=120, help="seconds to wait for callbacks after the load"
    )
    args = parser.parse_args()
    target = running_target(args.run_dir.resolve())
    stack = None
    work = fresh_dir(args.work_dir)
    if target is None:
        print("no `make up` stack found: starting one for this run ...", flush=True)
        stack = start_stack(work / "stack", mode=args.stack)
        target = target_of(stack)
    else:
        print(f"using the running stack at {target.gateway_url}", flush=True)
    try:
        result = asyncio.run(
            load(
                target,
                users=args.users,
                duration_s=args.duration,
                photos_dir=args.photos,
                drain_s=args.drain,
                work=work,
            )
        )
    finally:
        if stack is not None:
            stack.down()
    print(f"(work files and logs in {work})")
    print("\n".join(result.lines()))
    return 0 if result.accepted and result.bad_signatures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
