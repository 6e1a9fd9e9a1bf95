"""`make images-smoke`: run the stack from the container images and push one signed SINGLE request through it.

The seven processes run as containers of the images `make images` built (`<registry>/picloss-<name>:<tag>`),
each with the image's own command, the chart's security settings (`--read-only --tmpfs /tmp`, uid 10001, no
capabilities, no new privileges), `--network=host` on free 127.0.0.1 ports, the keys file and the gateway's TLS
certificate and key mounted read-only where the chart mounts them, and the environment that
`devkit.stack.Stack.component_env` gives the local processes (paths mapped to the mounts). The broker
and PostgreSQL stay host processes (`Stack.start_infra`). One photo is served from the host (the first
validation photo of ../shared/datasets/damage_severity, read in place, or a drawn car) and submitted as a signed
SINGLE request; the signed callback is received, its signature checked and printed. Every container started
here is stopped and removed on the way out, whatever happened; their logs are kept in `<run-dir>/logs/`.

    .venv/bin/python -m bench.images_smoke --registry ghcr.io/picloss --tag dev [--engine podman]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from devkit.client import PiclossClient
from devkit.photos import PhotoServer, drawn_car_jpeg
from devkit.receiver import CallbackReceiver
from devkit.stack import (
    DEMO_APPID,
    DEMO_MCHID,
    MODEL_SERVICES,
    PROCESS_KINDS,
    REPO_ROOT,
    Stack,
    StackSettings,
    grpc_serving,
    http_ok,
)
from picloss.platform.processes import BY_NAME
from picloss.protocol.codes import CallbackCode, FileCode

PROCESSES = PROCESS_KINDS  # picloss/platform/processes.py, in the dev kit's start order
DATASET_VAL = REPO_ROOT.parent / "shared" / "datasets" / "damage_severity" / "images" / "val"
# Where the chart mounts them (charts/picloss templates); the smoke run mounts the same paths.
KEYS_MOUNT = "/etc/picloss/keys/keys.json"
DATA_KEYS_MOUNT = "/etc/picloss/data-keys/data-keys.json"
TLS_CERT_MOUNT, TLS_KEY_MOUNT = "/etc/picloss/tls/tls.crt", "/etc/picloss/tls/tls.key"
# podman on this kind of machine: crun and the default ulimits fail, runc with cgroupfs works.
PODMAN_FLAGS = "--runtime runc --cgroup-manager=cgroupfs"
PODMAN_RUN_FLAGS = "--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
# Per-file codes of a photo that was downloaded and assessed: OK, or "assessed, nothing of that kind found".
ASSESSED = {int(FileCode.OK), int(FileCode.NO_FIELD), int(FileCode.NO_DAMAGE)}


def detect_engine() -> str:
    for engine in ("docker", "podman"):
        if shutil.which(engine) and subprocess.run([engine, "info"], capture_output=True).returncode == 0:
            return engine
    raise SystemExit("images-smoke: neither Docker nor podman works here (see docs/deploy.md, Images)")


@dataclass
class Containers:
    """The containers this run started, by name; `remove_all` stops and removes exactly those."""

    engine: str
    logs: Path
    names: list[str] = field(default_factory=list)

    @property
    def cli(self) -> list[str]:
        if self.engine == "podman":
            return ["podman", *shlex.split(os.environ.get("PODMAN_FLAGS", PODMAN_FLAGS))]
        return [self.engine]

    def run(self, name: str, image: str, env: dict[str, str], mounts: list[tuple[Path, str]]) -> str:
        container = f"picloss-smoke-{name}-{os.getpid()}"
        cmd = [*self.cli, "run", "--detach", "--name", container, "--pull=never", "--network=host",
               "--read-only", "--tmpfs", "/tmp", "--cap-drop=ALL", "--security-opt=no-new-privileges"]
        if self.engine == "podman":
            cmd += shlex.split(os.environ.get("PODMAN_RUN_FLAGS", PODMAN_RUN_FLAGS))
        for src, dst in mounts:
            cmd += ["--volume", f"{src}:{dst}:ro"]
        for key, value in sorted(env.items()):
            cmd += ["--env", f"{key}={value}"]
        self.names.append(container)  # before it exists: a half-started one is removed too
        done = subprocess.run([*cmd, image], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{self.engine} run {image} failed ({done.returncode}): {done.stderr.strip()}")
        return container

    def running(self, container: str) -> bool:
        out = subprocess.run([*self.cli, "inspect", "--format", "{{.State.Running}}", container],
                             capture_output=True, text=True)
        return out.stdout.strip() == "true"

    def log_tail(self, container: str, chars: int = 3000) -> str:
        out = subprocess.run([*self.cli, "logs", container], capture_output=True, text=True)
        return (out.stdout + out.stderr)[-chars:]

    def remove_all(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for container in reversed(self.names):
            with open(self.logs / f"{container}.log", "w") as out:
                subprocess.run([*self.cli, "logs", container], stdout=out, stderr=subprocess.STDOUT)
            subprocess.run([*self.cli, "stop", "--time", "15", container], capture_output=True)
            subprocess.run([*self.cli, "rm", "--force", container], capture_output=True)
        self.names.clear()


def container_env(stack: Stack, name: str) -> dict[str, str]:
    """What `Stack.component_env` gives the local process, less what it inherits from this shell, with the
    keys file and TLS paths moved to their mounts."""
    env = {k: v for k, v in stack.component_env(name).items()
           if os.environ.get(k) != v and k not in ("PYTHONPATH",)}
    env.setdefault("PICLOSS_ORT_THREADS", os.environ.get("PICLOSS_ORT_THREADS", "1"))
    if "PICLOSS_KEYS_FILE" in env:
        env["PICLOSS_KEYS_FILE"] = KEYS_MOUNT
    if "PICLOSS_DATA_KEYS_FILE" in env:
        env["PICLOSS_DATA_KEYS_FILE"] = DATA_KEYS_MOUNT
    for key, mount in (("GATEWAY_TLS_CERT", TLS_CERT_MOUNT), ("GATEWAY_TLS_KEY", TLS_KEY_MOUNT)):
        if key in env:
            env[key] = mount
    return env


def readable_copies(stack: Stack, into: Path) -> list[tuple[Path, str]]:
    """The keys file and the TLS pair, owned by uid 10001 and readable by it alone (like a Secret mounted with
    fsGroup 10001), to be mounted read-only."""
    into.mkdir(parents=True, exist_ok=True)
    mounts = []
    for src, dst in ((stack.keys_file, KEYS_MOUNT), (stack.data_keys_file, DATA_KEYS_MOUNT),
                     (stack.cert_file, TLS_CERT_MOUNT),
                     (stack.cert_file.with_name("gateway.key"), TLS_KEY_MOUNT)):
        copy = into / Path(dst).name
        shutil.copyfile(src, copy)
        copy.chmod(0o400)
        if os.geteuid() == 0:
            os.chown(copy, 10001, 10001)
        mounts.append((copy, dst))
    return mounts


def ready(stack: Stack, name: str) -> bool:
    if name in MODEL_SERVICES:
        return grpc_serving(stack.s.grpc_ports[name])
    if name == "gateway":
        return http_ok(f"{stack.gateway_url}/readyz")
    return http_ok(f"http://127.0.0.1:{stack.s.metrics_ports[name]}/readyz")


def wait_ready(stack: Stack, containers: Containers, started: dict[str, str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = dict(started)
    while pending:
        for name, container in list(pending.items()):
            if ready(stack, name):
                print(f"  {name} ready ({container})", flush=True)
                del pending[name]
            elif not containers.running(container):
                raise RuntimeError(f"{name}: container {container} stopped\n{containers.log_tail(container)}")
        if pending and time.monotonic() > deadline:
            tails = "\n".join(f"--- {n}\n{containers.log_tail(c)}" for n, c in pending.items())
            raise TimeoutError(f"not ready after {timeout_s:.0f}s: {', '.join(pending)}\n{tails}")
        time.sleep(0.5)


def smoke_photo() -> tuple[str, bytes]:
    photos = sorted(DATASET_VAL.glob("*.jpg")) if DATASET_VAL.is_dir() else []
    if photos:
        return photos[0].name, photos[0].read_bytes()
    return "drawn_car.jpg", drawn_car_jpeg()


async def submit_one(stack: Stack, timeout_s: float) -> int:
    from devkit.demo import describe

    name, data = smoke_photo()
    server = await PhotoServer().start()
    receiver = await CallbackReceiver([stack.key]).start()
    try:
        server.add(name, data)
        async with PiclossClient(stack.gateway_url, DEMO_APPID, DEMO_MCHID, stack.key,
                                 str(stack.cert_file)) as client:
            reply = await client.submit([server.file_desc(name)], "SINGLE", receiver.url("/callback/smoke"))
        print(f"SINGLE {name} ({len(data)} bytes) -> HTTP {reply.status} {reply.body.get('result_code')} "
              f"accept_seqno {reply.body.get('accept_seqno')} (response signature "
              f"{'verified' if reply.signature_ok else 'WRONG'})", flush=True)
        if reply.status != 200 or reply.body.get("result_code") != "SUCCESS" or not reply.signature_ok:
            print(f"images-smoke: the gateway refused the request: {reply.body}")
            return 1
        started = time.monotonic()
        got = await receiver.wait_for(reply.body["accept_seqno"], timeout_s=timeout_s)
        callback = got[-1]
        print(f"callback after {time.monotonic() - started:.1f}s, signature "
              f"{'verified' if callback.signature_ok else 'WRONG'}")
        print(describe(callback.body))
        print(json.dumps(callback.body, ensure_ascii=False, indent=2))
        files = callback.body.get("files", [])
        if not callback.signature_ok:
            print("images-smoke: FAILED, the callback's signature does not verify")
            return 1
        codes = [f.get("result_code") for f in files]
        if callback.body.get("result_code") != CallbackCode.SUCCESS or not codes or not set(codes) <= ASSESSED:
            print(f"images-smoke: FAILED, result_code {callback.body.get('result_code')}, per-file codes {codes}")
            return 1
        return 0
    finally:
        await server.stop()
        await receiver.stop()


def run(args: argparse.Namespace) -> int:
    engine = args.engine or detect_engine()
    run_dir = args.run_dir.resolve()
    if run_dir.exists():
        shutil.rmtree(run_dir)
    stack = Stack(StackSettings.ephemeral(run_dir))
    containers = Containers(engine, run_dir / "logs")
    t0 = time.monotonic()
    try:
        print(f"images-smoke: {engine}, images {args.registry}/picloss-<name>:{args.tag}, run dir {run_dir}")
        stack.start_infra()
        print(f"broker {stack.broker.bootstrap if stack.broker else '?'} and PostgreSQL "
              f"{stack.postgres.url if stack.postgres else '?'} on the host", flush=True)
        mounts = readable_copies(stack, run_dir / "mounts")
        started = {}
        for name in PROCESSES:
            env = container_env(stack, name)
            wanted = [m for m in mounts if (name in ("gateway", "dispatcher") and m[1] == KEYS_MOUNT)
                      or (name in ("gateway", "orchestrator", "dispatcher") and m[1] == DATA_KEYS_MOUNT)
                      or (name == "gateway" and m[1] in (TLS_CERT_MOUNT, TLS_KEY_MOUNT))]
            started[name] = containers.run(name, f"{args.registry}/{BY_NAME[name].image}:{args.tag}", env, wanted)
            print(f"  started {started[name]}: {' '.join(f'{k}={v}' for k, v in sorted(env.items()))}",
                  flush=True)
        wait_ready(stack, containers, started, args.ready_timeout)
        print(f"stack up from the images in {time.monotonic() - t0:.1f}s; gateway {stack.gateway_url}", flush=True)
        rc = asyncio.run(submit_one(stack, args.callback_timeout))
        print("images-smoke: OK" if rc == 0 else "images-smoke: FAILED")
        return rc
    finally:
        print(f"stopping and removing {len(containers.names)} containers; logs in {containers.logs}", flush=True)
        containers.remove_all()
        stack.down()


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through run()'s finally: the containers are removed


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.images_smoke", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", default="ghcr.io/picloss")
    parser.add_argument("--tag", default="dev")
    parser.add_argument("--engine", choices=("docker", "podman"), help="default: docker when it works, else podman")
    parser.add_argument("--run-dir", type=Path, default=REPO_ROOT / ".run" / "images-smoke")
    parser.add_argument("--ready-timeout", type=float, default=300)
    parser.add_argument("--callback-timeout", type=float, default=300)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
