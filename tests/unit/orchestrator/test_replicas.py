"""Replica naming and addressing of the local stack, and the orchestrator's balanced model-service targets."""

from __future__ import annotations

from pathlib import Path

from devkit.stack import PROCESS_KINDS, Stack, StackSettings, instances, kind_of
from picloss.engines.pipeline.clients import BALANCED_OPTIONS, channel_target


def test_replica_names_and_kinds() -> None:
    assert instances("damage", 1) == ["damage"]
    assert instances("gateway", 3) == ["gateway", "gateway-2", "gateway-3"]
    assert [kind_of(n) for n in ("gateway", "gateway-2", "damage-10", "postgres", "broker")] == [
        "gateway", "gateway", "damage", "postgres", "broker"]
    assert kind_of("picloss-demo-2") == "picloss-demo-2"  # not a process kind: left alone


def test_two_replicas_get_their_own_ports_and_the_orchestrator_sees_both(tmp_path: Path) -> None:
    settings = StackSettings.ephemeral(tmp_path, replicas=2)
    names = settings.names()
    assert len(names) == 2 * len(PROCESS_KINDS) and len(set(names)) == len(names)
    metrics = [settings.metrics_ports[n] for n in names]
    grpc = [settings.grpc_ports[n] for n in names if n in settings.grpc_ports]
    gateways = [settings.gateway_ports[n] for n in ("gateway", "gateway-2")]
    assert len(set(metrics + grpc + gateways)) == len(metrics) + len(grpc) + len(gateways) == 14 + 8 + 2
    stack = Stack(settings)
    stack.broker = type("B", (), {"bootstrap": "127.0.0.1:1"})()  # type: ignore[assignment]
    stack.postgres = type("P", (), {"url": "postgresql://x"})()  # type: ignore[assignment]
    env = stack.component_env("gateway-2")
    assert env["GATEWAY_PORT"] == str(settings.gateway_ports["gateway-2"])
    assert env["METRICS_PORT"] == str(settings.metrics_ports["gateway-2"])
    damage = settings.grpc_ports["damage"], settings.grpc_ports["damage-2"]
    assert env["DAMAGE_ADDR"] == f"127.0.0.1:{damage[0]},127.0.0.1:{damage[1]}"
    assert stack.component_env("ocr-2")["GRPC_PORT"] == str(settings.grpc_ports["ocr-2"])
    assert stack.gateway_urls == [f"https://127.0.0.1:{p}" for p in gateways]


def test_one_replica_keeps_the_fixed_ports_of_make_up(tmp_path: Path) -> None:
    settings = StackSettings(run_dir=tmp_path)
    assert settings.names() == list(PROCESS_KINDS)
    assert settings.gateway_ports == {"gateway": 8443} and settings.grpc_ports["damage"] == 50053


def test_channel_targets_balance_over_every_replica() -> None:
    assert channel_target("127.0.0.1:50053") == "127.0.0.1:50053"
    assert channel_target("dns:///picloss-damage-headless:50053") == "dns:///picloss-damage-headless:50053"
    assert channel_target("127.0.0.1:1, 127.0.0.1:2") == "ipv4:127.0.0.1:1,127.0.0.1:2"
    assert ("grpc.lb_policy_name", "round_robin") in BALANCED_OPTIONS


async def test_a_balanced_channel_reaches_both_replicas() -> None:
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    from devkit.procs import free_port

    calls: dict[int, int] = {}

    def counting(port: int) -> grpc.aio.ServerInterceptor:
        class Count(grpc.aio.ServerInterceptor):
            async def intercept_service(self, continuation, details):  # type: ignore[no-untyped-def]
                calls[port] = calls.get(port, 0) + 1
                return await continuation(details)

        return Count()

    ports = [free_port(), free_port()]
    servers = []
    for port in ports:
        server = grpc.aio.server(interceptors=[counting(port)])
        health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        servers.append(server)
    try:
        target = channel_target(",".join(f"127.0.0.1:{p}" for p in ports))
        async with grpc.aio.insecure_channel(target, options=BALANCED_OPTIONS) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for _ in range(10):
                await stub.Check(health_pb2.HealthCheckRequest(), timeout=5, wait_for_ready=True)
        assert set(calls) == set(ports) and sum(calls.values()) == 10, calls
    finally:
        for server in servers:
            await server.stop(0)
