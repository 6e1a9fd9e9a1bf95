"""Where the load goes: a running `make up` stack (`.run/picloss.env`) or a stack started here.

The model services are started too once every `services/<name>/__main__.py` exists; until then the
backbone alone runs with a short RPC retry budget, so files end with per-file code 5001."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devkit.stack import (
    DEMO_APPID,
    DEMO_MCHID,
    ENV_FILE_NAME,
    MODEL_SERVICES,
    REPO_ROOT,
    Stack,
    StackSettings,
)
from picloss.platform.processes import CONSUMERS, GATEWAYS

BACKBONE = (*CONSUMERS, *GATEWAYS)
# no model service listens: fail each RPC fast (wait_for_ready would otherwise wait the whole deadline)
BACKBONE_ONLY_ENV = {"RPC_RETRY_BUDGET_S": "1", "RPC_TIMEOUT_S": "1"}


@dataclass(frozen=True)
class Target:
    gateway_url: str
    ca_cert: str
    appid: str
    mchid: str
    key: str


def present_model_services(repo: Path = REPO_ROOT) -> tuple[str, ...]:
    return tuple(n for n in MODEL_SERVICES if (repo / "services" / n / "__main__.py").exists())


def stack_components(repo: Path = REPO_ROOT) -> tuple[str, ...]:
    """Every model service once all four exist, else the backbone alone."""
    models = present_model_services(repo)
    return (*models, *BACKBONE) if len(models) == len(MODEL_SERVICES) else BACKBONE


def is_backbone_only(stack: Stack) -> bool:
    return not any(n in stack.procs for n in MODEL_SERVICES)


def full_stack(repo: Path = REPO_ROOT) -> bool:
    return len(stack_components(repo)) > len(BACKBONE)


def _up(run_dir: Path, components: tuple[str, ...], env: dict[str, str], replicas: int = 1) -> Stack:
    if components == BACKBONE:
        env = {**BACKBONE_ONLY_ENV, **env}
    stack = Stack(StackSettings.ephemeral(run_dir, env=env, replicas=replicas))
    try:
        stack.up(components)
    except Exception:
        stack.down()
        raise
    return stack


def start_stack(run_dir: Path, env: dict[str, str] | None = None, mode: str = "auto", replicas: int = 1) -> Stack:
    """mode: `full` (every model service), `backbone`, or `auto` (full when all four exist and start,
    else the backbone alone, with a warning). `replicas` of every process."""
    env = dict(env or {})
    if mode == "backbone" or (mode == "auto" and not full_stack()):
        return _up(run_dir / "backbone", BACKBONE, env, replicas)
    try:
        return _up(run_dir / "full", (*MODEL_SERVICES, *BACKBONE), env, replicas)
    except Exception as exc:
        if mode == "full":
            raise
        print(
            f"WARNING: the model services did not start ({str(exc).splitlines()[0][:200]}); "
            "running the backbone alone (files end with code 5001)",
            flush=True,
        )
        return _up(run_dir / "backbone", BACKBONE, env, replicas)


def target_of(stack: Stack) -> Target:
    return Target(
        stack.gateway_url, str(stack.cert_file) if stack.s.tls else "", DEMO_APPID, DEMO_MCHID, stack.key
    )


def target_from_env_file(path: Path) -> Target | None:
    if not path.exists():
        return None
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return Target(
        values["PICLOSS_GATEWAY_URL"],
        values.get("PICLOSS_CA_CERT", ""),
        values["PICLOSS_APPID"],
        values["PICLOSS_MCHID"],
        values["PICLOSS_KEY"],
    )


def running_target(run_dir: Path) -> Target | None:
    """The `make up` stack, when its settings file and state file are both there."""
    if not (run_dir / "state.json").exists():
        return None
    return target_from_env_file(run_dir / ENV_FILE_NAME)
