"""`make drill`: two replicas of every process (gateways, orchestrators, dispatchers, model services) under
steady load sent round robin to both gateways (a retry goes to the other one). SIGKILL and restart every
process in turn, one replica at a time; SIGKILL and restart PostgreSQL; lose the broker: with the
orchestrators and dispatchers down, so that accepted events and result events sit unconsumed, SIGKILL the
memory-only broker and start an empty one (topics, events, committed offsets all gone) — the ledger's
re-drive and the dispatchers' reconciliation must bring every request back; make the callback receiver
refuse, time out, answer 500 and answer slowly for a while; rotate the ledger's data key under load (the new key
first, every gateway, orchestrator and dispatcher restarted, the re-seal, the old key dropped, restarted again:
every stored result must still open). Across the gateways the same signed bytes must be
accepted once (NONCE_REPLAYED at the other) and the same req_seqno must give one accept_seqno. Then every
accepted request must end DELIVERED or DELIVERY_FAILED (7 attempts), none lost, and every delivered body must
equal the ledger's result (via the query endpoint, nonce and timestamp aside). Prints the table and records
it in docs/reliability.md."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.docs import replace_section, stamp
from bench.load import SteadyLoad, Submitted, without_envelope
from devkit.client import REQUEST_PATH, PiclossClient
from devkit.infra import start_postgres
from devkit.photos import PhotoServer
from devkit.procs import free_port
from devkit.receiver import Behaviour, CallbackReceiver
from devkit.stack import DEMO_APPID, DEMO_MCHID, MODEL_SERVICES, REPO_ROOT, Stack, instances
from loadtest.photos import default_photos_arg, load_photos
from loadtest.target import is_backbone_only, start_stack
from picloss.platform.ledger import Ledger
from picloss.platform.ledger.reseal import reseal_all
from picloss.platform.ledger.sealing import DataKeys, new_key_entry
from picloss.platform.processes import CONSUMERS, GATEWAYS
from picloss.protocol import json as pjson

DRILL_ENV = {"CALLBACK_RETRY_DELAYS": "1,1,2,2,3,3", "CALLBACK_TIMEOUT_S": "2", "LOG_LEVEL": "INFO",
             "REDRIVE_AFTER_S": "20", "REDRIVE_EVERY_S": "2", "KAFKA_SESSION_TIMEOUT_MS": "6000"}
FINAL = ("DELIVERED", "DELIVERY_FAILED")
# Every process is killed and restarted in the order a request meets them (checked against
# picloss/platform/processes.py).
KILL_ORDER = ("gateway", "orchestrator", *MODEL_SERVICES, "dispatcher")
SEALERS = (*GATEWAYS, *CONSUMERS)  # the processes that read the data keys file when they start
HEADING = "## Latest drill"


@dataclass
class Verdict:
    accepted: int
    delivered: int
    delivery_failed: int
    lost: list[str]
    wrong_bodies: list[str]
    duplicates: int
    failed_with_other_than_7: list[str]
    delivered_never_received: list[str]
    bad_signatures: int
    replicas: int = 1
    stranded_at_broker_loss: int = 0
    redriven: int = 0
    cross_gateway: list[str] = field(default_factory=list)  # failed checks of nonces/idempotency across gateways
    resealed: int = 0                 # stored results the re-seal moved to the new data key
    left_under_old_key: int = -1      # after the rotation (must be 0)
    results_not_opening: list[str] = field(default_factory=list)  # final, yet the query has no result

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.wrong_bodies
            or self.failed_with_other_than_7
            or self.delivered_never_received
            or self.bad_signatures
            or self.cross_gateway
            or self.left_under_old_key != 0
            or self.results_not_opening
        )

    def table(self) -> str:
        rows = [
            ("accepted", self.accepted),
            ("delivered", self.delivered),
            ("delivery-failed (7 attempts)", self.delivery_failed),
            ("lost: not final after the drain (must be 0)", len(self.lost)),
            ("delivered with a wrong body (must be 0)", len(self.wrong_bodies)),
            ("duplicate deliveries (allowed)", self.duplicates),
            ("DELIVERY_FAILED without 7 attempts (must be 0)", len(self.failed_with_other_than_7)),
            ("DELIVERED but never answered 2xx here (must be 0)", len(self.delivered_never_received)),
            ("callbacks with a bad signature (must be 0)", self.bad_signatures),
            ("replicas of every process", self.replicas),
            ("requests not yet DONE, or DONE but undelivered, when the broker lost its data",
             self.stranded_at_broker_loss),
            ("requests the ledger re-drive published again", self.redriven),
            ("failed checks across gateways: one nonce, one req_seqno (must be 0)", len(self.cross_gateway)),
            ("stored results moved to the new data key by the re-seal", self.resealed),
            ("stored results under the old data key after the rotation (must be 0)", self.left_under_old_key),
            ("final requests whose stored result does not open (must be 0)", len(self.results_not_opening)),
        ]
        return "\n".join(["| figure | count |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


class Drill:
    def __init__(self, stack: Stack, receiver: CallbackReceiver, load: SteadyLoad, hold_s: float) -> None:
        self.stack, self.receiver, self.load, self.hold_s = stack, receiver, load, hold_s
        self.log: list[str] = []
        self.stranded = 0
        self.cross_gateway: list[str] = []
        self.resealed = 0
        self.left_under_old_key = -1

    def note(self, what: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {what}"
        self.log.append(line)
        print(line, flush=True)

    async def kill_and_restart(self, name: str) -> None:
        self.note(f"SIGKILL {name}")
        await asyncio.to_thread(self.stack.kill, name)
        await asyncio.sleep(2)
        started = time.monotonic()
        await asyncio.to_thread(self.stack.start, name)
        self.note(f"{name} ready again after {time.monotonic() - started:.1f} s")
        await asyncio.sleep(self.hold_s)

    async def restart_postgres(self) -> None:
        pg = self.stack.postgres
        assert pg is not None
        self.note("SIGKILL postgres")
        await asyncio.to_thread(self.stack.kill, "postgres")
        await asyncio.sleep(3)
        new = await asyncio.to_thread(start_postgres, pg.data_dir, pg.port, self.stack.logs / "postgres.log")
        self.stack.postgres, self.stack.procs["postgres"] = new, new.proc
        self.note("postgres restarted (crash recovery)")
        await asyncio.sleep(self.hold_s * 2)

    async def lose_broker(self) -> None:
        """Stop the consumers, let accepted events and result events pile up, then lose the broker's data."""
        consumers = [n for kind in CONSUMERS for n in instances(kind, self.stack.s.replicas)]
        for name in consumers:
            self.note(f"SIGKILL {name}")
            await asyncio.to_thread(self.stack.kill, name)
        await asyncio.sleep(self.hold_s)
        self.stranded = await self._unfinished()
        self.note(f"SIGKILL broker with {self.stranded} requests not yet DONE or DONE but undelivered; "
                  "an empty broker starts (topics, events, offsets gone)")
        await asyncio.to_thread(self.stack.restart_broker)
        for name in consumers:
            await asyncio.to_thread(self.stack.start, name)
        self.note("orchestrators and dispatchers running again on the empty broker")
        await asyncio.sleep(self.hold_s * 2)

    async def _unfinished(self) -> int:
        assert self.stack.postgres is not None
        conn = await asyncpg.connect(self.stack.postgres.url)
        try:
            return int(await conn.fetchval(
                "SELECT count(*) FROM requests r WHERE r.state IN ('ACCEPTED', 'PROCESSING') OR (r.state = 'DONE' "
                "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.accept_seqno = r.accept_seqno))"))
        finally:
            await conn.close()

    async def across_gateways(self) -> None:
        """The same signed bytes at both gateways: one SUCCESS, one NONCE_REPLAYED. The same req_seqno with
        fresh nonces at both: one accept_seqno."""
        first, second = self.load.clients[0], self.load.clients[-1]
        files = self.load.files[:1]
        body = first.envelope(files=files, model="SINGLE", req_seqno="drill-x-" + uuid.uuid4().hex,
                              callback_url=self.load.callback_base + "/cb")
        raw = pjson.dumps(body)
        answers = [(await c.post_raw(REQUEST_PATH, raw)).body for c in (first, second)]
        codes = [str(a.get("result_code")) for a in answers]
        if answers[0].get("accept_seqno"):  # judged with the load: it must be delivered like the rest
            self.load.submitted.append(Submitted(body["req_seqno"], "SINGLE", "/cb", answers[0]["accept_seqno"],
                                                 time.time(), "SUCCESS"))
        if codes != ["SUCCESS", "NONCE_REPLAYED"]:
            self.cross_gateway.append(f"one nonce at both gateways answered {codes}")
        seqno = "drill-y-" + uuid.uuid4().hex
        replies = [(await c.submit(files, "SINGLE", self.load.callback_base + "/cb", seqno)).body
                   for c in (first, second)]
        accepts = {r.get("accept_seqno") for r in replies}
        if replies[0].get("accept_seqno"):
            self.load.submitted.append(Submitted(seqno, "SINGLE", "/cb", replies[0]["accept_seqno"], time.time(),
                                                 "SUCCESS"))
        if [r.get("result_code") for r in replies] != ["SUCCESS", "SUCCESS"] or len(accepts) != 1:
            self.cross_gateway.append(f"one req_seqno at both gateways answered {replies}")
        self.note(f"across gateways: one nonce → {codes}; one req_seqno → {len(accepts)} accept_seqno")

    async def receiver_misbehaves(self) -> None:
        self.note("receiver refuses connections")
        await self.receiver.stop()
        await asyncio.sleep(self.hold_s)
        await self.receiver.start()
        for what, behaviour in (
            ("times out (3 s > CALLBACK_TIMEOUT_S=2)", Behaviour(delay_s=3)),
            ("answers 500", Behaviour(always_fail=True)),
            ("answers slowly (1.5 s, within the timeout)", Behaviour(delay_s=1.5)),
        ):
            self.note(f"receiver {what}")
            self.receiver.behaviours["/cb"] = behaviour
            await asyncio.sleep(self.hold_s)
        self.receiver.behaviours.pop("/cb", None)
        self.note("receiver healthy again")

    async def _restart_sealers(self) -> None:
        """Gateways, orchestrators and dispatchers read the data keys file when they start: SIGTERM, start, one
        replica at a time."""
        for kind in SEALERS:
            for name in instances(kind, self.stack.s.replicas):
                await asyncio.to_thread(self.stack.restart, name, signal.SIGTERM)

    async def rotate_data_keys(self) -> None:
        """Issue 23: the new data key first (the old one second), the processes restarted, the re-seal beside the
        live services, then the old key dropped and the processes restarted again."""
        old = json.loads(self.stack.data_keys_file.read_text())["keys"]
        new = new_key_entry(f"drill-{time.strftime('%H%M%S')}")
        self.stack.write_data_keys([new, *old])
        self.note(f"data key {new['id']} first, {len(old)} old key(s) kept; restarting the processes that seal")
        await self._restart_sealers()
        assert self.stack.postgres is not None
        ledger = await Ledger.connect(self.stack.postgres.url, max_size=2, apply_migrations=False)
        try:
            self.resealed = await reseal_all(ledger, DataKeys.from_file(self.stack.data_keys_file), batch=50)
            self.stack.write_data_keys([new])
            self.note(f"re-seal moved {self.resealed} results; old key(s) dropped; restarting again")
            await self._restart_sealers()
            self.left_under_old_key = await ledger.to_reseal(new["id"])
        finally:
            await ledger.close()
        await asyncio.sleep(self.hold_s)

    async def run(self) -> None:
        stop = asyncio.Event()
        loader = asyncio.create_task(self.load.run(stop))
        await asyncio.sleep(self.hold_s)
        if len(self.load.clients) > 1:
            await self.across_gateways()
        for kind in (k for k in KILL_ORDER if k not in MODEL_SERVICES or k in self.stack.procs):
            for name in instances(kind, self.stack.s.replicas):
                await self.kill_and_restart(name)
        await self.rotate_data_keys()
        await self.restart_postgres()
        await self.lose_broker()
        await self.receiver_misbehaves()
        stop.set()
        await loader
        self.note(f"load stopped: {len(self.load.submitted)} submitted, {len(self.load.accepted())} accepted")


