"""`make bench`: backbone benchmarks as ratios measured in one run, printed and written to
docs/benchmarks.md under '## Backbone (make bench)'.

Every ratio compares two legs run interleaved (A, B, A, B, ... `--rounds` times, at least 3), so a noisy
neighbour on the shared machine hits both alike; the table gives the median of the per-round ratios and their
spread (min–max), and the median of each leg.

1. accept throughput of the gateway (signature, validation, ledger commit, broker ack) / a bare aiohttp
   hello-world served the same way (same TLS, one process), both driven by wrk; CPU per request of each;
   p50/p99 at half the max rate;
2. pipeline photos/s through the whole stack / the same orchestrator pipeline run in-process on the same photos,
   with the same requests (4 photos each), the same batching and the same concurrency (MAX_IN_FLIGHT requests
   at once), photos from memory: no download, ledger, broker or callback;
3. accept→callback of an 8-photo BATCH / the same BATCH through the same pipeline in-process (the same model
   calls, second opinions included, photos from memory): what the stack adds to a BATCH. (Until issue 13 the
   denominator was the bare classify → OCR | detect → aggregate sequence, one photo per call; since the pipeline
   gained its second opinions that is no longer the same work. It is still printed, for reference.)
4. CPU-seconds per photo and peak memory of the stack's processes."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import psutil

from bench.docs import replace_section, stamp
from bench.models import images_of, model_work
from bench.resources import UsageMeter, cpu_seconds
from bench.wrk import WrkResult, delay_for_rate, presign, run_wrk
from devkit.client import PiclossClient
from devkit.photos import PhotoServer
from devkit.procs import free_port, port_open, spawn, stop_pid, wait_until
from devkit.receiver import CallbackReceiver
from devkit.stack import DEMO_APPID, DEMO_MCHID, REPO_ROOT, Stack, StackSettings
from loadtest.photos import default_photos_arg, load_photos
from loadtest.target import is_backbone_only, start_stack
from picloss.engines.pipeline.clients import ModelClients
from picloss.engines.pipeline.fetch import Fetched
from picloss.engines.pipeline.pipeline import MAX_IN_FLIGHT, FileWork, Pipeline
from picloss.platform.imaging import DEFAULT_MAX_PIXELS

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


def spread(values: list[float], digits: int = 3) -> str:
    """`median (min–max, n rounds)`."""
    return f"{median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f}, {len(values)} rounds)"


# ------------------------------------------------------------------ 1. accept
def accept_bench(work: Path, figures: Figures, seconds: int, connections: int, rounds: int) -> None:
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
        bodies = work / "bodies.tsv"

        def drive(url: str, delay_ms: int = 0, secs: int = seconds) -> WrkResult:
            presign(bodies, 40_000, DEMO_APPID, DEMO_MCHID, stack.key, "https://photos.example/a.jpg",
                    "https://insurer.example/cb")
            return run_wrk(url, bodies, work / "bench.lua", seconds=secs, connections=connections,
                           delay_ms=delay_ms)

        def measured(url: str, pids: dict[str, int]) -> tuple[WrkResult, dict[str, float]]:
            before = {name: cpu_seconds([pid]) for name, pid in pids.items()}
            machine0 = sum(psutil.cpu_times()[:3])
            result = drive(url)
            per_request = {name: 1000 * (cpu_seconds([pid]) - before[name]) / max(1, result.requests)
                           for name, pid in pids.items()}
            per_request["whole machine"] = 1000 * (sum(psutil.cpu_times()[:3]) - machine0) / max(1, result.requests)
            return result, per_request

        drive(hello_url, secs=3)  # warm-up of both: connection pools, page cache, PostgreSQL plans
        drive(stack.gateway_url, secs=3)
        assert hello is not None
        hello_pids = {"hello": hello.pid}
        gateway_pids = {name: p.pid for name, p in stack.procs.items()}
        hellos: list[tuple[WrkResult, dict[str, float]]] = []
        gateways: list[tuple[WrkResult, dict[str, float]]] = []
        for _ in range(rounds):  # interleaved: A, B, A, B, ...
            hellos.append(measured(hello_url, hello_pids))
            gateways.append(measured(stack.gateway_url, gateway_pids))
        ratios = [g.rps / h.rps for (h, _), (g, _) in zip(hellos, gateways, strict=True)]
        bad = sum(g.non_2xx + g.errors for g, _ in gateways)
        figures.add(f"bare aiohttp hello-world (TLS, 1 process, wrk -c{connections}, {seconds} s legs)",
                    f"{spread([h.rps for h, _ in hellos], 0)} req/s")
        figures.add("gateway accept (signature + validation + ledger commit + broker ack)",
                    f"{spread([g.rps for g, _ in gateways], 0)} req/s ({bad} non-2xx/errors)")
        figures.add("accept throughput ratio gateway / bare aiohttp (median of per-round ratios)",
                    spread(ratios), verdict(median(ratios), TARGETS["accept"]))

        def cpu_line(runs: list[tuple[WrkResult, dict[str, float]]]) -> str:
            names = list(runs[0][1])
            return ", ".join(f"{name} {median([r[1][name] for r in runs]):.3f} ms" for name in names)

        figures.add("CPU per request, hello-world runs (median)", cpu_line(hellos))
        figures.add("CPU per accepted request, gateway runs (median)", cpu_line(gateways))
        gw_rps = median([g.rps for g, _ in gateways])
        first_delay = max(1, int(connections / (gw_rps / 2) * 1000))
        probe = drive(stack.gateway_url, delay_ms=first_delay, secs=max(3, seconds // 2))
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


class MemoryFetcher:
    """The pipeline's fetcher, from memory: the raw leg downloads nothing."""

    def __init__(self, by_url: dict[str, bytes]) -> None:
        self._by_url = by_url

    async def fetch(self, url: str) -> Fetched:
        data = self._by_url[url]
        return Fetched(data, hashlib.md5(data).hexdigest())


