"""The alerting rules (charts/picloss/alerts/picloss-rules.yaml, issue 13): valid for Prometheus (`promtool check
rules`), built only on metrics the code defines, and shipped unchanged by the chart as a PrometheusRule."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from test_chart import CHART, render

RULES = CHART / "alerts" / "picloss-rules.yaml"
REPO_ROOT = CHART.parents[1]


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: `make promtool` installs Debian's prometheus (make test does it)")
    return found


def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout and f"{len(alerts())} rules found" in done.stdout


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:  # the check above can fail
    broken = tmp_path / "broken.yaml"
    broken.write_text(RULES.read_text().replace("sum(increase(", "sum(increase((", 1))
    done = subprocess.run([promtool(), "check", "rules", str(broken)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0


def alerts() -> list[dict[str, object]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_every_alert_uses_only_metrics_the_code_defines() -> None:
    sources = [f for top in ("picloss", "gateway", "services") for f in (REPO_ROOT / top).rglob("metrics.py")]
    defined = {name for f in sources for name in re.findall(r'"(picloss_[a-z_]+)"', f.read_text())}
    for alert in alerts():
        used = {m.removesuffix("_bucket") for m in re.findall(r"picloss_[a-z_]+", str(alert["expr"]))}
        assert used and used <= defined, (alert["alert"], used - defined)


def test_the_issue_asks_for_these_alerts() -> None:
    exprs = {str(a["alert"]): str(a["expr"]) for a in alerts()}
    assert 'outcome="failed"' in exprs["PiclossDeliveryFailed"]  # DELIVERY_FAILED: the last attempt failed
    assert "picloss_callback_attempts_total" in exprs["PiclossCallbacksFailing"]
    assert "picloss_consumer_lag" in exprs["PiclossConsumerLag"]
    assert "picloss_inference_seconds_bucket" in exprs["PiclossModelLatencyHigh"]
    assert "picloss_grpc_requests_total" in exprs["PiclossModelErrors"]
    assert "picloss_gateway_requests_total" in exprs["PiclossGatewayErrors"]
    assert "picloss_redriven_requests_total" in exprs["PiclossRequestsRedriven"]
    assert all(a.get("labels", {}).get("severity") in ("warning", "critical") for a in alerts())


def test_chart_ships_the_rules_unchanged(helm: Path) -> None:
    assert not [d for d in render(helm) if d["kind"] == "PrometheusRule"]  # off by default
    docs = render(helm, sets=["metrics.prometheusRule.enabled=true", "metrics.prometheusRule.labels.release=kps"])
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["metadata"]["labels"]["release"] == "kps"
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
