"""docker/Dockerfile builds every process of the chart: one shared build stage, one target per component.

`make images` / `make images-smoke` build and run them (docs/deploy.md, Images); this checks, without any
container engine, that the Dockerfile agrees with the chart's components, commands and ports.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
MODEL_REPOSITORY = REPO_ROOT / "docker" / "model-repository" / "Dockerfile"
VALUES = yaml.safe_load((REPO_ROOT / "charts" / "picloss" / "values.yaml").read_text())
PROCESSES = {name: c for name, c in VALUES["components"].items() if c["role"] != "triton"}
PINNED_PYTHON = r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?"


@dataclass
class Stage:
    name: str
    base: str
    lines: list[str] = field(default_factory=list)

    def instructions(self, keyword: str) -> list[str]:
        return [line.split(None, 1)[1] for line in self.lines if line.split(None, 1)[0] == keyword]


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and the stages of a Dockerfile (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword = line.split(None, 1)[0]
        if keyword == "FROM":
            m = re.fullmatch(r"FROM (\S+)(?: AS (\S+))?", line)
            assert m, line
            stages.append(Stage(m.group(2) or f"stage{len(stages)}", m.group(1)))
        elif stages:
            stages[-1].lines.append(line)
        elif keyword == "ARG":
            name, _, default = line.split(None, 1)[1].partition("=")
            args[name] = default
    return args, stages


ARGS, STAGES = parse(DOCKERFILE)
BY_NAME = {s.name: s for s in STAGES}


def chain(name: str) -> list[Stage]:
    """A target and the stages it is built FROM, nearest first."""
    out = []
    while name in BY_NAME:
        out.append(BY_NAME[name])
        name = BY_NAME[name].base
    return out


def effective(name: str, keyword: str) -> list[str]:
    """The instruction's values over the target's whole FROM chain, oldest first."""
    return [v for stage in reversed(chain(name)) for v in stage.instructions(keyword)]


def env_of(name: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in effective(name, "ENV"):
        env.update(dict(re.findall(r"(\w+)=(\S+)", value)))
    return env


def models_used_by(name: str) -> set[str]:
    """Every ModelSpec(name=...) a service declares or imports with a model's contract
    (picloss/engines/models/<model>.py):
    the models its image must carry."""
    import ast

    contracts: set[str] = set()
    for py in (REPO_ROOT / "services" / name).glob("*.py"):
        for node in ast.walk(ast.parse(py.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "picloss.engines.models":
                contracts.update(alias.name for alias in node.names)  # from picloss.engines.models import a, b
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("picloss.engines.models."):
                contracts.add(node.module.split(".")[3])  # type: ignore[union-attr]
    sources = [(REPO_ROOT / "picloss" / "engines" / "models" / f"{c}.py").read_text() for c in sorted(contracts)]
    return {m for text in sources for m in re.findall(r'ModelSpec\(\s*name="(\w+)"', text)}


def test_default_base_is_a_pinned_python_image_and_every_python_stage_uses_it() -> None:
    assert re.fullmatch(PINNED_PYTHON, ARGS.get("BASE_IMAGE", "")), ARGS
    roots = {s.base for s in STAGES if s.base not in BY_NAME}
    assert roots == {"${BASE_IMAGE}"}, roots


def test_one_shared_build_stage_makes_the_venv_that_the_runtime_copies() -> None:
    build, runtime = BY_NAME["build"], BY_NAME["runtime"]
    assert build.base == runtime.base == "${BASE_IMAGE}"
    runs = " ".join(build.instructions("RUN"))
    assert "python -m venv /opt/venv" in runs
    assert "['optional-dependencies']['server']" in runs and "/opt/venv/bin/pip install" in runs
    assert re.search(r"/opt/venv/bin/pip install --no-deps \.", runs)
    assert runtime.instructions("COPY") == ["--from=build /opt/venv /opt/venv"]
    # every process image is the runtime stage plus its own few lines: the venv is built once
    for name in PROCESSES:
        assert [s.name for s in chain(name)][1:] == ["runtime"], name


def test_every_chart_component_has_a_target_and_there_are_no_others() -> None:
    targets = {s.name for s in STAGES} - {"build", "runtime"}
    assert targets == set(PROCESSES)
    for name, component in PROCESSES.items():
        assert component["image"]["repository"] == f"picloss-{name}"  # what docker/build-images.sh tags


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_target_runs_the_charts_command_non_root_read_only_friendly(name: str) -> None:
    cmd = BY_NAME[name].instructions("CMD")
    assert len(cmd) == 1 and json.loads(cmd[0]) == PROCESSES[name]["command"]
    assert not effective(name, "ENTRYPOINT")
    assert effective(name, "USER")[-1] == "10001:10001"
    assert not BY_NAME[name].instructions("RUN"), "targets add files only, no build steps"
    env = env_of(name)
    assert env["HOME"] == "/tmp" and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")
    runs = " ".join(effective(name, "RUN"))
    assert "--uid 10001 --gid 10001" in runs


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_target_exposes_the_charts_ports(name: str) -> None:
    exposed = {int(p) for value in BY_NAME[name].instructions("EXPOSE") for p in value.split()}
    wanted = {PROCESSES[name]["metricsPort"], *([PROCESSES[name]["port"]] if "port" in PROCESSES[name] else [])}
    assert exposed == wanted


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_models_only_where_a_model_runs_and_every_model_it_runs(name: str) -> None:
    copies = effective(name, "COPY")
    models = {m.group(1) for c in copies if (m := re.fullmatch(r"models/(\w+) /app/models/\1", c))}
    assert not [c for c in copies if c.startswith("models") and not re.fullmatch(r"models/(\w+) /app/models/\1", c)]
    # OCR runs the PP-OCR models bundled in the rapidocr wheel; only our own models are copied
    assert models == models_used_by(name), name
    assert bool(models) == (name in {"classifier", "damage"})
    if models:
        assert env_of(name)["PICLOSS_MODELS_DIR"] == "/app/models"
        for model in models:
            assert (REPO_ROOT / "models" / model / "config.pbtxt").is_file()


def test_build_context_keeps_everything_the_dockerfile_copies() -> None:
    patterns = [p for p in (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
                if p and not p.startswith("#")]
    assert patterns[0] == "*", "an allow-list: the context is only what the images copy"
    allowed = {p[1:] for p in patterns if p.startswith("!")}
    sources = [c.split()[0] for s in STAGES for c in s.instructions("COPY") if not c.startswith("--from")]
    for src in sources:
        assert any(src == a or src.startswith(a + "/") for a in allowed), src
        assert (REPO_ROOT / src.rstrip("/")).exists() or any(fnmatch.fnmatch(p.name, src) for p in REPO_ROOT.iterdir())


def test_model_repository_image() -> None:
    args, stages = parse(MODEL_REPOSITORY)
    assert re.fullmatch(r"busybox:[\d.]+-musl(@sha256:[0-9a-f]{64})?", args["BASE_IMAGE"])
    assert len(stages) == 1 and stages[0].base == "${BASE_IMAGE}"
    assert stages[0].instructions("COPY") == ["models /models"]
    assert stages[0].instructions("USER") == ["65534:65534"]
    assert VALUES["components"]["triton"]["modelRepository"]["image"]["path"] == "/models"


def test_images_script_builds_every_component_and_no_per_process_dockerfile_is_left() -> None:
    script = (REPO_ROOT / "docker" / "build-images.sh").read_text()
    default = re.search(r"IMAGE_PROCESSES=\$\{IMAGE_PROCESSES:-([^}]*)\}", script)
    assert default and set(default.group(1).split()) == set(PROCESSES)
    assert "-f docker/Dockerfile --target" in script and "docker/model-repository/Dockerfile" in script
    leftovers = [str(p.relative_to(REPO_ROOT)) for p in [REPO_ROOT / "gateway" / "Dockerfile",
                                                         *(REPO_ROOT / "services").glob("*/Dockerfile")]
                 if p.exists()]
    assert not leftovers, leftovers