async def raw_pipeline(clients: ModelClients, by_url: dict[str, bytes], per_request: list[list[dict]],
                       in_flight: int, model: str) -> float:
    """Seconds for the orchestrator's own pipeline on these requests, `in_flight` at once (as MAX_IN_FLIGHT
    lets the orchestrator), photos from memory."""
    pipeline = Pipeline(clients=clients, fetcher=MemoryFetcher(by_url), max_pixels=DEFAULT_MAX_PIXELS,  # type: ignore[arg-type]
                        fetch_concurrency=8, damage_batch=8)
    slots = asyncio.Semaphore(in_flight)

    async def one(i: int, files: list[dict]) -> None:
        async with slots:
            work = [FileWork(idx=j, fileid=f"{i}-{j}", fileurl=f["fileurl"], md5_given=None)
                    for j, f in enumerate(files)]
            await pipeline.run(f"bench-{i}", model, work)

    started = time.perf_counter()
    await asyncio.gather(*(one(i, files) for i, files in enumerate(per_request)))
    return time.perf_counter() - started


async def pipeline_bench(stack: Stack, photos_dir: str | None, figures: Figures, requests: int,
                         rounds: int) -> None:
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
        n_photos = sum(len(r) for r in per_request)
        scope = " (backbone only: no model ran, files end 5001)" if backbone_only else ""
        async with PiclossClient(
            stack.gateway_url, DEMO_APPID, DEMO_MCHID, stack.key, str(stack.cert_file)
        ) as client:
            await submit_and_wait(client, receiver, per_request[:1], "SINGLE")  # warm-up
            pids = [p.pid for p in stack.procs.values()]
            if backbone_only:
                async with UsageMeter(pids) as usage:
                    took, _ = await submit_and_wait(client, receiver, per_request, "SINGLE")
                figures.add(f"pipeline through the whole stack, {requests} SINGLE × 4 photos{scope}",
                            f"{n_photos / took:.2f} photos/s")
                figures.add(f"CPU per photo, all stack processes{scope}", f"{usage.cpu_s / n_photos:.3f} CPU-s")
                figures.add("pipeline / raw model throughput", "not measurable (model services not running)")
                figures.add("8-photo BATCH accept→callback / sequential model compute",
                            "not measurable (model services not running)")
                return
            clients = model_clients(stack)
            in_flight = int(stack.s.env.get("MAX_IN_FLIGHT", MAX_IN_FLIGHT))
            try:
                by_url = {server.url(name): data for name, data in photos.items()}
                await raw_pipeline(clients, by_url, per_request[:1], in_flight, "SINGLE")  # warm-up
                stack_pps, raw_pps, cpu, peak, idle = [], [], [], [], []
                for _ in range(rounds):  # interleaved: stack, raw, stack, raw, ...
                    async with UsageMeter(pids) as usage:
                        took, _ = await submit_and_wait(client, receiver, per_request, "SINGLE")
                    stack_pps.append(n_photos / took)
                    cpu.append(usage.cpu_s / n_photos)
                    peak.append(usage.peak_rss)
                    idle.append(usage.idle_rss)
                    raw_pps.append(n_photos / await raw_pipeline(clients, by_url, per_request, in_flight, "SINGLE"))
                figures.add(f"pipeline through the whole stack, {requests} SINGLE × 4 photos",
                            f"{spread(stack_pps, 2)} photos/s")
                figures.add(f"the same pipeline in-process on the same photos ({requests} requests × 4, "
                            f"{in_flight} at once, batched alike; no download/ledger/broker/callback)",
                            f"{spread(raw_pps, 2)} photos/s")
                ratios = [a / b for a, b in zip(stack_pps, raw_pps, strict=True)]
                figures.add("pipeline / raw model throughput (median of per-round ratios)", spread(ratios),
                            verdict(median(ratios), TARGETS["pipeline"]))
                figures.add("CPU per photo, all stack processes (median)", f"{median(cpu):.3f} CPU-s")
                figures.add(
                    "peak resident memory of the stack during the stack legs",
                    f"{max(peak) / 2**20:.0f} MiB (idle {min(idle) / 2**20:.0f} MiB, "
                    f"+{(max(peak) - min(idle)) / 2**20 / n_photos:.1f} MiB per photo in a leg)",
                )
                eight = [server.file_desc(names[i % len(names)]) for i in range(8)]
                eight_images = images_of([photos[names[i % len(names)]] for i in range(8)])
                latencies, inproc, seqs = [], [], []
                for _ in range(rounds):  # interleaved: BATCH through the stack, the same BATCH in-process, ...
                    _, (batch_latency,) = await submit_and_wait(client, receiver, [eight], "BATCH")
                    latencies.append(batch_latency)
                    inproc.append(await raw_pipeline(clients, by_url, [eight], 1, "BATCH"))
                    seqs.append(await model_work(clients, eight_images, sequential=True, aggregate=True))
                figures.add("8-photo BATCH accept→callback", f"{spread(latencies, 2)} s")
                figures.add("the same BATCH through the same pipeline in-process (the same model calls, "
                            "second opinions included; photos from memory)", f"{spread(inproc, 2)} s")
                batch_ratios = [a / b for a, b in zip(latencies, inproc, strict=True)]
                figures.add("BATCH accept→callback / the same BATCH in-process (median of per-round ratios)",
                            spread(batch_ratios),
                            verdict(median(batch_ratios), TARGETS["batch"], higher_is_better=False))
                figures.add("for reference: classify → OCR or detect → aggregate of the same 8 photos, one photo "
                            "per call, without the pipeline's second opinions (the earlier denominator)",
                            f"{spread(seqs, 2)} s")
            finally:
                await clients.close()
    finally:
        await server.stop()
        await receiver.stop()


