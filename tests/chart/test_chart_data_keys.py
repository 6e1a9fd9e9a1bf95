"""The data keys Secret (issue 23): mounted where the stored result is sealed or opened (gateway, orchestrator,
dispatcher) and nowhere else; generated once without `dataKeys.existingSecret`, the user's Secret with it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from tests.chart.test_chart import CHART, MODEL_SERVICES, by_kind, container_env, render

MOUNT = "/etc/picloss/data-keys"


def mounts(deployment: dict[str, Any]) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}


def volume_secret(deployment: dict[str, Any], name: str) -> str | None:
    for volume in deployment["spec"]["template"]["spec"]["volumes"]:
        if volume["name"] == name:
            return str(volume["secret"]["secretName"])
    return None


def test_the_data_keys_reach_exactly_the_processes_that_seal_or_open(helm: Path) -> None:
    docs = render(helm, [CHART / "ci" / "minimal-values.yaml"])
    deployments = by_kind(docs, "Deployment")
    for name in ("gateway", "orchestrator", "dispatcher"):
        deployment = deployments[f"rel-picloss-{name}"]
        assert container_env(deployment)["PICLOSS_DATA_KEYS_FILE"] == f"{MOUNT}/data-keys.json"
        assert mounts(deployment)["data-keys"] == MOUNT
        assert volume_secret(deployment, "data-keys") == "rel-picloss-data-keys"
    for name in MODEL_SERVICES:
        deployment = deployments[f"rel-picloss-{name}"]
        assert "PICLOSS_DATA_KEYS_FILE" not in container_env(deployment) and "data-keys" not in mounts(deployment)
    secret = by_kind(docs, "Secret")["rel-picloss-data-keys"]
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    [entry] = json.loads(base64.b64decode(secret["data"]["data-keys.json"]))["keys"]
    assert entry["id"].startswith("chart-") and len(base64.b64decode(entry["key"])) == 32
    dispatcher = container_env(deployments["rel-picloss-dispatcher"])
    assert dispatcher["RESULT_RETENTION_DAYS"] == "30"
    assert "CALLBACK_ALLOW_CIDRS" in container_env(deployments["rel-picloss-gateway"])


def test_an_existing_secret_is_used_as_is(helm: Path) -> None:
    docs = render(helm, [CHART / "ci" / "minimal-values.yaml"],
                  ["dataKeys.existingSecret=vault-data-keys", "dataKeys.secretKey=keys.json"])
    assert not any(name.endswith("data-keys") for name in by_kind(docs, "Secret"))
    gateway = by_kind(docs, "Deployment")["rel-picloss-gateway"]
    assert volume_secret(gateway, "data-keys") == "vault-data-keys"
    assert container_env(gateway)["PICLOSS_DATA_KEYS_FILE"] == f"{MOUNT}/keys.json"
