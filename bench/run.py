"""`make bench`: backbone benchmarks as ratios measured in one run, printed and written to
docs/benchmarks.md under '## Backbone (make bench)'.

1. accept throughput of the gateway (signature, validation, ledger commit, broker ack) / a bare aiohttp
   hello-world served the same way (same TLS, one process), both driven by wrk; p50/p99 at half the max rate;
2. pipeline photos/s through the whole stack / the model services' own throughput on the same photos;
3. accept→callback of an 8-photo BATCH / the sequential model compute of the same photos;
4. CPU-seconds per photo and peak memory of the stack's processes."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.docs import replace_section, stamp
from bench.models import images_of, model_work
from bench.resources import UsageMeter, cpu_seconds
from bench.wrk import WrkResult, delay_for_rate, presign, run_wrk
from loadtest.photos import default_photos_arg, load_photos
from loadtest.target import is_backbone_only, start_stack
from picloss.client import PiclossClient
from picloss.devstack.photos import PhotoServer
from picloss.devstack.procs import free_port, port_open, spawn, stop_pid, wait_until
from picloss.devstack.receiver import CallbackReceiver
from picloss.devstack.stack import DEMO_APPID, DEMO_MCHID, REPO_ROOT, Stack, StackSettings
from services.orchestrator.clients import ModelClients

HEADING = "## Backbone (make bench)"
TARGETS = {"accept": 0.15, "pipeline": 0.85, "batch": 1.2}


@dataclass
class Figures:
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (figure, value, target/verdict)

    def add(self, figure: str, value: str, target: str = "") -> None:
        self.lines.append((figure, value, target))
        print(f"{figure}: {value} {target}", flush=True)

    def table(self) -> str:
        return "\n".join(
            [
                "| figure | value | target |",
                "|---|---|---|",
                *(f"| {a} | {b} | {c} |" for a, b, c in self.lines),
            ]
        )


def verdict(ratio: float, target: float, higher_is_better: bool = True) -> str:
    met = ratio >= target if higher_is_better else ratio <= target
    return f"{'≥' if higher_is_better else '≤'} {target}: {'met' if met else 'NOT met'}"


# ------------------------------------------------------------------ 1. accept
def accept_bench(work: Path, figures: Figures, seconds: int, connections: int) -> None:
    stack = Stack(StackSettings.ephemeral(work / "accept", env={"LOG_LEVEL": "WARNING"}))
    hello = None
    try:
        stack.up(("gateway",))
        port = free_port()
        hello = spawn(
            [sys.executable, "-m", "bench.hello"],
            stack.logs / "hello.log",
            cwd=REPO_ROOT,
            env={
                "PYTHONPATH": str(REPO_ROOT),
                "HELLO_PORT": str(port),
                "HELLO_TLS_CERT": str(stack.cert_file),
                "HELLO_TLS_KEY": str(stack.run_dir / "tls" / "gateway.key"),
                "PATH": "/usr/bin:/bin",
            },
        )
        wait_until(lambda: port_open(port), 20, "hello", proc=hello, log=stack.logs / "hello.log")
        hello_url = f"https://127.0.0.1:{port}"

        def drive(url: str, delay_ms: int = 0, secs: int = seconds) -> WrkResult:
            bodies = work / "bodies.tsv"
            presign(
                bodies,
                40_000,
                DEMO_APPID,
                DEMO_MCHID,
                stack.key,
                "https://photos.example/a.jpg",
                "https://insurer.example/cb",
            )
            return run_wrk(
                url, bodies, work / "bench.lua", seconds=secs, connections=connections, delay_ms=delay_ms
            )

        drive(stack.gateway_url)  # warm-up: connection pools, JIT-free but page cache and PG plans
        hellos, gateways = [], []
        split: dict[str, float] = {}
        for _ in range(2):  # interleaved, so a noisy neighbour hits both alike
            hellos.append(drive(hello_url))
            before = {name: cpu_seconds([p.pid]) for name, p in stack.procs.items()}
            machine0 = sum(psutil.cpu_times()[:3])
            gateways.append(drive(stack.gateway_url))
            for name, p in stack.procs.items():
                split[name] = split.get(name, 0.0) + cpu_seconds([p.pid]) - before[name]
            split["whole machine"] = split.get("whole machine", 0.0) + sum(psutil.cpu_times()[:3]) - machine0
        hello_rps = sum(r.rps for r in hellos) / len(hellos)
        gw_rps = sum(r.rps for r in gateways) / len(gateways)
        bad = sum(r.non_2xx + r.errors for r in gateways)
        figures.add(
            f"bare aiohttp hello-world (TLS, 1 process, wrk -c{connections})", f"{hello_rps:.0f} req/s"
        )
        figures.add(
            "gateway accept (signature + validation + ledger commit + broker ack)",
            f"{gw_rps:.0f} req/s ({bad} non-2xx/errors)",
        )
        figures.add(
            "accept throughput ratio gateway / bare aiohttp",
            f"{gw_rps / hello_rps:.3f}",
            verdict(gw_rps / hello_rps, TARGETS["accept"]),
        )
        first_delay = max(1, int(connections / (gw_rps / 2) * 1000))
        probe = drive(stack.gateway_url, delay_ms=first_delay, secs=max(3, seconds // 2))
        served = sum(r.requests for r in gateways)
        figures.add(
            "CPU per accepted request during the gateway runs",
            ", ".join(f"{name} {1000 * cpu / served:.2f} ms" for name, cpu in split.items()),
        )
        half = drive(stack.gateway_url, delay_ms=delay_for_rate(gw_rps / 2, connections, probe, first_delay))
        figures.add(
            f"accept latency at half the max rate (target {gw_rps / 2:.0f}, {half.rps:.0f} req/s achieved)",
            f"p50 {half.p50_ms:.1f} ms, p99 {half.p99_ms:.1f} ms",
        )
    finally:
        if hello is not None:
            stop_pid(hello.pid)
        stack.down()


# ---------------------------------------------------------------- 2-4. pipeline
async def submit_and_wait(
    client: PiclossClient, receiver: CallbackReceiver, files_per_request: list[list[dict]], model: str
) -> tuple[float, list[float]]:
    """(seconds from first submit to last callback, accept→callback latency of each request)."""
    started = time.time()
    replies = await asyncio.gather(
        *(client.submit(files, model, receiver.url("/bench")) for files in files_per_request)
    )
    accepted_at = time.time()
    seqnos = [r.body["accept_seqno"] for r in replies]
    got = await asyncio.gather(*(receiver.wait_for(s, timeout_s=600) for s in seqnos))
    arrivals = [min(c.at for c in calls if c.answered == 200) for calls in got]
    return max(arrivals) - started, [a - accepted_at for a in arrivals]


def model_clients(stack: Stack) -> ModelClients:
    ports = stack.s.grpc_ports
    return ModelClients(
        classifier=f"127.0.0.1:{ports['classifier']}",
        ocr=f"127.0.0.1:{ports['ocr']}",
        damage=f"127.0.0.1:{ports['damage']}",
        aggregator=f"127.0.0.1:{ports['aggregator']}",
        timeout_s=120,
        retry_budget_s=10,
    )


async def pipeline_bench(stack: Stack, photos_dir: str | None, figures: Figures, requests: int) -> None:
    server = await PhotoServer().start()
    receiver = await CallbackReceiver([stack.key]).start()
    backbone_only = is_backbone_only(stack)
    try:
        photos = load_photos(photos_dir, limit=16)
        for name, data in photos.items():
            server.add(name, data)
        names = list(photos)
        per_request = [
            [server.file_desc(names[(4 * i + j) % len(names)]) for j in range(4)] for i in range(requests)
        ]
        async with PiclossClient(
            stack.gateway_url, DEMO_APPID, DEMO_MCHID, stack.key, str(stack.cert_file)
        ) as client:
            await submit_and_wait(client, receiver, per_request[:1], "SINGLE")  # warm-up
            pids = [p.pid for p in stack.procs.values()]
            n_photos = sum(len(r) for r in per_request)
            async with UsageMeter(pids) as usage:
                took, _ = await submit_and_wait(client, receiver, per_request, "SINGLE")
            stack_pps = n_photos / took
            scope = " (backbone only: no model ran, files end 5001)" if backbone_only else ""
            figures.add(
                f"pipeline through the whole stack, {requests} SINGLE × 4 photos{scope}",
                f"{stack_pps:.2f} photos/s",
            )
            figures.add(f"CPU per photo, all stack processes{scope}", f"{usage.cpu_s / n_photos:.3f} CPU-s")
            figures.add(
                f"peak resident memory of the stack during that run{scope}",
                f"{usage.peak_rss / 2**20:.0f} MiB (idle {usage.idle_rss / 2**20:.0f} MiB, "
                f"+{(usage.peak_rss - usage.idle_rss) / 2**20 / n_photos:.1f} MiB per photo in the run)",
            )
            if backbone_only:
                figures.add(
                    "pipeline / raw model throughput", "not measurable yet (model services not running)"
                )
                figures.add(
                    "8-photo BATCH accept→callback / sequential model compute",
                    "not measurable yet (model services not running)",
                )
                return
            clients = model_clients(stack)
            try:
                by_name = [photos[names[(4 * i + j) % len(names)]] for i in range(requests) for j in range(4)]
                images = await asyncio.to_thread(images_of, by_name)
                await model_work(clients, images[:4], sequential=False, aggregate=False)  # warm-up
                raw_s = await model_work(clients, images, sequential=False, aggregate=False)
                raw_pps = len(images) / raw_s
                figures.add(
                    "raw model throughput, same photos (direct gRPC to the model services, batched "
                    "like the pipeline, no download/ledger/broker/callback)",
                    f"{raw_pps:.2f} photos/s",
                )
                figures.add(
                    "pipeline / raw model throughput",
                    f"{stack_pps / raw_pps:.3f}",
                    verdict(stack_pps / raw_pps, TARGETS["pipeline"]),
                )
                eight = [server.file_desc(names[i % len(names)]) for i in range(8)]
                _, (batch_latency,) = await submit_and_wait(client, receiver, [eight], "BATCH")
                seq_s = await model_work(
                    clients,
                    images_of([photos[names[i % len(names)]] for i in range(8)]),
                    sequential=True,
                    aggregate=True,
                )
                figures.add("8-photo BATCH accept→callback", f"{batch_latency:.2f} s")
                figures.add(
                    "sequential model compute of the same 8 photos (one photo per call, + aggregate)",
                    f"{seq_s:.2f} s",
                )
                figures.add(
                    "BATCH accept→callback / sequential compute",
                    f"{batch_latency / seq_s:.3f}",
                    verdict(batch_latency / seq_s, TARGETS["batch"], higher_is_better=False),
                )
            finally:
                await clients.close()
    finally:
        await server.stop()
        await receiver.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.run")
    parser.add_argument("--photos", default=default_photos_arg(), help="folders, comma-separated")
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--requests", type=int, default=8, help="SINGLE requests of 4 photos in the pipeline run"
    )
    parser.add_argument("--stack", choices=["auto", "full", "backbone"], default="auto")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/picloss-bench"))
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--skip-accept", action="store_true", help="only the pipeline figures (profiling)")
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of the stack's processes")
    args = parser.parse_args()
    shutil.rmtree(args.work_dir, ignore_errors=True)
    args.work_dir.mkdir(parents=True)
    figures = Figures()
    if not args.skip_accept:
        accept_bench(args.work_dir, figures, args.seconds, args.connections)
    stack = start_stack(args.work_dir / "pipeline", env={"LOG_LEVEL": args.log_level}, mode=args.stack)
    try:
        asyncio.run(pipeline_bench(stack, args.photos, figures, args.requests))
    finally:
        stack.down()
    photos = f"photos: {args.photos}" if args.photos else "photos: generated 640×480 JPEGs"
    text = "\n".join([f"{stamp()}; 2 shared CPU cores; {photos}.", "", figures.table()])
    print(text)
    if not args.no_docs:
        replace_section(REPO_ROOT / "docs" / "benchmarks.md", HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
