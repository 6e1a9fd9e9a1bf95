"""The Prometheus harness of `make monitor` / `make monitor-check`: a real Prometheus (Debian's `prometheus`)
started, queried and stopped here, and its scrape configuration.

Every scraped process gets the target labels the chart's ServiceMonitor gives it in Kubernetes (the
Prometheus operator's relabelling: namespace, service, job = the Service's name, pod, container, endpoint =
the port name `metrics`, instance), and `honor_labels` stays false as there, so a metric label that collides
with a target label is renamed `exported_<name>` exactly as in a cluster. See docs/monitoring.md.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from picloss.platform.processes import NAMES, TRITON

REPO_ROOT = Path(__file__).resolve().parents[1]
CHART = REPO_ROOT / "charts" / "picloss"
RULES = CHART / "alerts" / "picloss-rules.yaml"

COMPONENTS = NAMES  # picloss/platform/processes.py: every process, in the chart's order
CHART_NAME = "picloss"
DEFAULT_RELEASE = "picloss"
DEFAULT_NAMESPACE = "picloss"
DEFAULT_PORT = 9090
# Labels the Prometheus operator puts on every target of a ServiceMonitor endpoint.
TARGET_LABELS = ("namespace", "service", "job", "pod", "container", "endpoint", "instance")


# ------------------------------------------------------------------------------------- scrape config
def fullname(release: str, chart: str = CHART_NAME) -> str:
    """picloss.fullname of the chart's _helpers.tpl (no overrides)."""
    return release if chart in release else f"{release}-{chart}"


def target_labels(component: str, namespace: str = DEFAULT_NAMESPACE, release: str = DEFAULT_RELEASE,
                  pod_suffix: str = "local") -> dict[str, str]:
    """What the operator derives from the ServiceMonitor of `component` (templates/servicemonitor.yaml):
    the Service is `<fullname>-<component>`, its job label is the Service's name (no jobLabel set), the
    container is named after the component (templates/deployment.yaml) and the endpoint is the port name."""
    service = f"{fullname(release)}-{component}"
    return {"namespace": namespace, "service": service, "job": service, "pod": f"{service}-{pod_suffix}",
            "container": component, "endpoint": "metrics"}


def component_of(process: str) -> tuple[str, str]:
    """(component, pod suffix) of a local process name: `damage` -> (damage, local), a second replica
    `damage-2` -> (damage, local-2)."""
    base, _, n = process.rpartition("-")
    if base in (*COMPONENTS, TRITON.name) and n.isdigit():
        return base, f"local-{n}"
    return process, "local"


def scrape_config(targets: Mapping[str, str], *, namespace: str = DEFAULT_NAMESPACE,
                  release: str = DEFAULT_RELEASE, interval: str = "15s",
                  rule_files: Iterable[Path] = (RULES,)) -> dict[str, Any]:
    """Prometheus configuration: one scrape job per component, named as the operator names it
    (`serviceMonitor/<namespace>/<ServiceMonitor>/<endpoint index>`), one target per process (replicas are
    pods of the same Service). `targets`: process name -> host:port."""
    jobs: dict[str, dict[str, Any]] = {}
    for process, address in targets.items():
        component, pod_suffix = component_of(process)
        labels = target_labels(component, namespace, release, pod_suffix)
        job = jobs.setdefault(component, {
            "job_name": f"serviceMonitor/{namespace}/{labels['service']}/0",
            "honor_labels": False,
            "metrics_path": "/metrics",
            "scrape_interval": interval,
            "static_configs": [],
        })
        job["static_configs"].append({"targets": [address], "labels": labels})
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": list(jobs.values()),
    }


def local_targets(metrics_ports: Mapping[str, int], host: str = "127.0.0.1") -> dict[str, str]:
    """process name -> host:port, the components first in COMPONENTS order, then replicas."""
    order = {c: i for i, c in enumerate((*COMPONENTS, TRITON.name))}
    known = [n for n in metrics_ports if component_of(n)[0] in order]
    known.sort(key=lambda n: (order[component_of(n)[0]], n))
    return {name: f"{host}:{metrics_ports[name]}" for name in known}


# ---------------------------------------------------------------------------- Prometheus process
@dataclass
class Prometheus:
    run_dir: Path
    port: int
    binary: str = "prometheus"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.run_dir / "prometheus.yml"

    @property
    def log(self) -> Path:
        return self.run_dir / "prometheus.log"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    def command(self) -> list[str]:
        return [self.binary, f"--config.file={self.config_file}", f"--storage.tsdb.path={self.run_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=2d", "--log.level=info"]

    def start(self, config: Mapping[str, Any], timeout_s: float = 60) -> None:
        from devkit.procs import spawn

        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(yaml.safe_dump(dict(config), sort_keys=False))
        check = subprocess.run(["promtool", "check", "config", str(self.config_file)], capture_output=True,
                               text=True, timeout=60)
        if check.returncode != 0:
            raise RuntimeError(f"promtool check config failed:\n{check.stdout}{check.stderr}")
        self.proc = spawn(self.command(), self.log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited ({self.proc.returncode}); see {self.log}:\n"
                                   + self.log.read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        self.state_file.write_text(json.dumps({"pid": self.proc.pid, "url": self.url}))
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"prometheus not ready after {timeout_s}s; see {self.log}")

    def stop(self) -> None:
        from devkit.procs import stop_pid

        if self.proc is not None and self.proc.poll() is None:
            stop_pid(self.proc.pid, timeout_s=15)
            self.proc.wait(timeout=15)
        if self.state_file.exists():
            self.state_file.unlink()

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.url}/api/v1/{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = json.loads(resp.read())
        if body.get("status") != "success":
            raise RuntimeError(f"{path}: {body}")
        return body["data"]


def stop_recorded(run_dir: Path) -> bool:
    """`make monitor-down`: stop the prometheus `make monitor` recorded in `<run_dir>/state.json`."""
    from devkit.procs import pid_alive, stop_pid

    state = run_dir / "state.json"
    if not state.exists():
        return False
    pid = int(json.loads(state.read_text())["pid"])
    stopped = pid_alive(pid)
    if stopped:
        stop_pid(pid, timeout_s=15)
    state.unlink()
    return stopped


def pick_port(wanted: int) -> int:
    from devkit.procs import free_port, port_open

    return wanted if wanted and not port_open(wanted) else free_port()
