"""One registry of processes (issue 25 item 4): `picloss/platform/processes.py`. What imports Python derives from it
(the
dev kit, the bench, the drill, the load test, the services' default ports); what cannot is checked here against
it: docker/Dockerfile, docker/build-images.sh, the chart's values.yaml and values.schema.json, the components
table of docs/architecture.md and the gateway's default ports."""

from __future__ import annotations

import importlib
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from picloss.platform.processes import (
    BY_NAME,
    CONSUMERS,
    GATEWAYS,
    MODEL,
    MODEL_SERVICES,
    NAMES,
    PROCESSES,
    TRITON,
    local_address,
)

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "docker" / "Dockerfile"
# what every process needs to build its config (the values do not matter here)
REQUIRED_ENV = {"DATABASE_URL": "postgresql://x", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
                "PICLOSS_KEYS_FILE": "/k.json", "PICLOSS_DATA_KEYS_FILE": "/d.json", "GATEWAY_TLS": "false"}


def test_names_and_ports_are_unique_and_every_kind_is_there() -> None:
    everything = (*PROCESSES, TRITON)
    assert len({p.name for p in everything}) == len(everything)
    ports = [port for p in everything for port in p.ports]
    assert len(set(ports)) == len(ports)
    assert GATEWAYS == ("gateway",) and CONSUMERS == ("orchestrator", "dispatcher")
    assert MODEL_SERVICES == ("classifier", "ocr", "damage", "aggregator")
    assert all((p.port is not None) == (p.kind != "consumer") for p in PROCESSES)  # consumers serve nothing
    assert local_address("damage") == "127.0.0.1:50053"
    with pytest.raises(ValueError):
        local_address("orchestrator")


def test_every_process_is_a_folder_with_a_main_and_every_such_folder_is_a_process() -> None:
    for p in PROCESSES:
        assert (REPO / p.module.replace(".", "/") / "__main__.py").is_file(), p.module
    services = {d.name for d in (REPO / "services").iterdir() if (d / "__main__.py").exists()}
    assert {p.module for p in PROCESSES} == {"gateway", *(f"services.{s}" for s in services)}


def dockerfile_targets() -> dict[str, list[str]]:
    """The lines of each `FROM runtime AS <name>` stage (the per-process targets)."""
    targets: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("FROM "):
            match = re.fullmatch(r"FROM runtime AS (\S+)", line.strip())
            current = targets.setdefault(match.group(1), []) if match else None
        elif current is not None and line.strip() and not line.startswith("#"):
            current.append(line.strip())
    return targets


def test_the_dockerfile_has_one_target_per_process_with_its_ports_and_command() -> None:
    targets = dockerfile_targets()
    assert list(targets) == list(NAMES)
    for p in PROCESSES:
        lines = targets[p.name]
        expose = [int(port) for line in lines if line.startswith("EXPOSE ") for port in line.split()[1:]]
        assert expose == list(p.ports), p.name
        cmd = [json.loads(line[len("CMD "):]) for line in lines if line.startswith("CMD ")]
        assert cmd == [list(p.command)], p.name


def test_the_image_build_script_builds_every_process() -> None:
    script = (REPO / "docker" / "build-images.sh").read_text()
    match = re.search(r"^IMAGE_PROCESSES=\$\{IMAGE_PROCESSES:-([^}]*)\}$", script, re.MULTILINE)
    assert match, "IMAGE_PROCESSES default not found in docker/build-images.sh"
    assert tuple(shlex.split(match.group(1))) == NAMES


def test_the_chart_has_one_component_per_process_with_its_role_ports_image_and_command() -> None:
    components = yaml.safe_load((REPO / "charts" / "picloss" / "values.yaml").read_text())["components"]
    assert list(components) == [*NAMES, TRITON.name]
    for p in (*PROCESSES, TRITON):
        entry = components[p.name]
        assert entry["role"] == p.kind, p.name
        assert entry["command"] == list(p.command), p.name
        assert entry.get("port") == p.port, p.name
        assert entry["metricsPort"] == p.metrics_port, p.name
        if p is not TRITON:
            assert entry["image"]["repository"] == p.image, p.name


def test_the_chart_schema_names_every_process_with_its_role() -> None:
    schema = json.loads((REPO / "charts" / "picloss" / "values.schema.json").read_text())["properties"]["components"]
    assert list(schema["properties"]) == schema["required"] == [*NAMES, TRITON.name]
    for p in (*PROCESSES, TRITON):
        assert schema["properties"][p.name]["allOf"][1]["properties"]["role"] == {"const": p.kind}, p.name


def test_the_architecture_table_shows_the_registry() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    rows = {cells[0].split()[0]: cells for line in text.splitlines() if line.startswith("| ")
            for cells in [[c.strip() for c in line.strip("|").split("|")]] if len(cells) == 4}
    for p in PROCESSES:
        folder = "gateway/" if p.module == "gateway" else f"services/{p.name}/"
        assert rows[p.name][1] == f"`{folder}`", p.name
        assert rows[p.name][3] == f"{p.port or '–'} / {p.metrics_port}", p.name
        assert (p.kind == MODEL) == rows[p.name][2].startswith("gRPC"), p.name
    assert rows["triton"][3] == f"{TRITON.port} gRPC, {TRITON.metrics_port} metrics"


@pytest.mark.parametrize("name", NAMES)
def test_each_process_defaults_to_its_registered_ports(name: str) -> None:
    """The gateway's config writes its defaults (gateway/config.py); the services' configs take them from the
    registry."""
    p = BY_NAME[name]
    config_module = importlib.import_module(f"{p.module}.config")
    config_class = next(v for k, v in vars(config_module).items() if k.endswith("Config") and hasattr(v, "from_env")
                        and v.__module__ == config_module.__name__)
    config = config_class.from_env(REQUIRED_ENV)
    assert config.metrics_port == p.metrics_port
    if p.kind == MODEL:
        assert config.grpc_port == p.port
    elif p.port is not None:
        assert config.port == p.port
    if name == "orchestrator":
        assert [getattr(config, f"{m}_addr") for m in MODEL_SERVICES] == [local_address(m) for m in MODEL_SERVICES]


def test_the_tools_take_their_lists_from_the_registry() -> None:
    from bench import drill, images_smoke, monitor
    from devkit.stack import PROCESS_KINDS, StackSettings
    from loadtest.target import BACKBONE

    assert sorted(PROCESS_KINDS) == sorted(NAMES) == sorted(drill.KILL_ORDER) == sorted(images_smoke.PROCESSES)
    assert sorted((*MODEL_SERVICES, *BACKBONE)) == sorted(NAMES) and monitor.COMPONENTS == NAMES
    settings = StackSettings(run_dir=Path(".run"))
    assert settings.metrics_ports == {p.name: p.metrics_port for p in PROCESSES}
    assert settings.gateway_port == BY_NAME["gateway"].port
    assert settings.grpc_ports == {m: BY_NAME[m].port for m in MODEL_SERVICES}
