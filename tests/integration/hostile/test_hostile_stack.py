"""One pass of hostile photos through the running stack (gateway → orchestrator → dispatcher): one
request mixes a good photo with hostile ones; the callback arrives within the fetch timeout plus a margin
and each file carries its own code in the `files` extension list. Without the model services, the good
photo ends with 5001 (no classifier), never with a download or decode code."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hostile_forge import jpeg, jpeg_bomb, png_bomb
from hostile_server import HostileServer

from devkit.client import PiclossClient
from devkit.receiver import CallbackReceiver
from devkit.stack import DEMO_APPID, DEMO_MCHID, MODEL_SERVICES, Stack, StackSettings
from picloss.protocol.codes import FileCode

pytestmark = pytest.mark.integration

FETCH_TIMEOUT_S = 3
PRE_CLASSIFICATION = {
    FileCode.DOWNLOAD_FAILED,
    FileCode.MD5_MISMATCH,
    FileCode.NOT_AN_IMAGE,
    FileCode.TOO_LARGE,
}


BACKBONE = ("orchestrator", "dispatcher", "gateway")
# without model services, fail each RPC fast (wait_for_ready would wait the whole deadline)
BACKBONE_ONLY_ENV = {"RPC_RETRY_BUDGET_S": "1", "RPC_TIMEOUT_S": "1"}


def started_stack(run_dir: Path, env: dict[str, str]) -> Stack:
    """The whole stack when the model services start, else the backbone alone."""
    for components, extra in (((*MODEL_SERVICES, *BACKBONE), {}), (BACKBONE, BACKBONE_ONLY_ENV)):
        stack = Stack(StackSettings.ephemeral(run_dir / str(len(components)), env={**env, **extra}))
        try:
            stack.up(components)
            return stack
        except Exception:
            stack.down()
            if components == BACKBONE:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def hostile_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("hostile-stack")
    # short model deadlines: a stalled model service turns into 5001 quickly instead of holding the test
    env = {"FETCH_TIMEOUT_S": str(FETCH_TIMEOUT_S), "CALLBACK_RETRY_DELAYS": "1", "RPC_TIMEOUT_S": "10",
           "RPC_RETRY_BUDGET_S": "5"}
    stack = started_stack(run_dir, env)
    yield stack
    stack.down()


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    srv = await HostileServer().start()
    yield srv
    await srv.stop()


async def test_hostile_photos_through_the_stack(hostile_stack: Stack, server: HostileServer) -> None:
    expected = {
        server.serve("good.jpg", jpeg(320, 240)): None,  # any code after classification
        server.serve("truncated.jpg", jpeg(256, 256)[:300]): FileCode.NOT_AN_IMAGE,
        server.serve("zero.jpg", b""): FileCode.NOT_AN_IMAGE,
        server.serve("page.jpg", b"<html>no</html>", "text/html"): FileCode.NOT_AN_IMAGE,
        server.serve("bomb.png", png_bomb(10_000, 10_000), "image/png"): FileCode.TOO_LARGE,
        server.serve("bomb.jpg", jpeg_bomb(10_000, 10_000)): FileCode.TOO_LARGE,
        server.url("slowloris"): FileCode.DOWNLOAD_FAILED,
        server.url("silent"): FileCode.DOWNLOAD_FAILED,
        server.redirect("to-metadata", "http://169.254.169.254/latest/meta-data/"): FileCode.DOWNLOAD_FAILED,
        server.url("missing.jpg"): FileCode.DOWNLOAD_FAILED,
    }
    receiver = await CallbackReceiver([hostile_stack.key]).start()
    try:
        async with PiclossClient(
            hostile_stack.gateway_url, DEMO_APPID, DEMO_MCHID, hostile_stack.key, str(hostile_stack.cert_file)
        ) as client:
            started = time.monotonic()
            reply = await client.submit(
                [{"fileurl": u} for u in expected], "SINGLE", receiver.url("/hostile")
            )
            assert reply.body["result_code"] == "SUCCESS"
            calls = await receiver.wait_for(reply.body["accept_seqno"], timeout_s=120)
            took = time.monotonic() - started
    finally:
        await receiver.stop()
    assert took < FETCH_TIMEOUT_S + 60, f"callback after {took:.1f} s"
    body = next(c.body for c in calls if c.answered == 200)
    codes = {f["fileurl"]: f["result_code"] for f in body["files"]}
    assert set(codes) == set(expected)
    for url, code in expected.items():
        if code is None:
            assert codes[url] not in PRE_CLASSIFICATION, f"{url}: {codes[url]}"
        else:
            assert codes[url] == code, f"{url}: {codes[url]} instead of {int(code)}"
