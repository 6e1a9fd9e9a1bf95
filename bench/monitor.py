"""A real Prometheus (Debian's `prometheus`) for the local stack, and a check that the chart's Grafana
dashboard and alert rules get data from it (issue 13).

    python -m bench.monitor up      [--run-dir .run] [--port 9090] [--interval 15s]   # make monitor
    python -m bench.monitor down    [--run-dir .run]                                  # make monitor-down
    python -m bench.monitor config  [--run-dir .run]                                  # print the scrape config
    python -m bench.monitor check   [--run-dir .run/monitor-check] [--no-doc]         # make monitor-check

Every scraped process gets the target labels the chart's ServiceMonitor gives it in Kubernetes (the
Prometheus operator's relabelling: namespace, service, job = the Service's name, pod, container, endpoint =
the port name `metrics`, instance), and `honor_labels` stays false as there, so a metric label that collides
with a target label is renamed `exported_<name>` exactly as in a cluster. The dashboard and the alert rules
are therefore queried unchanged. See docs/monitoring.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from picloss.processes import NAMES, TRITON

REPO_ROOT = Path(__file__).resolve().parents[1]
CHART = REPO_ROOT / "charts" / "picloss"
DASHBOARD = CHART / "dashboards" / "picloss-overview.json"
RULES = CHART / "alerts" / "picloss-rules.yaml"
DOC = REPO_ROOT / "docs" / "monitoring.md"
DOC_BEGIN, DOC_END = "<!-- monitor-check:begin -->", "<!-- monitor-check:end -->"

COMPONENTS = NAMES  # picloss/processes.py: every process, in the chart's order
CHART_NAME = "picloss"
DEFAULT_RELEASE = "picloss"
DEFAULT_NAMESPACE = "picloss"
DEFAULT_PORT = 9090
# Labels the Prometheus operator puts on every target of a ServiceMonitor endpoint.
TARGET_LABELS = ("namespace", "service", "job", "pod", "container", "endpoint", "instance")

# Queries that can only get data in a real cluster, by panel title (or alert name), with the reason. Kept short
# on purpose: anything not listed must return data. It applies only where the query had none (the Triton
# panels do get data with --triton, which `make monitor-check` passes).
NEEDS_A_CLUSTER: dict[str, str] = {
    "Triton queue time per request":
        "nv_* metrics come from NVIDIA Triton (components.triton.enabled); the local stack runs the models "
        "in-process with onnxruntime unless --triton (make monitor-check's default) runs a local tritonserver",
    "Triton compute time per request":
        "nv_* metrics come from NVIDIA Triton (components.triton.enabled); the local stack runs the models "
        "in-process with onnxruntime unless --triton (make monitor-check's default) runs a local tritonserver",
}


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


# ------------------------------------------------------------------------------- Grafana variables
def parse_duration(text: str) -> float:
    """`1s`, `15s`, `2m`, `500ms`, `1h` -> seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * scale


def promql_duration(seconds: float) -> str:
    """A PromQL duration: whole seconds as `Ns`, otherwise milliseconds."""
    if seconds >= 1 and float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{max(1, round(seconds * 1000))}ms"


def grafana_interval(range_s: float, scrape_interval_s: float, max_data_points: int = 1000) -> float:
    """$__interval: the time range over the panel's data points, never below the data source's scrape
    interval (Grafana's "min interval"), rounded up to whole seconds."""
    return float(max(scrape_interval_s, math.ceil(range_s / max_data_points)))


def grafana_builtins(range_s: float, scrape_interval_s: float, max_data_points: int = 1000) -> dict[str, str]:
    """The built-in variables Grafana substitutes in a Prometheus query. $__rate_interval is
    max($__interval + scrape interval, 4 × scrape interval) (Grafana's documented definition)."""
    interval = grafana_interval(range_s, scrape_interval_s, max_data_points)
    rate_interval = max(interval + scrape_interval_s, 4 * scrape_interval_s)
    return {
        "__interval": promql_duration(interval),
        "__interval_ms": str(int(interval * 1000)),
        "__rate_interval": promql_duration(rate_interval),
        "__rate_interval_ms": str(int(rate_interval * 1000)),
        "__range": promql_duration(math.ceil(range_s)),
        "__range_s": str(math.ceil(range_s)),
        "__range_ms": str(int(math.ceil(range_s) * 1000)),
    }


