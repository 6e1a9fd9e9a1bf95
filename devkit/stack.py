"""The whole picloss stack on 127.0.0.1: broker, database, model services, orchestrator, dispatcher and the
HTTPS gateway, each a real process. `make up`, `make demo` and the e2e tests all use this class."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devkit.infra import Broker, Postgres, create_topics, start_broker, start_postgres
from devkit.procs import free_port, pid_alive, port_open, spawn, stop_pid, wait_until
from picloss.platform.kafka import REQUESTS_TOPIC, RESULTS_TOPIC
from picloss.platform.ledger.sealing import new_key_entry
from picloss.platform.processes import BY_NAME, CONSUMERS, GATEWAYS, MODEL_SERVICES, PROCESSES

REPO_ROOT = Path(__file__).resolve().parents[1]
# Started in this order (the model services warm up while the rest start), stopped the other way round.
PROCESS_KINDS = (*MODEL_SERVICES, *CONSUMERS, *GATEWAYS)
STOP_ORDER = (*GATEWAYS, *CONSUMERS, *MODEL_SERVICES, "postgres", "broker")


def kind_of(name: str) -> str:
    """`damage-2` → `damage`: the second and later replicas of a process are named `<kind>-<n>`."""
    base, _, n = name.rpartition("-")
    return base if base in PROCESS_KINDS and n.isdigit() else name


def instances(kind: str, replicas: int) -> list[str]:
    """The process names of `replicas` replicas: `gateway`, `gateway-2`, ..."""
    return [kind, *(f"{kind}-{i}" for i in range(2, replicas + 1))]


def _stop_rank(name: str) -> int:
    kind = kind_of(name)
    return STOP_ORDER.index(kind) if kind in STOP_ORDER else len(STOP_ORDER)
DEMO_APPID, DEMO_MCHID = "picloss-demo-app", "picloss-demo-mch"
ENV_FILE_NAME = "picloss.env"


@dataclass
class StackSettings:
    run_dir: Path
    gateway_port: int = BY_NAME["gateway"].port or 0
    grpc_ports: dict[str, int] = field(default_factory=lambda: {n: BY_NAME[n].port or 0 for n in MODEL_SERVICES})
    metrics_ports: dict[str, int] = field(default_factory=lambda: {p.name: p.metrics_port for p in PROCESSES})
    broker_port: int = 19092
    postgres_port: int = 15432
    partitions: int = 4
    tls: bool = True
    env: dict[str, str] = field(default_factory=dict)  # extra settings for every process
    replicas: int = 1  # of every process (gateways, orchestrators, dispatchers, model services)
    gateway_ports: dict[str, int] = field(default_factory=dict)  # of gateway-2...; `gateway` uses gateway_port

    def __post_init__(self) -> None:
        """Free ports for every replica past the first that has none yet."""
        for kind in PROCESS_KINDS:
            for name in instances(kind, self.replicas)[1:]:
                self.metrics_ports.setdefault(name, free_port())
                if kind in MODEL_SERVICES:
                    self.grpc_ports.setdefault(name, free_port())
                if kind == "gateway":
                    self.gateway_ports.setdefault(name, free_port())
        self.gateway_ports["gateway"] = self.gateway_port

    @classmethod
    def ephemeral(cls, run_dir: Path, **kwargs: object) -> StackSettings:
        """Free ports everywhere (tests)."""
        return cls(run_dir=run_dir, gateway_port=free_port(), broker_port=free_port(), postgres_port=free_port(),
                   grpc_ports={n: free_port() for n in MODEL_SERVICES},
                   metrics_ports={p.name: free_port() for p in PROCESSES},
                   **kwargs)  # type: ignore[arg-type]

    def names(self, kinds: tuple[str, ...] = PROCESS_KINDS) -> list[str]:
        """Every process name of these kinds, replicas included."""
        return [name for kind in kinds for name in instances(kind, self.replicas)]


class Stack:
    def __init__(self, settings: StackSettings) -> None:
        self.s = settings
        self.run_dir = settings.run_dir
        self.logs = self.run_dir / "logs"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.broker: Broker | None = None
        self.postgres: Postgres | None = None
        self.key = ""
        self.env_overrides: dict[str, dict[str, str]] = {}  # per process name, applied at its next start

    # --------------------------------------------------------------- settings
    @property
    def scheme(self) -> str:
        return "https" if self.s.tls else "http"

    @property
    def gateway_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.s.gateway_port}"

    @property
    def gateway_urls(self) -> list[str]:
        """One URL per gateway replica (the first is `gateway_url`)."""
        return [f"{self.scheme}://127.0.0.1:{self.s.gateway_ports[n]}" for n in instances("gateway", self.s.replicas)]

    def _addresses(self, kind: str) -> str:
        """Every replica of a model service, comma-separated (the orchestrator balances over them)."""
        return ",".join(f"127.0.0.1:{self.s.grpc_ports[n]}" for n in instances(kind, self.s.replicas))

    @property
    def keys_file(self) -> Path:
        return self.run_dir / "keys.json"

    @property
    def data_keys_file(self) -> Path:
        return self.run_dir / "data-keys.json"

    def _write_data_keys(self) -> None:
        """The ledger's AES-256-GCM data key (kept across `make up` runs of one folder, like the client key)."""
        if not self.data_keys_file.exists():
            self.write_data_keys([new_key_entry("dev-1")])

    def write_data_keys(self, entries: list[dict[str, str]]) -> None:
        """Replace the data keys file (a rotation: processes read it when they start)."""
        tmp = self.data_keys_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"keys": entries}, indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.data_keys_file)

    @property
    def cert_file(self) -> Path:
        return self.run_dir / "tls" / "gateway.crt"

    def _write_keys(self) -> None:
        if self.keys_file.exists():
            clients = json.loads(self.keys_file.read_text())["clients"]
            self.key = clients[0]["keys"][0]
            return
        self.key = secrets.token_hex(32)
        self.keys_file.write_text(json.dumps({"clients": [
            {"appid": DEMO_APPID, "mchid": DEMO_MCHID, "keys": [self.key]}]}, indent=2))
        self.keys_file.chmod(0o600)

    def base_env(self) -> dict[str, str]:
        assert self.postgres is not None and self.broker is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "KAFKA_", "CALLBACK_"))}
        env.update({
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.postgres.url,
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "PICLOSS_KEYS_FILE": str(self.keys_file),
            "PICLOSS_DATA_KEYS_FILE": str(self.data_keys_file),
            "PICLOSS_ORT_THREADS": env.get("PICLOSS_ORT_THREADS", "1"),
            "FETCH_ALLOW_CIDRS": "127.0.0.0/8",
            "CALLBACK_ALLOW_CIDRS": "127.0.0.0/8",
            **{f"{kind.upper()}_ADDR": self._addresses(kind) for kind in MODEL_SERVICES},
        })
        env.update(self.s.env)
        return env

    def component_env(self, name: str) -> dict[str, str]:
        env = self.base_env()
        kind = kind_of(name)
        env.update(self.env_overrides.get(name, {}))
        env["METRICS_PORT"] = str(self.s.metrics_ports[name])
        if kind in MODEL_SERVICES:
            env["GRPC_PORT"] = str(self.s.grpc_ports[name])
        if kind == "gateway":
            env.update({"GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(self.s.gateway_ports[name]),
                        "GATEWAY_TLS": "true" if self.s.tls else "false"})
            if self.s.tls:
                env.update({"GATEWAY_TLS_CERT": str(self.cert_file),
                            "GATEWAY_TLS_KEY": str(self.run_dir / "tls" / "gateway.key")})
        return env

    # -------------------------------------------------------------- lifecycle
    def start_infra(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self._write_keys()
        self._write_data_keys()
        if self.s.tls:
            from devkit.tls import ensure_self_signed

            ensure_self_signed(self.cert_file, self.run_dir / "tls" / "gateway.key")
        self.broker = start_broker(self.s.broker_port, self.logs / "broker.log")
        self.procs["broker"] = self.broker.proc
        self.postgres = start_postgres(self.run_dir / "pgdata", self.s.postgres_port, self.logs / "postgres.log")
        self.procs["postgres"] = self.postgres.proc
        create_topics(self.broker.bootstrap, {REQUESTS_TOPIC: self.s.partitions, RESULTS_TOPIC: self.s.partitions})

    def start(self, name: str, wait: bool = True) -> subprocess.Popen[bytes]:
        module = BY_NAME[kind_of(name)].module
        proc = spawn([sys.executable, "-m", module], self.logs / f"{name}.log", env=self.component_env(name),
                     cwd=REPO_ROOT)
        self.procs[name] = proc
        if wait:
            self.wait_ready(name)
        return proc

    def wait_ready(self, name: str, timeout_s: float = 180) -> None:
        proc, log, kind = self.procs[name], self.logs / f"{name}.log", kind_of(name)
        if kind in MODEL_SERVICES:
            port = self.s.grpc_ports[name]
            wait_until(lambda: grpc_serving(port), timeout_s, name, interval_s=0.3, proc=proc, log=log)
        elif kind == "gateway":
            url = f"{self.scheme}://127.0.0.1:{self.s.gateway_ports[name]}/readyz"
            wait_until(lambda: http_ok(url), timeout_s, name, interval_s=0.2, proc=proc, log=log)
        else:
            port = self.s.metrics_ports[name]
            wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), timeout_s, name, interval_s=0.2,
                       proc=proc, log=log)

    def up(self, components: tuple[str, ...] | None = None) -> None:
        """Start the broker, the database and these kinds of process (default: all), `replicas` of each."""
        self.start_infra()
        names = self.s.names(components or PROCESS_KINDS)
        for name in names:  # start all, then wait: model warm-ups overlap
            self.start(name, wait=False)
        for name in names:
            self.wait_ready(name)
        self.write_state()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        stop_pid(proc.pid, timeout_s=15, sig=sig)
        proc.wait(timeout=15)

    def restart(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.kill(name, sig)
        self.start(name)

    def restart_postgres(self, sig: int = signal.SIGKILL) -> None:
        """Kill PostgreSQL (SIGKILL: a crash, recovered from the WAL at start) and start it again on the same
        data folder and port."""
        assert self.postgres is not None
        self.kill("postgres", sig)
        self.postgres = start_postgres(self.run_dir / "pgdata", self.s.postgres_port, self.logs / "postgres.log")
        self.procs["postgres"] = self.postgres.proc

    def restart_broker(self) -> None:
        """SIGKILL the memory-only broker and start an empty one on the same port: every topic, event and
        committed offset is gone (the processes find the broker again; the first publish re-creates a topic)."""
        assert self.broker is not None
        self.kill("broker")
        self.broker = start_broker(self.s.broker_port, self.logs / "broker.log")
        self.procs["broker"] = self.broker.proc

    def print_logs(self, tail_chars: int = 3000) -> None:
        """The end of every process's log (a test whose stack did not come up prints them)."""
        for log in sorted(self.logs.glob("*.log")):
            print(f"---- {log.name}\n{log.read_text(errors='replace')[-tail_chars:]}")

    def down(self) -> None:
        for name in sorted(self.procs, key=_stop_rank):
            proc = self.procs.pop(name, None)
            if proc is not None and proc.poll() is None:
                stop_pid(proc.pid, timeout_s=15, sig=signal.SIGINT if name == "postgres" else signal.SIGTERM)
        state = self.run_dir / "state.json"
        if state.exists():
            state.unlink()

    # ------------------------------------------------------------ state file
    def write_state(self) -> None:
        assert self.postgres is not None and self.broker is not None
        (self.run_dir / "state.json").write_text(json.dumps({n: p.pid for n, p in self.procs.items()}, indent=2))
        env = {
            "PICLOSS_GATEWAY_URL": self.gateway_url,
            "PICLOSS_CA_CERT": str(self.cert_file) if self.s.tls else "",
            "PICLOSS_APPID": DEMO_APPID,
            "PICLOSS_MCHID": DEMO_MCHID,
            "PICLOSS_KEY": self.key,
            "DATABASE_URL": self.postgres.url,
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "PICLOSS_LOGS": str(self.logs),
        }
        (self.run_dir / ENV_FILE_NAME).write_text("".join(f"{k}={v}\n" for k, v in env.items()))


def stop_recorded(run_dir: Path) -> list[str]:
    """`make down`: stop exactly the processes `make up` recorded."""
    state = run_dir / "state.json"
    if not state.exists():
        return []
    pids: dict[str, int] = json.loads(state.read_text())
    stopped = []
    for name in sorted(pids, key=_stop_rank):
        pid = pids.get(name)
        if pid and pid_alive(pid):
            stop_pid(pid, timeout_s=15, sig=signal.SIGINT if name == "postgres" else signal.SIGTERM)
            stopped.append(name)
    state.unlink()
    return stopped


def http_ok(url: str) -> bool:
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=1, context=ctx) as resp:
            return bool(resp.status == 200)
    except Exception:
        return False


def grpc_serving(port: int) -> bool:
    if not port_open(port):
        return False
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.RpcError:
            return False
        return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)
