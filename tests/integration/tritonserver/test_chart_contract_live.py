"""What the chart assumes of a running picloss process, checked on a real one.

A model-service process (the aggregator: no model files needed) is started the way the chart
starts it (`python -m services.aggregator`, GRPC_PORT, METRICS_PORT). Its gRPC health answers
the kubelet's native gRPC probe (service ""), and its real /metrics scrape exports every
`picloss_*` metric family the Grafana dashboard queries that this process owns: the metrics every process shares
(picloss/platform/observability/metrics.py) and the aggregator's own (services/aggregator/metrics.py). Each process
exports
only its own metrics; that every dashboard metric is exported by some real process of the stack is
tests/e2e/test_metrics_scrape.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devkit.triton_local import free_port

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = REPO_ROOT / "charts" / "picloss" / "dashboards" / "picloss-overview.json"


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        return str(resp.read().decode())


@pytest.fixture(scope="module")
def aggregator() -> Iterator[tuple[int, int]]:
    grpc_port, metrics_port = free_port(), free_port()
    env = {**os.environ, "GRPC_PORT": str(grpc_port), "METRICS_PORT": str(metrics_port), "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "services.aggregator"], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                scrape(metrics_port)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "aggregator /metrics never came up"
                time.sleep(0.2)
        yield grpc_port, metrics_port
    finally:
        process.terminate()
        process.wait(15)


def test_native_grpc_probe_sees_serving(aggregator: tuple[int, int]) -> None:
    grpc_port, _ = aggregator
    deadline = time.monotonic() + 20
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2).status
            except grpc.RpcError:
                status = None
            if status == health_pb2.HealthCheckResponse.SERVING or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert status == health_pb2.HealthCheckResponse.SERVING


def test_real_scrape_exports_every_dashboard_metric(aggregator: tuple[int, int]) -> None:
    _, metrics_port = aggregator
    families = {m.group(2): m.group(3)
                for m in re.finditer(r"^# (TYPE) (\S+) (\S+)$", scrape(metrics_port), re.M)}
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {m for e in exprs for m in re.findall(r"\bpicloss_[a-z0-9_]+\b", e)}
    assert used, "the dashboard queries no picloss metric"
    # The text format names counter families with their _total suffix already.
    suffixes = {"counter": ("",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    exported = {family + suffix for family, kind in families.items() for suffix in suffixes.get(kind, ())}
    owned = {name for f in ("picloss/platform/observability/metrics.py", "services/aggregator/metrics.py")
             for name in re.findall(r'"(picloss_[a-z_]+)"', (REPO_ROOT / f).read_text())}
    mine = {m for m in used if re.sub(r"_(bucket|sum|count)$", "", m) in owned}
    assert mine, "the dashboard queries none of the aggregator's metrics"
    missing = sorted(mine - exported)
    assert not missing, f"not exported by a real process: {missing}"
    others = {f for f in families if f.startswith("picloss_") and not f.endswith("_created")} - owned
    assert not others, f"the aggregator exports metrics it does not own: {sorted(others)}"
