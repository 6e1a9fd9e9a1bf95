"""`make monitor-check`: its own stack (and a local CPU tritonserver with --triton) scraped by Prometheus under
load; every panel of the chart's Grafana dashboard and every alert rule must return data. The result is a table
in docs/monitoring.md."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.monitor_load import put_load
from bench.prometheus import CHART, REPO_ROOT, RULES, Prometheus, local_targets, scrape_config
from bench.promql import (
    Query,
    alert_queries,
    dashboard_queries,
    dashboard_variables,
    grafana_builtins,
    parse_duration,
    variable_queries,
)
from picloss.platform.processes import TRITON

DASHBOARD = CHART / "dashboards" / "picloss-overview.json"
DOC = REPO_ROOT / "docs" / "monitoring.md"
DOC_BEGIN, DOC_END = "<!-- monitor-check:begin -->", "<!-- monitor-check:end -->"

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
