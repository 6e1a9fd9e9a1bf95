"""Which version of a model serves (issue 24): one rule for Triton and the in-process runner.

The model repository keeps numbered versions, `models/<name>/<n>/model.onnx`. Which one serves is Triton's version
policy in `models/<name>/config.pbtxt`:

- `version_policy: { specific: { versions: [ n ] } }` (written by `make promote-model` / `make rollback-model`):
  version n;
- no policy (Triton's default, `latest { num_versions: 1 }`): the highest numbered version present.

The in-process onnxruntime runner reads the same file, so both backends serve the same version. A deployment can
pin versions without touching the repository: `PICLOSS_MODEL_VERSIONS="damage_detector=2,damage_gate=1"` (the
chart's `modelVersions`, which also rewrites Triton's policy in its copy of the repository).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

POLICY_LINE = re.compile(r"^\s*version_policy\s*:.*$", re.MULTILINE)
SPECIFIC = re.compile(r"version_policy\s*:\s*\{\s*specific\s*:?\s*\{\s*versions\s*:\s*\[?\s*([0-9][0-9,\s]*)\]?")


class VersionError(ValueError):
    """A version that the repository does not hold, or a malformed version setting."""


def numbered_versions(models_dir: Path, name: str) -> list[int]:
    """The versions of `name` that have a model file, ascending (numerically: 10 after 9)."""
    model_dir = models_dir / name
    if not model_dir.is_dir():
        return []
    return sorted(int(p.parent.name) for p in model_dir.glob("*/model.onnx") if p.parent.name.isdigit())


def pinned_version(config_text: str) -> int | None:
    """The version a `specific` policy names (the highest, where it names several), or None for no pin."""
    m = SPECIFIC.search(config_text)
    if m is None:
        return None
    numbers = [int(v) for v in re.split(r"[,\s]+", m.group(1).strip()) if v]
    return max(numbers) if numbers else None


def policy_line(version: int) -> str:
    return f"version_policy: {{ specific: {{ versions: [ {version} ] }} }}"


def with_pinned_version(config_text: str, version: int) -> str:
    """config.pbtxt text with its version policy replaced by (or, without one, extended with) a pin to `version`."""
    if POLICY_LINE.search(config_text):
        return POLICY_LINE.sub(policy_line(version), config_text, count=1)
    return config_text.rstrip("\n") + "\n" + policy_line(version) + "\n"


def serving_version(models_dir: Path, name: str, override: str | None = None) -> str:
    """The version that serves `name`: `override` (PICLOSS_MODEL_VERSIONS), else config.pbtxt's pin, else the
    highest numbered version. Raises VersionError when that version has no model file."""
    present = numbered_versions(models_dir, name)
    if override:
        if not override.isdigit():
            raise VersionError(f"{name}: version {override!r} is not a number")
        chosen = int(override)
    else:
        config = models_dir / name / "config.pbtxt"
        pin = pinned_version(config.read_text()) if config.is_file() else None
        if pin is None:
            if not present:
                raise VersionError(f"{name}: no <n>/model.onnx under {models_dir / name}")
            return str(present[-1])
        chosen = pin
    if chosen not in present:
        raise VersionError(f"{name}: version {chosen} is not in {models_dir / name} (present: {present or 'none'})")
    return str(chosen)


def parse_versions(text: str) -> dict[str, str]:
    """`"damage_detector=2, damage_gate=1"` -> {"damage_detector": "2", "damage_gate": "1"}."""
    out: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, version = item.partition("=")
        if not sep or not name.strip() or not version.strip().isdigit():
            raise VersionError(f"PICLOSS_MODEL_VERSIONS item {item!r}: expected <model>=<number>")
        out[name.strip()] = version.strip()
    return out


def versions_from_env(env: Mapping[str, str]) -> dict[str, str]:
    return parse_versions(env.get("PICLOSS_MODEL_VERSIONS", ""))