_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """Grafana's `$name`, `${name}`, `${name:format}` and `[[name]]`; an unknown variable is an error (a
    query Grafana could not run either)."""
    def one(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g is not None)
        if name not in variables:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return variables[name]

    return _VARIABLE.sub(one, expr)


def dashboard_variables(dashboard: Mapping[str, Any], datasource_uid: str = "prometheus") -> dict[str, str]:
    """Each templating variable as Grafana sets it on first load: the data source's uid, and `All` for a
    multi-value query variable with includeAll (its allValue, `.*` here)."""
    values: dict[str, str] = {}
    for var in dashboard.get("templating", {}).get("list", []):
        if var["type"] == "datasource":
            values[var["name"]] = datasource_uid
        elif var.get("includeAll"):
            values[var["name"]] = var.get("allValue") or ".*"
        elif var.get("current", {}).get("value") not in (None, "", []):
            values[var["name"]] = str(var["current"]["value"])
        else:
            raise ValueError(f"variable {var['name']}: no All value and no current value to substitute")
    return values


def variable_queries(dashboard: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """name -> (metric selector, label) of every `label_values(selector, label)` query variable."""
    found = {}
    for var in dashboard.get("templating", {}).get("list", []):
        if var["type"] != "query":
            continue
        query = var.get("definition") or var.get("query", {}).get("query", "")
        match = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\s*\)\s*", query)
        if not match:
            raise ValueError(f"variable {var['name']}: only label_values(selector, label) is supported: {query}")
        found[var["name"]] = (match.group(1).strip(), match.group(2))
    return found


@dataclass(frozen=True)
class Query:
    kind: str  # "panel" or "alert"
    name: str  # panel title / alert name
    ref: str  # refId / "expr"
    expr: str  # as written in the file
    promql: str  # what is sent to Prometheus


