"""The pure parts of `make monitor` / `make monitor-check` (bench/monitor.py): scrape configuration with the
ServiceMonitor's target labels, Grafana variable substitution, and an alert's value without its threshold.
No prometheus and no stack needed."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from bench import monitor
from bench.monitor_check import summarize
from bench.prometheus import scrape_config, target_labels
from bench.promql import (
    alert_queries,
    dashboard_queries,
    dashboard_variables,
    grafana_builtins,
    split_top_level_comparison,
    strip_comparison,
    substitute,
    variable_queries,
)


# ---- scrape configuration ----------------------------------------------------------------------
def test_target_labels_are_the_service_monitors() -> None:
    assert target_labels("gateway") == {"namespace": "picloss", "service": "picloss-gateway",
                                        "job": "picloss-gateway", "pod": "picloss-gateway-local",
                                        "container": "gateway", "endpoint": "metrics"}
    labels = target_labels("ocr", namespace="claims", release="rel")
    assert labels["service"] == labels["job"] == "rel-picloss-ocr" and labels["namespace"] == "claims"


def test_scrape_config_one_job_per_component_like_the_operator() -> None:
    ports = {"gateway": 9100, "orchestrator": 9101, "dispatcher": 9102, "classifier": 9103, "ocr": 9104,
             "damage": 9105, "aggregator": 9106}
    config = scrape_config(monitor.local_targets(ports), interval="1s")
    assert config["global"] == {"scrape_interval": "1s", "evaluation_interval": "1s"}
    assert config["rule_files"] == [str(monitor.RULES)]
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert len(jobs) == 7
    gateway = jobs["serviceMonitor/picloss/picloss-gateway/0"]
    assert gateway["honor_labels"] is False  # colliding metric labels become exported_<name>, as in a cluster
    assert gateway["metrics_path"] == "/metrics"
    assert gateway["static_configs"] == [{"targets": ["127.0.0.1:9100"], "labels": target_labels("gateway")}]
    assert yaml.safe_load(yaml.safe_dump(config)) == config


def test_replicas_are_pods_of_one_job() -> None:
    config = scrape_config({"damage": "127.0.0.1:1", "damage-2": "127.0.0.1:2", "gateway": "127.0.0.1:3"})
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    damage = jobs["serviceMonitor/picloss/picloss-damage/0"]["static_configs"]
    assert [c["labels"]["pod"] for c in damage] == ["picloss-damage-local", "picloss-damage-local-2"]
    assert {c["labels"]["service"] for c in damage} == {"picloss-damage"}
    assert list(monitor.local_targets({"gateway-2": 5, "damage": 1, "gateway": 4, "postgres": 9})) == \
        ["gateway", "gateway-2", "damage"]


def test_default_ports_are_make_ups() -> None:
    from pathlib import Path

    from devkit.stack import StackSettings

    targets = monitor.local_targets(StackSettings(run_dir=Path(".run")).metrics_ports)
    assert list(targets) == list(monitor.COMPONENTS)
    assert targets["gateway"] == "127.0.0.1:9100" and targets["aggregator"] == "127.0.0.1:9106"


# ---- Grafana variables ---------------------------------------------------------------------------
def test_builtins_follow_grafanas_definitions() -> None:
    v = grafana_builtins(range_s=300, scrape_interval_s=1)
    assert v["__interval"] == "1s"  # 300 s over 1000 points, never below the scrape interval
    assert v["__rate_interval"] == "4s"  # max(interval + scrape, 4 × scrape)
    assert v["__range"] == "300s" and v["__range_s"] == "300" and v["__range_ms"] == "300000"
    v = grafana_builtins(range_s=6 * 3600, scrape_interval_s=15)
    assert v["__interval"] == "22s" and v["__rate_interval"] == "60s" and v["__interval_ms"] == "22000"


def test_substitute_every_syntax() -> None:
    variables = {"namespace": ".*", "__rate_interval": "4s", "__range": "300s", "ds": "prom"}
    assert substitute('rate(x{namespace=~"$namespace"}[$__rate_interval])', variables) == \
        'rate(x{namespace=~".*"}[4s])'
    assert substitute("increase(x[${__range}]) ${ds:raw} [[namespace]]", variables) == \
        "increase(x[300s]) prom .*"
    with pytest.raises(KeyError, match="unknown Grafana variable"):
        substitute("rate(x[$__rate_intervl])", variables)


def test_dashboard_variables_take_all_and_the_datasource() -> None:
    dashboard = json.loads(monitor.DASHBOARD.read_text())
    values = dashboard_variables(dashboard)
    assert values["datasource"] == "prometheus"
    assert all(values[n] == ".*" for n in variable_queries(dashboard))
    queries = dashboard_queries(dashboard, {**values, **grafana_builtins(300, 1)})
    assert queries and all("$" not in q.promql and "[[" not in q.promql for q in queries)


def test_every_dashboard_target_becomes_a_query() -> None:
    dashboard = json.loads(monitor.DASHBOARD.read_text())
    exprs = [t["expr"] for p in monitor.panels(dashboard) for t in p.get("targets", [])]
    assert [q.expr for q in dashboard_queries(dashboard, {**dashboard_variables(dashboard),
                                                          **grafana_builtins(300, 1)})] == exprs


# ---- alerts: the value without the threshold ----------------------------------------------------
@pytest.mark.parametrize(("expr", "lhs", "op", "rhs"), [
    ("max(picloss_deliveries_pending) > 100", "max(picloss_deliveries_pending)", ">", "100"),
    ('sum(increase(x{outcome="failed"}[15m])) > 0', 'sum(increase(x{outcome="failed"}[15m]))', ">", "0"),
    ('sum(rate(x{code!="OK"}[5m])) / clamp_min(sum(rate(x[5m])), 1e-9) >= 0.05',
     'sum(rate(x{code!="OK"}[5m])) / clamp_min(sum(rate(x[5m])), 1e-9)', ">=", "0.05"),
    ('a{l=~"x>y|<z"} != 1', 'a{l=~"x>y|<z"}', "!=", "1"),  # operators inside strings and braces are not it
    ("(a > 1) < 2", "(a > 1)", "<", "2"),
    ("a == bool 1", "a", "== bool", "1"),
    ("up # a comment > 3\n <= 0", "up # a comment > 3", "<=", "0"),
])
def test_split_top_level_comparison(expr: str, lhs: str, op: str, rhs: str) -> None:
    assert split_top_level_comparison(expr) == (lhs, op, rhs)


def test_strip_comparison_multiline_and_none() -> None:
    expr = ("sum(rate(a{outcome=~\"retry|failed\"}[10m]))\n"
            "  / clamp_min(sum(rate(a[10m])), 1e-9) > 0.2\n")
    assert strip_comparison(expr) == 'sum(rate(a{outcome=~"retry|failed"}[10m])) / clamp_min(sum(rate(a[10m])), 1e-9)'
    assert strip_comparison("absent(up)") == "absent(up)"


def test_every_shipped_alert_has_a_threshold_to_strip() -> None:
    rules = yaml.safe_load(monitor.RULES.read_text())
    queries = alert_queries(rules)
    assert len(queries) == sum(len(g["rules"]) for g in rules["groups"])
    for q in queries:
        split = split_top_level_comparison(q.expr)
        assert split is not None and re.fullmatch(r"[0-9.e-]+", split[2]), q.name


# ---- the labels the operator adds -----------------------------------------------------------------
def test_dashboard_and_alerts_use_exported_names_for_colliding_metric_labels() -> None:
    """A metric label named like a ServiceMonitor target label (endpoint, service, ...) is renamed
    exported_<label> by Prometheus (honor_labels false). Filtering or grouping by the bare name then means the
    target's label: the gateway's protocol `endpoint` must be read as exported_endpoint."""
    dashboard = json.loads(monitor.DASHBOARD.read_text())
    exprs = [t["expr"] for p in monitor.panels(dashboard) for t in p.get("targets", [])]
    exprs += [v.get("definition", "") for v in dashboard["templating"]["list"]]
    exprs += [str(r["expr"]) for g in yaml.safe_load(monitor.RULES.read_text())["groups"] for r in g["rules"]]
    gateway = [e for e in exprs if "picloss_gateway_request" in e]
    assert gateway and not [e for e in gateway if re.search(r"(?<!\$)\bendpoint\b", e)]
    assert any("exported_endpoint" in e for e in gateway)


# ---- results ----------------------------------------------------------------------------------------
def test_summarize_counts_series_with_a_finite_sample() -> None:
    assert summarize([]) == (0, "-")
    assert summarize([{"metric": {}, "values": [[1, "NaN"], [2, "NaN"]]}]) == (0, "-")  # a gap in Grafana
    assert summarize([{"metric": {}, "values": [[1, "NaN"], [2, "0.25"], [3, "0"]]},
                      {"metric": {}, "value": [2, "3"]}, {"metric": {}, "values": [[1, "NaN"]]}]) == (2, "3")
