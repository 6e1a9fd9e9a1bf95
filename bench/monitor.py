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

This module is the command line; the work is split by job: bench/prometheus.py (the Prometheus harness and its
scrape configuration), bench/promql.py (the dashboard's and the rules' queries as Prometheus gets them),
bench/monitor_load.py (the load) and bench/monitor_check.py (the check and its table). The names the tests
read through `bench.monitor` are imported here too.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

import yaml

from bench.monitor_check import DASHBOARD as DASHBOARD  # re-exported: see above
from bench.monitor_check import DOC, run_check
from bench.prometheus import COMPONENTS as COMPONENTS  # re-exported: see above
from bench.prometheus import (
    DEFAULT_NAMESPACE,
    DEFAULT_PORT,
    RULES,
    Prometheus,
    local_targets,
    pick_port,
    scrape_config,
    stop_recorded,
)
from bench.promql import panels as panels  # re-exported: see above
from picloss.platform.processes import TRITON


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
