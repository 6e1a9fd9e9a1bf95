"""Every process of picloss, written once: its name, kind, ports and command.

The dev kit, the bench, the drill, the load test and the services' default ports derive from this table; what
cannot import Python (docker/Dockerfile, docker/build-images.sh, charts/picloss/values.yaml, the components
table of docs/architecture.md) is checked against it by tests/unit/shared/test_processes.py. Adding a service:
the checklist in docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass

# The chart's `role` of a component: it decides env, probes and network rules (charts/picloss/values.yaml).
GATEWAY, CONSUMER, MODEL, TRITON_KIND = "gateway", "consumer", "model", "triton"


@dataclass(frozen=True)
class Process:
    name: str  # folder (`gateway/`, `services/<name>/`), image `picloss-<name>`, chart `components.<name>`
    kind: str  # GATEWAY (HTTPS), CONSUMER (Kafka), MODEL (gRPC model service) or TRITON_KIND
    metrics_port: int  # Prometheus /metrics (METRICS_PORT)
    port: int | None = None  # serving port: the gateway's HTTPS (GATEWAY_PORT), a model service's gRPC (GRPC_PORT)
    module: str = ""  # `python -m <module>`; empty for a process that is not ours (Triton)

    @property
    def command(self) -> tuple[str, ...]:
        return ("python", "-m", self.module) if self.module else ("tritonserver",)

    @property
    def image(self) -> str:
        """The image's repository name (`<registry>/picloss-<name>:<tag>`)."""
        return f"picloss-{self.name}"

    @property
    def ports(self) -> tuple[int, ...]:
        """What the image exposes: the serving port (if any), then the metrics port."""
        return (*(() if self.port is None else (self.port,)), self.metrics_port)


# Ours, in the chart's order: one folder, one image, one `components.<name>` entry each.
PROCESSES: tuple[Process, ...] = (
    Process("gateway", GATEWAY, 9100, 8443, "gateway"),
    Process("orchestrator", CONSUMER, 9101, None, "services.orchestrator"),
    Process("dispatcher", CONSUMER, 9102, None, "services.dispatcher"),
    Process("classifier", MODEL, 9103, 50051, "services.classifier"),
    Process("ocr", MODEL, 9104, 50052, "services.ocr"),
    Process("damage", MODEL, 9105, 50053, "services.damage"),
    Process("aggregator", MODEL, 9106, 50054, "services.aggregator"),
)
# NVIDIA Triton, optional (TRITON_URL), serving models/: its gRPC port and its metrics port.
TRITON = Process("triton", TRITON_KIND, 8002, 8001)

BY_NAME: dict[str, Process] = {p.name: p for p in (*PROCESSES, TRITON)}
NAMES: tuple[str, ...] = tuple(p.name for p in PROCESSES)


def names_of(kind: str) -> tuple[str, ...]:
    """Our processes of one kind, in the table's order."""
    return tuple(p.name for p in PROCESSES if p.kind == kind)


GATEWAYS, CONSUMERS, MODEL_SERVICES = names_of(GATEWAY), names_of(CONSUMER), names_of(MODEL)


def local_address(name: str) -> str:
    """`127.0.0.1:<port>`: where a process serves by default on one machine (`make up`)."""
    port = BY_NAME[name].port
    if port is None:
        raise ValueError(f"{name} serves no port")
    return f"127.0.0.1:{port}"
