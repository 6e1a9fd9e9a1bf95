"""A real gateway process (plain HTTP, real PostgreSQL and broker) for the protocol fuzzer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.stack import Stack, StackSettings


@pytest.fixture(scope="session")
def fuzz_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("fuzz-stack")
    stack = Stack(StackSettings.ephemeral(run_dir, tls=False, env={"LOG_LEVEL": "WARNING"}))
    try:
        stack.up(("gateway",))
        yield stack
    finally:
        stack.down()
