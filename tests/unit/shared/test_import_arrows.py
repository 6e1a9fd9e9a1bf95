"""The star of imports (STYLE.md, issue 14): the shared package `picloss` sits in the middle and imports nothing of
ours; each process (a service, the gateway) imports `picloss` and itself only; the tools around it (training,
bench, the load test, the dev kit) import `picloss` and the dev kit, never a process's code.

Every import is read from the source (lazy ones inside functions too), nothing is imported.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
OURS = ("picloss", "services", "gateway", "devkit", "training", "bench", "loadtest", "tests")
# who may import whom (besides itself); a service may import only its own folder of `services`
ALLOWED = {
    "picloss": (),
    "services": ("picloss",),
    "gateway": ("picloss",),
    "training": ("picloss",),
    "devkit": ("picloss",),
    "loadtest": ("picloss", "devkit"),
    "bench": ("picloss", "devkit", "loadtest"),
}
# The one arrow outside the star: the dev kit's sample document photos come from the training renderer.
EXCEPTIONS = {("devkit/photos.py", "training.documents.render")}


def sources(folder: str) -> Iterator[Path]:
    for path in sorted((REPO / folder).rglob("*.py")):
        if "/v1/" not in path.as_posix():  # generated protobuf code
            yield path


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every absolute import in the file; `from a import b` gives a.b and a."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def wrong_arrows(folder: str) -> list[str]:
    wrong = []
    for path in sources(folder):
        for line, module in imported(path):
            top = module.split(".")[0]
            if top not in OURS or top == folder or any(rel(path) == where and (module + ".").startswith(what + ".")
                                                        for where, what in EXCEPTIONS):
                continue
            if top not in ALLOWED[folder]:
                wrong.append(f"{rel(path)}:{line} imports {module}")
    return wrong


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_each_part_imports_only_what_the_star_allows(folder: str) -> None:
    assert list(sources(folder)), f"{folder} has no sources: the rule would check nothing"
    assert wrong_arrows(folder) == []


def test_a_service_never_imports_another_service() -> None:
    wrong = []
    for path in sources("services"):
        own = path.relative_to(REPO / "services").parts[0]
        for line, module in imported(path):
            parts = module.split(".")
            if parts[0] == "services" and len(parts) > 1 and parts[1] != own:
                wrong.append(f"{rel(path)}:{line} imports {module}")
    assert wrong == []


def test_every_exception_is_still_needed() -> None:
    """An exception that no longer hides anything must go (so that the rule covers everything again)."""
    for path, module in EXCEPTIONS:
        assert module in {m for _, m in imported(REPO / path)}, f"{path} no longer imports {module}: remove it"


def test_the_rule_catches_a_wrong_arrow(tmp_path: Path) -> None:
    """The checker itself: a service file importing another service and training is reported."""
    fake = tmp_path / "x.py"
    fake.write_text("import os\nfrom training.documents import render\n\ndef f():\n    from services import ocr\n")
    found = [m for _, m in imported(fake)]
    assert {"os", "training.documents", "training.documents.render", "services.ocr"} <= set(found)


def test_the_images_ship_no_dev_kit() -> None:
    """The Dockerfile copies only what the processes run: the shared package, the gateway and the services."""
    copied = [line.split()[1] for line in (REPO / "docker" / "Dockerfile").read_text().splitlines()
              if line.startswith("COPY ") and "--from" not in line]
    assert {"picloss", "gateway", "services"} <= set(copied)
    assert not {"devkit", "training", "bench", "loadtest", "tests"} & set(copied)
    assert not (REPO / "picloss" / "devstack").exists()


# Inside the shared package, layers (issue 25): each imports itself and the layers listed, never one above it.
# rpc is generated code (`make proto`); its own imports are not checked.
LAYERS = {
    "platform": (),
    "domain": (),
    "protocol": ("domain", "platform", "rpc"),
    "engines": ("platform", "domain", "protocol", "rpc"),
    "client": ("protocol", "domain"),
}
# The callback builder's type hints name the pipeline's outcome; read by the type checker only (never imported at
# run time: the pipeline imports the protocol, not the reverse).
TYPE_ONLY = {("picloss/protocol/callback.py", "picloss.engines.pipeline.pipeline")}


def layer_arrows(layer: str) -> list[str]:
    wrong = []
    for path in sorted((REPO / "picloss" / layer).rglob("*.py")):
        for line, module in imported(path):
            parts = module.split(".")
            if parts[0] != "picloss" or len(parts) < 2 or parts[1] in (layer, "__init__"):
                continue
            if any(rel(path) == where and (module + ".").startswith(what + ".") for where, what in TYPE_ONLY):
                continue
            if parts[1] not in LAYERS[layer]:
                wrong.append(f"{rel(path)}:{line} imports {module}")
    return wrong


def test_the_shared_package_is_its_layers_only() -> None:
    """picloss/ holds the five layers and the generated code, nothing loose (but the package's own files)."""
    entries = {p.name for p in (REPO / "picloss").iterdir() if p.name != "__pycache__"}
    assert entries == {*LAYERS, "rpc", "__init__.py", "py.typed"}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    assert list((REPO / "picloss" / layer).rglob("*.py")), f"picloss/{layer} has no sources"
    assert layer_arrows(layer) == []


def test_type_only_imports_stay_type_only() -> None:
    """The exception above holds only while those imports sit under `if TYPE_CHECKING:`."""
    for where, module in TYPE_ONLY:
        tree = ast.parse((REPO / where).read_text())
        guarded = {n.module for node in ast.walk(tree) if isinstance(node, ast.If)
                   and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                   for n in ast.walk(node) if isinstance(n, ast.ImportFrom)}
        assert module in guarded, f"{where} imports {module} outside TYPE_CHECKING"
        top_level = {n.module for n in tree.body if isinstance(n, ast.ImportFrom)}
        assert module not in top_level


def test_no_module_imports_back_the_module_that_imports_it() -> None:
    """No two modules of the shared package import each other (lazy imports included): the assess/pose circle
    is broken by picloss/engines/damage/assessment.py."""
    graph: dict[str, set[str]] = {}
    for path in sorted((REPO / "picloss").rglob("*.py")):
        if "/rpc/" in path.as_posix():
            continue
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = {m for _, m in imported(path) if m.startswith("picloss.")}
    pairs = sorted(f"{a} <-> {b}" for a, deps in graph.items() for b in deps
                   if b in graph and a != b and a in graph[b] and not a.startswith(b) and not b.startswith(a))
    assert pairs == []


def test_the_layer_rule_catches_a_wrong_arrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "picloss" / "client" / "x.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from picloss.engines.ocr import reader\nfrom picloss.protocol import codes\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert layer_arrows("client") == ["picloss/client/x.py:1 imports picloss.engines.ocr",
                                      "picloss/client/x.py:1 imports picloss.engines.ocr.reader"]