async def final_states(client: PiclossClient, accepted: list[Submitted], drain_s: float) -> dict[str, dict]:
    """Query every accepted request until all are final or `drain_s` has passed."""
    states: dict[str, dict] = {}
    deadline = time.monotonic() + drain_s
    while True:
        pending = [s for s in accepted if states.get(str(s.accept_seqno), {}).get("state") not in FINAL]
        for item in pending:
            try:
                reply = await client.query(accept_seqno=item.accept_seqno)
            except Exception:
                continue
            if reply.body.get("result_code") == "SUCCESS":
                states[str(item.accept_seqno)] = reply.body
        if all(states.get(str(s.accept_seqno), {}).get("state") in FINAL for s in accepted):
            return states
        if time.monotonic() > deadline:
            return states
        await asyncio.sleep(2)


def judge(accepted: list[Submitted], states: dict[str, dict], receiver: CallbackReceiver) -> Verdict:
    by_seqno: dict[str, list] = {}
    for r in receiver.received:
        by_seqno.setdefault(str(r.body.get("accept_seqno")), []).append(r)
    delivered = failed = dup = 0
    lost, wrong, not7, never = [], [], [], []
    for item in accepted:
        seqno = str(item.accept_seqno)
        body = states.get(seqno, {})
        state = body.get("state")
        if state not in FINAL:
            lost.append(f"{seqno} ({state})")
            continue
        expected = without_envelope(body.get("result", {}))
        got = by_seqno.get(seqno, [])
        wrong += [seqno for r in got if without_envelope(r.body) != expected]
        oks = [r for r in got if r.answered == 200]
        if state == "DELIVERED":
            delivered += 1
            dup += max(0, len(oks) - 1)
            if not oks:
                never.append(seqno)
        else:
            failed += 1
            if len(body.get("attempts", [])) != 7:
                not7.append(f"{seqno} ({len(body.get('attempts', []))} attempts)")
    bad = sum(1 for r in receiver.received if not r.signature_ok)
    return Verdict(len(accepted), delivered, failed, lost, sorted(set(wrong)), dup, not7, never, bad)