def panels(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those folded inside collapsed rows."""
    out: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def dashboard_queries(dashboard: Mapping[str, Any], variables: Mapping[str, str]) -> list[Query]:
    return [Query("panel", p.get("title", f"panel {p.get('id')}"), t.get("refId", "?"), t["expr"],
                  substitute(t["expr"], variables))
            for p in panels(dashboard) for t in p.get("targets", []) if t.get("expr")]


# ---------------------------------------------------------------------------------- alert rules
_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")


def split_top_level_comparison(expr: str) -> tuple[str, str, str] | None:
    """(left, operator, right) of the last comparison outside (), {}, [] and strings, or None.

    PromQL comparisons bind less tightly than arithmetic, so the top-level one separates an alert's
    value from its threshold. `bool` after the operator stays with the operator."""
    depth, i, last = 0, 0, None
    quote: str | None = None
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch == "#":  # a comment runs to the end of the line
            newline = expr.find("\n", i)
            i = len(expr) if newline < 0 else newline
            continue
        elif depth == 0:
            op = next((o for o in _COMPARISONS if expr.startswith(o, i)), None)
            if op is not None:
                last = (i, op)
                i += len(op)
                continue
        i += 1
    if last is None:
        return None
    at, op = last
    right = expr[at + len(op):].strip()
    if right.startswith("bool "):
        op, right = f"{op} bool", right[5:].strip()
    return expr[:at].strip(), op, right


def strip_comparison(expr: str) -> str:
    """An alert's value: `A > threshold` -> `A`. An expression without a top-level comparison is its
    own value. The check calls an alert "with data" when this returns series (the comparison then only
    decides whether it fires)."""
    split = split_top_level_comparison(expr)
    return " ".join(expr.split()) if split is None else " ".join(split[0].split())


def alert_queries(rules: Mapping[str, Any]) -> list[Query]:
    return [Query("alert", r["alert"], "lhs", str(r["expr"]).strip(), strip_comparison(str(r["expr"])))
            for g in rules["groups"] for r in g["rules"] if "alert" in r]


# ---------------------------------------------------------------------------------- results
@dataclass
class Outcome:
    query: Query
    series: int = 0
    value: str = "-"
    error: str = ""
    allowed: str = ""  # reason from NEEDS_A_CLUSTER when it had no data
    state: str = ""  # alert state from /api/v1/rules

    @property
    def ok(self) -> bool:
        return self.series > 0 and not self.error

    @property
    def verdict(self) -> str:
        if self.ok:
            return "ok"
        return "cluster only" if self.allowed else "NO DATA"


def summarize(result: list[dict[str, Any]]) -> tuple[int, str]:
    """(series with at least one finite sample, the largest finite sample of them all). NaN points are what
    Grafana draws as gaps, so a series of NaN only is no data."""
    counted, peak = 0, -math.inf
    for series in result:
        samples = [series["value"]] if "value" in series else series.get("values", [])
        good = [float(v) for _, v in samples if not math.isnan(float(v))]
        if good:
            counted += 1
            peak = max(peak, *good)
    return counted, f"{peak:.4g}" if counted else "-"


def short(text: str, width: int = 110) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def table(outcomes: list[Outcome]) -> str:
    lines = ["| kind | panel / alert | ref | query | series | max value | alert state | result |",
             "|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        lines.append(f"| {o.query.kind} | {o.query.name} | {o.query.ref} | `{short(o.query.promql)}` | "
                     f"{o.series} | {o.value} | {o.state or '-'} | {o.verdict}"
                     f"{' (' + o.allowed + ')' if o.allowed and not o.ok else ''}"
                     f"{' ' + o.error if o.error else ''} |")
    return "\n".join(lines)


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


# -------------------------------------------------------------------------------------- the check
@dataclass
class LoadReport:
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    delivered: int = 0
    failed_deliveries: int = 0
    model_rpc_errors: int = 0
    photos: int = 0


def document_on_car(car: bytes, image_class: str, seed: int, width_fraction: float = 0.55) -> bytes:
    """A rendered document (invented contents) lying on a car photo, filling `width_fraction` of its width in
    the bottom right corner: the classifier calls such a photo DAMAGE (a car) but doubts it, the OCR text
    check then finds the document, so the orchestrator switches its class (picloss_class_switches_total)."""
    import io
    import random

    from PIL import Image

    from devkit.photos import document_jpeg

    base = Image.open(io.BytesIO(car)).convert("RGB")
    doc = Image.open(io.BytesIO(document_jpeg(image_class, random.Random(seed)))).convert("RGB")
    width = int(base.width * width_fraction)
    height = min(base.height - 10, int(doc.height * width / doc.width))
    base.paste(doc.resize((width, height)), (base.width - width - 5, base.height - height - 5))
    out = io.BytesIO()
    base.save(out, format="JPEG", quality=90)
    return out.getvalue()


def load_photos() -> dict[str, bytes]:
    """The demo's sample photos (rendered documents, real damage photos of ../shared/datasets when it is
    there) plus real VIN plates and clean cars, so every stage gets work, and documents lying on a car, so
    the class routing switches some."""
    from devkit.demo import sample_photos
    from loadtest.photos import DATASETS

    photos = sample_photos()
    cars = [v for k, v in photos.items() if k.startswith(("car_", "drawn_car"))]
    for c, car in enumerate(cars[:3:2]):  # a few: not every one is doubted by the classifier
        for i, image_class in enumerate(("IDCARD_BACK", "DRIVING_LICENSE", "DRIVER_LICENSE", "VIN")):
            photos[f"on-car-{c}-{image_class.lower()}.jpg"] = document_on_car(car, image_class, seed=11 + i)
    for folder, count in ((DATASETS / "vin_plates/valid/images", 2),
                          (DATASETS / "clean_cars/vehicles/valid/images", 2)):
        if folder.is_dir():
            for path in sorted(folder.glob("*.jpg"))[:count]:
                photos[f"{folder.parts[-3]}-{path.name}"] = path.read_bytes()
    return photos


async def put_load(stack: Any, singles: int = 8, batches: int = 3) -> LoadReport:
    """SINGLE requests (every photo once) and BATCH requests with real photos; two of them to a callback URL
    that always fails (the dispatcher then retries and gives up: DELIVERY_FAILED); refused requests (bad
    signature, unknown appid) and queries; one model RPC the OCR service refuses. Waits until every callback
    arrived or failed."""
    import grpc

    from devkit.client import PiclossClient
    from devkit.photos import PhotoServer
    from devkit.receiver import Behaviour, CallbackReceiver
    from devkit.stack import DEMO_APPID, DEMO_MCHID
    from picloss.ocr.v1 import ocr_pb2, ocr_pb2_grpc

    report = LoadReport()

    async def refused_rpc() -> None:
        """An RPC the OCR service refuses (INVALID_ARGUMENT: not a document class): the model error series."""
        ocr_port = stack.s.grpc_ports.get("ocr")
        if "ocr" not in stack.procs or not ocr_port:
            return
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ocr_port}") as channel:
            try:
                await ocr_pb2_grpc.OcrServiceStub(channel).ReadDocument(ocr_pb2.ReadDocumentRequest(), timeout=10)
            except grpc.aio.AioRpcError:
                report.model_rpc_errors += 1

    server = await PhotoServer().start()
    receiver = await CallbackReceiver(keys=[stack.key]).start()
    receiver.behaviours["/always-fail"] = Behaviour(always_fail=True)
    try:
        names = []
        for name, data in load_photos().items():
            server.add(name, data)
            names.append(name)
        report.photos = len(names)
        ca = str(stack.cert_file) if stack.s.tls else None
        async with PiclossClient(stack.gateway_url, DEMO_APPID, DEMO_MCHID, stack.key, ca_cert=ca) as client:
            plans: list[tuple[str, list[str], str]] = []
            for i in range(max(singles, len(names))):  # every photo at least once
                plans.append(("SINGLE", [names[i % len(names)]], "/always-fail" if i == 1 else "/cb"))
            for b in range(batches):
                chosen = [names[(b * 3 + k) % len(names)] for k in range(4)]
                plans.append(("BATCH", chosen, "/always-fail" if b == 0 else "/cb"))
            waits = []
            for model, chosen, path in plans:
                reply = await client.submit([server.file_desc(n) for n in chosen], model, receiver.url(path))
                if reply.body.get("result_code") != "SUCCESS":
                    raise RuntimeError(f"{model} not accepted: {reply.status} {reply.body}")
                report.accepted += 1
                waits.append((reply.body["accept_seqno"], path))
            # refused: a wrong signature, an unknown appid; and queries (the query endpoint's series)
            for _ in range(3):
                bad = await client.post_raw("/car-insur/pic-loss/picloss_request.cgi",
                                            json.dumps(client.envelope(req_seqno=uuid.uuid4().hex)).encode(),
                                            signature="0" * 64)
                code = str(bad.body.get("result_code"))
                report.refused[code] = report.refused.get(code, 0) + 1
            stranger = PiclossClient(stack.gateway_url, "no-such-app", DEMO_MCHID, stack.key, ca_cert=ca)
            async with stranger:
                reply = await stranger.query(req_seqno="nothing")
                code = str(reply.body.get("result_code"))
                report.refused[code] = report.refused.get(code, 0) + 1
            for accept_seqno, _ in waits[:3]:
                await client.query(accept_seqno=accept_seqno)
            await refused_rpc()
            for accept_seqno, path in waits:
                if path == "/always-fail":
                    await receiver.wait_for(accept_seqno, attempts=7, timeout_s=600)
                    report.failed_deliveries += 1
                else:
                    await receiver.wait_for(accept_seqno, timeout_s=600)
                    report.delivered += 1
            for accept_seqno, _ in waits[-2:]:
                await client.query(accept_seqno=accept_seqno)
            await refused_rpc()  # a second one, seconds after the first: the error rate is above 0 in between
    finally:
        await receiver.stop()
        await server.stop()
    return report


CHECK_ENV = {
    "CALLBACK_RETRY_DELAYS": "1,1,1,1,1,1",  # 7 attempts in a few seconds: DELIVERY_FAILED within the run
    "CALLBACK_TIMEOUT_S": "3",
    "PICLOSS_ORT_THREADS": "1",
}


def evaluate(prom: Prometheus, queries: list[Query], start: float, end: float, step_s: float) -> list[Outcome]:
    """Panels as Grafana runs them (a range query over the dashboard's time range, step $__interval);
    alerts as Prometheus evaluates them (an instant query at the end)."""
    outcomes = []
    for q in queries:
        outcome = Outcome(q)
        try:
            if q.kind == "panel":
                data = prom.api("query_range", query=q.promql, start=f"{start:.3f}", end=f"{end:.3f}",
                                step=f"{step_s:g}")
            else:
                data = prom.api("query", query=q.promql, time=f"{end:.3f}")
            outcome.series, outcome.value = summarize(data["result"])
        except Exception as exc:  # a query Prometheus refuses is a failure of the check, reported in the table
            outcome.error = f"error: {str(exc)[:200]}"
        if not outcome.ok:
            outcome.allowed = NEEDS_A_CLUSTER.get(q.name, "")
        outcomes.append(outcome)
    return outcomes


def rule_states(prom: Prometheus) -> dict[str, str]:
    states = {}
    for group in prom.api("rules")["groups"]:
        for rule in group["rules"]:
            if rule.get("type") == "alerting":
                states[rule["name"]] = f"{rule.get('state', '?')}, {rule.get('health', '?')}"
    return states


def variable_rows(prom: Prometheus, dashboard: Mapping[str, Any], start: float, end: float) -> list[str]:
    rows = []
    for name, (selector, label) in variable_queries(dashboard).items():
        data = prom.api(f"label/{label}/values", **{"match[]": selector, "start": f"{start:.0f}",
                                                    "end": f"{end:.0f}"})
        rows.append((name, f"label_values({selector}, {label})", data))
    return [f"| ${n} | `{q}` | {', '.join(v) if v else 'NONE'} |" for n, q, v in rows]


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "charts", "bench"], capture_output=True,
                           text=True, cwd=REPO_ROOT).stdout.strip()
    return done.stdout.strip() + (" (with uncommitted changes to charts/ or bench/)" if dirty else "")


def write_doc(block: str, doc: Path = DOC) -> None:
    text = doc.read_text() if doc.exists() else f"# Monitoring\n\n{DOC_BEGIN}\n{DOC_END}\n"
    if DOC_BEGIN not in text:
        text += f"\n{DOC_BEGIN}\n{DOC_END}\n"
    head, rest = text.split(DOC_BEGIN, 1)
    _, tail = rest.split(DOC_END, 1)
    doc.write_text(f"{head}{DOC_BEGIN}\n{block.strip()}\n{DOC_END}{tail}")


def run_check(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from devkit.procs import free_port
    from loadtest.target import is_backbone_only, start_stack

    run_dir = args.run_dir.resolve()
    interval_s = parse_duration(args.interval)
    env = dict(CHECK_ENV)
    with ExitStack() as cleanup:
        triton_metrics = None
        if args.triton:
            from devkit.triton_local import LocalTritonConfig, local_triton

            cfg = LocalTritonConfig((REPO_ROOT / "models").resolve(), run_dir / "triton", free_port(), free_port(),
                                    free_port())
            print(f"starting a local CPU tritonserver (log {cfg.run_dir / 'tritonserver.log'})", flush=True)
            cleanup.enter_context(local_triton(cfg, ready_timeout_s=300))
            env["TRITON_URL"] = f"127.0.0.1:{cfg.grpc_port}"
            triton_metrics = cfg.metrics_port
        print("starting the stack (the model services take a minute or two)", flush=True)
        t0 = time.monotonic()
        for attempt in (1, 2):  # ephemeral ports are picked before binding: another run may take one first
            try:
                stack = start_stack(run_dir / f"stack-{attempt}", env=env, mode=args.stack)
                break
            except Exception as exc:
                if attempt == 2:
                    raise
                print(f"the stack did not start ({str(exc).splitlines()[0][:200]}); once more", flush=True)
        cleanup.callback(stack.down)
        print(f"stack up in {time.monotonic() - t0:.0f} s: {', '.join(n for n in stack.procs)}", flush=True)
        ports = {n: p for n, p in stack.s.metrics_ports.items() if n in stack.procs}
        if triton_metrics:
            ports[TRITON.name] = triton_metrics
        prom = Prometheus(run_dir / "prometheus", free_port())
        prom.start(scrape_config(local_targets(ports), interval=args.interval))
        cleanup.callback(prom.stop)
        print(f"prometheus {prom.url} scraping {len(ports)} targets every {args.interval} "
              f"(config {prom.config_file})", flush=True)
        start = time.time()
        time.sleep(3 * interval_s)
        t1 = time.monotonic()
        report = asyncio.run(put_load(stack))
        print(f"load done in {time.monotonic() - t1:.0f} s: {report}", flush=True)
        time.sleep(max(6 * interval_s, 5))  # the last increases scraped, the rules evaluated on them
        end = time.time()
        dashboard = json.loads(DASHBOARD.read_text())
        builtins = grafana_builtins(end - start, interval_s)
        variables = {**dashboard_variables(dashboard), **builtins}
        queries = dashboard_queries(dashboard, variables) + alert_queries(yaml.safe_load(RULES.read_text()))
        outcomes = evaluate(prom, queries, start, end, parse_duration(builtins["__interval"]))
        states = rule_states(prom)
        for o in outcomes:
            if o.query.kind == "alert":
                o.state = states.get(o.query.name, "not loaded")
        up = prom.api("query", query="up", time=f"{end:.3f}")["result"]
        up_rows = [f"| {s['metric']['job']} | {s['metric']['instance']} | {s['metric'].get('service', '')} | "
                   f"{s['metric'].get('pod', '')} | {s['metric'].get('container', '')} | "
                   f"{s['metric'].get('endpoint', '')} | {s['value'][1]} |"
                   for s in sorted(up, key=lambda s: s["metric"]["job"])]
        var_rows = variable_rows(prom, dashboard, start, end)
        backbone = is_backbone_only(stack)
    missing = [o for o in outcomes if not o.ok and not o.allowed]
    allowed = [o for o in outcomes if not o.ok and o.allowed]
    not_up = [r for r in up_rows if not r.endswith("| 1 |")]
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join([
        f"Latest run: {date}, commit `{git_commit()}`, Prometheus "
        f"{subprocess.run(['prometheus', '--version'], capture_output=True, text=True).stdout.split()[2]}, "
        f"scrape and rule interval {args.interval}, "
        f"{'backbone only (model services did not start)' if backbone else 'full stack'}"
        f"{' with a local CPU tritonserver' if args.triton else ''}. "
        f"Range {end - start:.0f} s; Grafana variables substituted: "
        + ", ".join(f"`${k}`={v}" for k, v in sorted(variables.items())) + ".",
        "",
        f"Load: {report.accepted} accepted requests ({report.photos} distinct photos), "
        f"{report.delivered} delivered, {report.failed_deliveries} ended DELIVERY_FAILED (callback URL always "
        f"failing), refused: {', '.join(f'{k} ×{v}' for k, v in sorted(report.refused.items()))}, "
        f"{report.model_rpc_errors} refused model RPCs.",
        "",
        f"**Result: {sum(o.ok for o in outcomes)} of {len(outcomes)} queries returned data, "
        f"{len(allowed)} need a cluster (allow-list), {len(missing)} without data"
        f"{': ' + ', '.join(o.query.name + ' ' + o.query.ref for o in missing) if missing else ''}.**",
        "",
        "Targets (`up`):",
        "",
        "| job | instance | service | pod | container | endpoint | up |",
        "|---|---|---|---|---|---|---|",
        *up_rows,
        "",
        "Dashboard variables (`label_values` over the run):",
        "",
        "| variable | query | values |",
        "|---|---|---|",
        *var_rows,
        "",
        table(outcomes),
    ])
    print("\n" + block + "\n", flush=True)
    if args.doc:
        write_doc(block)
        print(f"written to {DOC.relative_to(REPO_ROOT)}")
    failed = bool(missing or not_up or any(r.endswith("| NONE |") for r in var_rows))
    if failed:
        print("FAILED: " + "; ".join([*(f"{o.query.kind} {o.query.name!r} {o.query.ref}: no data "
                                         f"({o.query.promql})" for o in missing), *not_up,
                                       *(r for r in var_rows if r.endswith("| NONE |"))]), file=sys.stderr)
    return 1 if failed else 0


# ------------------------------------------------------------------------------------- make monitor
def monitor_up(args: argparse.Namespace) -> int:
    from devkit.procs import port_open
    from devkit.stack import StackSettings

    run_dir = args.run_dir.resolve()
    prom_dir = run_dir / "monitor"
    if (prom_dir / "state.json").exists():
        print(f"already running: {json.loads((prom_dir / 'state.json').read_text())['url']} "
              "(`make monitor-down` stops it)")
        return 0
    ports = dict(StackSettings(run_dir=run_dir).metrics_ports)  # what `make up` uses
    if args.triton_metrics_port and (args.triton_metrics_port == -1 or port_open(args.triton_metrics_port)):
        ports[TRITON.name] = abs(args.triton_metrics_port)
    prom = Prometheus(prom_dir, pick_port(args.port))
    prom.start(scrape_config(local_targets(ports), namespace=args.namespace, interval=args.interval))
    if not (run_dir / "state.json").exists():
        print("note: no `make up` stack is recorded; the targets stay down until it runs")
    print(f"prometheus is up: {prom.url} (pid {prom.proc.pid if prom.proc else '?'}), scraping "
          f"{', '.join(f'{n}:{p}' for n, p in ports.items())} every {args.interval}, rules {RULES.name}")
    print(f"config {prom.config_file}, data {prom_dir / 'data'}, log {prom.log}; stop with `make monitor-down`")
    return 0


def monitor_down(args: argparse.Namespace) -> int:
    stopped = stop_recorded(args.run_dir.resolve() / "monitor")
    print("prometheus stopped" if stopped else "no prometheus was running")
    return 0


def print_config(args: argparse.Namespace) -> int:
    from devkit.stack import StackSettings

    ports = dict(StackSettings(run_dir=args.run_dir.resolve()).metrics_ports)
    print(yaml.safe_dump(scrape_config(local_targets(ports), namespace=args.namespace, interval=args.interval),
                         sort_keys=False), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.monitor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "config", "check"):
        p = sub.add_parser(name)
        p.add_argument("--run-dir", type=Path,
                       default=Path(".run/monitor-check") if name == "check" else Path(".run"))
        p.add_argument("--interval", default="1s" if name == "check" else "15s")
        p.add_argument("--namespace", default=os.environ.get("MONITOR_NAMESPACE", DEFAULT_NAMESPACE))
    up = sub.choices["up"]
    up.add_argument("--port", type=int, default=int(os.environ.get("MONITOR_PORT", DEFAULT_PORT)),
                    help="listen port on 127.0.0.1 (a free one when taken)")
    up.add_argument("--triton-metrics-port", type=int, default=TRITON.metrics_port,
                    help="also scrape `make triton-local` when this port listens at start (0: never)")
    check = sub.choices["check"]
    check.add_argument("--stack", choices=["auto", "full", "backbone"], default="full",
                       help="full (default): every model service must start; auto falls back to the backbone")
    check.add_argument("--triton", action="store_true", help="serve the models on a local CPU tritonserver")
    check.add_argument("--no-doc", dest="doc", action="store_false", help=f"do not rewrite {DOC.name}")
    args = parser.parse_args(argv)
    handlers = {"up": monitor_up, "down": monitor_down, "config": print_config, "check": run_check}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanups (stack.down) on SIGTERM
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
