"""One Dockerfile per process, all of the same shape, agreeing with the chart's commands.

They cannot be built here (no Docker engine); this checks what can be checked without one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
VALUES = yaml.safe_load((REPO_ROOT / "charts" / "picloss" / "values.yaml").read_text())
PROCESSES = {name: c for name, c in VALUES["components"].items() if c["role"] != "triton"}


def dockerfile(name: str) -> Path:
    return REPO_ROOT / ("gateway" if name == "gateway" else f"services/{name}") / "Dockerfile"


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_dockerfile_is_multistage_pinned_non_root_and_runs_the_charts_command(name: str) -> None:
    text = dockerfile(name).read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base.group(1))
    assert len(re.findall(r"^FROM ", text, re.M)) == 2, "build stage + runtime stage"
    assert re.search(r"^USER 10001:10001$", text, re.M)
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert cmd and json.loads(cmd.group(1)) == PROCESSES[name]["command"]
    exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()}  # type: ignore[union-attr]
    assert PROCESSES[name]["metricsPort"] in exposed
    if "port" in PROCESSES[name]:
        assert PROCESSES[name]["port"] in exposed
    copies_models = re.search(r"^COPY models(/\S+)? /app/models", text, re.M) is not None
    # OCR runs the PP-OCR models bundled in the rapidocr wheel; only our own models are copied
    assert copies_models == (name in {"classifier", "damage"}), name


def test_every_image_uses_the_same_base() -> None:
    bases = {re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile(n).read_text(), re.M).group(1)  # type: ignore[union-attr]
             for n in PROCESSES}
    assert len(bases) == 1, bases
