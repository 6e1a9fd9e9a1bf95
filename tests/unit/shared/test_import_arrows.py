"""The star of imports (STYLE.md, issue 14): the shared package `picloss` sits in the middle and imports nothing of
ours; each process (a service, the gateway) imports `picloss` and itself only; the tools around it (training,
bench, the load test, the dev kit) import `picloss` and the dev kit, never a process's code.

Every import is read from the source (lazy ones inside functions too), nothing is imported.
"""

from __future__ import annotations

import ast
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