def decode_bench(photos: dict[str, bytes], figures: Figures, rounds: int) -> None:
    """Decoding CPU per photo along its way (issue 14 item 4), interleaved: before, every model service decoded the
    full photo; now the classifier and the damage service decode it reduced to their models' size
    (picloss.platform.imaging
    JPEG DCT reduction), the OCR in full. The orchestrator's check (a 1/8 decode) is in both. Two photo sizes: a
    12 MP phone photo (a dataset photo upscaled to 4000 × 3000, JPEG q90) and the bench's own photos."""
    import io

    from PIL import Image

    from picloss.engines.classifier.classify import decode as classifier_decode
    from picloss.engines.damage.assess import decode as damage_decode
    from picloss.platform.imaging import decode_image, validate_image

    sample = next(iter(photos.values()))
    buf = io.BytesIO()
    Image.open(io.BytesIO(sample)).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC).save(
        buf, "JPEG", quality=90)
    sets = {"12 MP phone photo": [buf.getvalue()], "the bench photos": list(photos.values())}

    def cpu_ms(datas: list[bytes], steps: list) -> float:  # type: ignore[type-arg]
        start = time.process_time()
        for data in datas:
            for step in steps:
                step(data)
        return (time.process_time() - start) * 1000 / len(datas)

    ways = {
        "damage photo": ([validate_image, decode_image, decode_image],
                         [validate_image, classifier_decode, damage_decode]),
        "document photo": ([validate_image, decode_image, decode_image],
                           [validate_image, classifier_decode, decode_image]),
    }
    for set_name, datas in sets.items():
        for way, (before_steps, after_steps) in ways.items():
            reps = max(1, 8 // len(datas))
            before, after = [], []
            for _ in range(rounds):  # interleaved: before, after, before, after, ...
                before.append(cpu_ms(datas * reps, before_steps))
                after.append(cpu_ms(datas * reps, after_steps))
            ratios = [a / b for a, b in zip(after, before, strict=True)]
            figures.add(f"decoding CPU per {way} ({set_name}): full decode in each model service → at its "
                        "models' size", f"{median(before):.0f} → {median(after):.0f} ms (ratio {spread(ratios, 2)})")


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
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every A/B comparison (≥ 3)")
    parser.add_argument("--skip-pipeline", action="store_true", help="only the accept figures (profiling)")
    args = parser.parse_args()
    if args.rounds < 3:
        parser.error("--rounds: at least 3 (medians and a spread need them)")
    shutil.rmtree(args.work_dir, ignore_errors=True)
    args.work_dir.mkdir(parents=True)
    figures = Figures()
    if not args.skip_accept:
        accept_bench(args.work_dir, figures, args.seconds, args.connections, args.rounds)
    if not args.skip_pipeline:
        decode_bench(load_photos(args.photos), figures, args.rounds)
        stack = start_stack(args.work_dir / "pipeline", env={"LOG_LEVEL": args.log_level}, mode=args.stack)
        try:
            asyncio.run(pipeline_bench(stack, args.photos, figures, args.requests, args.rounds))
        finally:
            stack.down()
    photos = f"photos: {args.photos}" if args.photos else "photos: generated 640×480 JPEGs"
    text = "\n".join([f"{stamp()}; 2 shared CPU cores; {photos}; {args.rounds} interleaved rounds per "
                      "comparison, median (min–max).", "", figures.table()])
    print(text)
    if not args.no_docs:
        replace_section(REPO_ROOT / "docs" / "benchmarks.md", HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
