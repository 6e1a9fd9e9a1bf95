"""The whole stack, started once for the e2e session: broker, database, every service, HTTPS gateway."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from devkit.client import PiclossClient
from devkit.photos import PhotoServer
from devkit.receiver import CallbackReceiver
from devkit.stack import DEMO_APPID, DEMO_MCHID, MODEL_SERVICES, REPO_ROOT, Stack, StackSettings

# Short retry delays so the protocol's 7 attempts fit in a test; the first is longer so a test
# can kill the dispatcher while a retry is pending.
E2E_ENV = {"CALLBACK_RETRY_DELAYS": "3,1,1,1,1,1", "CALLBACK_TIMEOUT_S": "2", "KAFKA_SESSION_TIMEOUT_MS": "3000",
           "LOG_LEVEL": "INFO"}


AUDIT_DIR = Path(__file__).parent / "audit"


def components() -> tuple[str, ...]:
    """Every process; E2E_COMPONENTS narrows it while a service is being developed."""
    chosen = os.environ.get("E2E_COMPONENTS")
    if chosen:
        return tuple(chosen.split(","))
    return (*MODEL_SERVICES, "orchestrator", "dispatcher", "gateway")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("stack")
    env = dict(E2E_ENV)
    # every process records the files it opens for writing (tests/e2e/audit; test_privacy_e2e.py)
    (run_dir / "writes").mkdir()
    env.update({"PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{AUDIT_DIR}",
                "PICLOSS_AUDIT_WRITES_DIR": str(run_dir / "writes")})
    if not set(MODEL_SERVICES) <= set(components()):
        env.update({"RPC_RETRY_BUDGET_S": "1", "RPC_TIMEOUT_S": "2"})  # absent model services: code 5001, fast
    st = Stack(StackSettings.ephemeral(run_dir, env=env))
    try:
        st.up(components())
        yield st
    except Exception:
        st.print_logs()
        raise
    finally:
        st.down()


@pytest.fixture(scope="session")
async def photos() -> AsyncIterator[PhotoServer]:
    server = await PhotoServer().start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def receiver(stack: Stack) -> AsyncIterator[CallbackReceiver]:
    rcv = await CallbackReceiver([stack.key]).start()
    yield rcv
    await rcv.stop()


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[PiclossClient]:
    async with PiclossClient(stack.gateway_url, DEMO_APPID, DEMO_MCHID, stack.key, str(stack.cert_file)) as c:
        yield c