async def redriven(stack: Stack) -> int:
    assert stack.postgres is not None
    conn = await asyncpg.connect(stack.postgres.url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM requests WHERE redrives > 0"))
    finally:
        await conn.close()


async def drill(args: argparse.Namespace, stack: Stack) -> tuple[Verdict, Drill]:
    photos = await PhotoServer().start()
    receiver = await CallbackReceiver(keys=[stack.key], port=free_port()).start()
    receiver.behaviours["/always-500"] = Behaviour(always_fail=True)
    for name, data in load_photos(args.photos, limit=8).items():
        photos.add(name, data)
    try:
        clients = [PiclossClient(url, DEMO_APPID, DEMO_MCHID, stack.key, str(stack.cert_file))
                   for url in stack.gateway_urls]
        async with contextlib.AsyncExitStack() as opened:
            for c in clients:
                await opened.enter_async_context(c)
            client = clients[0]
            load = SteadyLoad(
                clients,
                [photos.file_desc(n) for n in photos.photos],
                receiver.url(""),
                rate_per_s=args.rate,
                failing_path_every=20,
            )
            run = Drill(stack, receiver, load, hold_s=args.hold)
            await run.run()
            accepted = load.accepted()
            states = await final_states(client, accepted, args.drain)
            run.note(f"drained; gateway answers seen during the drill: {dict(load.errors)}; "
                     f"{load.cross_gateway_retries} retries went to another gateway")
            verdict = judge(accepted, states, receiver)
            verdict.replicas = stack.s.replicas
            verdict.stranded_at_broker_loss = run.stranded
            verdict.redriven = await redriven(stack)
            verdict.cross_gateway = run.cross_gateway
            verdict.resealed, verdict.left_under_old_key = run.resealed, run.left_under_old_key
            verdict.results_not_opening = [str(s.accept_seqno) for s in accepted
                                           if states.get(str(s.accept_seqno), {}).get("state") in FINAL
                                           and "result" not in states[str(s.accept_seqno)]]
            return verdict, run
    finally:
        await photos.stop()
        await receiver.stop()


def report(verdict: Verdict, run: Drill, backbone_only: bool, took_s: float) -> str:
    scope = (
        "backbone only (model services not all startable: files end with code 5001)"
        if backbone_only
        else "full stack"
    )
    lines = [
        f"{stamp()}; `make drill`, {scope}, {took_s:.0f} s in all. "
        f"Result: **{'PASS' if verdict.ok else 'FAIL'}**.",
        "",
        verdict.table(),
        "",
        "Timeline:",
        "",
        "```",
        *run.log,
        "```",
    ]
    for label, items in (
        ("lost", verdict.lost),
        ("wrong bodies", verdict.wrong_bodies),
        ("DELIVERY_FAILED without 7 attempts", verdict.failed_with_other_than_7),
        ("DELIVERED, never received", verdict.delivered_never_received),
        ("across gateways", verdict.cross_gateway),
        ("stored result does not open", verdict.results_not_opening),
    ):
        if items:
            lines += ["", f"{label}: " + ", ".join(items[:20])]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.drill")
    parser.add_argument("--rate", type=float, default=1.5, help="requests per second")
    parser.add_argument("--hold", type=float, default=6, help="seconds of load between faults")
    parser.add_argument("--drain", type=float, default=240)
    parser.add_argument("--replicas", type=int, default=2, help="of every process")
    parser.add_argument("--photos", default=default_photos_arg(), help="folders, comma-separated")
    parser.add_argument("--stack", choices=["auto", "full", "backbone"], default="auto")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/picloss-drill"))
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/reliability.md")
    args = parser.parse_args()
    shutil.rmtree(args.work_dir, ignore_errors=True)
    started = time.monotonic()
    stack = start_stack(args.work_dir, env=DRILL_ENV, mode=args.stack, replicas=args.replicas)
    backbone_only = is_backbone_only(stack)
    try:
        verdict, run = asyncio.run(drill(args, stack))
    finally:
        stack.down()
    text = report(verdict, run, backbone_only, time.monotonic() - started)
    print(text)
    if not args.no_docs:
        replace_section(REPO_ROOT / "docs" / "reliability.md", HEADING, text)
    print(f"(stack logs in {args.work_dir})")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
