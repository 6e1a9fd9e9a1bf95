"""Every picloss_* metric the Grafana dashboard queries is exported by a real process of the stack."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from devkit.stack import REPO_ROOT, Stack

pytestmark = pytest.mark.e2e
DASHBOARD = REPO_ROOT / "charts" / "picloss" / "dashboards" / "picloss-overview.json"
SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


def dashboard_metrics(path: Path) -> set[str]:
    text = json.dumps(json.loads(path.read_text()))
    return set(re.findall(r"\b(picloss_[a-z0-9_]+)", text))


def scrape(port: int) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        body = resp.read().decode()
    names = set()
    for line in body.splitlines():
        match = re.match(r"(?:# (?:HELP|TYPE) )?([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
        if match:
            names.add(match.group(1))
    return names


def base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_dashboard_queries_only_exported_metrics(stack: Stack) -> None:
    exported: set[str] = set()
    for name, port in stack.s.metrics_ports.items():
        if name in stack.procs:
            exported |= scrape(port)
    exported_bases = {base(n) for n in exported} | exported
    wanted = dashboard_metrics(DASHBOARD)
    assert wanted, "the dashboard queries no picloss metric"
    missing = sorted(m for m in wanted if m not in exported and base(m) not in exported_bases)
    assert not missing, f"dashboard queries metrics no process exports: {missing}"
