"""Every service has the same shape (issue 14 item 5): a thin __main__, its settings read once in config.py, its
metrics beside it in metrics.py, a README; a model service's servicer warms its models up (`warm_up`, which the
main hands to the gRPC server as `ready`) and takes its gRPC name from the generated descriptor. Read from the
source: nothing is imported or started."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SERVICES = sorted(p.name for p in (REPO / "services").iterdir() if (p / "__main__.py").exists())
MODEL_SERVICES = ("classifier", "ocr", "damage")


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def test_the_services_are_the_charts_processes() -> None:
    assert SERVICES == ["aggregator", "classifier", "damage", "dispatcher", "ocr", "orchestrator"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_main_config_metrics_and_readme(service: str) -> None:
    folder = REPO / "services" / service
    for name in ("__main__.py", "config.py", "metrics.py", "README.md"):
        assert (folder / name).is_file(), f"services/{service}/{name}"
    config = tree(folder / "config.py")
    assert any(isinstance(n, ast.FunctionDef) and n.name == "from_env" for n in ast.walk(config))
    main = (folder / "__main__.py").read_text()
    assert "Config.from_env()" in main and main.count(".from_env(") == 1  # read once, in main


@pytest.mark.parametrize("service", SERVICES)
def test_settings_come_only_from_config(service: str) -> None:
    """No module of a service reads the environment itself, nor writes to it (config.py reads it through
    picloss.platform.config, once)."""
    for path in sorted((REPO / "services" / service).glob("*.py")):
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"):
                pytest.fail(f"{path.relative_to(REPO)}:{node.lineno} uses os.{node.attr}")


@pytest.mark.parametrize("service", MODEL_SERVICES)
def test_a_model_service_warms_up_in_its_servicer_and_names_itself_from_the_descriptor(service: str) -> None:
    servicer = tree(REPO / "services" / service / "servicer.py")
    methods = {n.name for cls in ast.walk(servicer) if isinstance(cls, ast.ClassDef)
               for n in cls.body if isinstance(n, ast.AsyncFunctionDef)}
    assert {"warm_up", "close"} <= methods
    assert "DESCRIPTOR.services_by_name" in (REPO / "services" / service / "servicer.py").read_text()
    main = (REPO / "services" / service / "__main__.py").read_text()
    assert "ready=servicer.warm_up" in main and "SERVICE.full_name" in main
    assert '"picloss.' not in main  # no service name literal


def test_the_grpc_services_without_a_model_name_themselves_from_the_descriptor_too() -> None:
    main = (REPO / "services" / "aggregator" / "__main__.py").read_text()
    assert "SERVICE.full_name" in main and "ready=" not in main
