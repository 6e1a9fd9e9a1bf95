"""Real broker and database for integration tests, started once per session from the PyPI wheels."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devkit.infra import Broker, Postgres, start_broker, start_postgres
from devkit.procs import free_port, stop_pid


@dataclass
class Infra:
    broker: Broker
    postgres: Postgres

    def new_database_url(self) -> str:
        """A fresh database per test module, so tests never see each other's rows."""
        import asyncio

        import asyncpg

        name = "t_" + uuid.uuid4().hex[:12]

        async def create() -> None:
            conn = await asyncpg.connect(self.postgres.url)
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()

        asyncio.run(create())
        return self.postgres.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    base: Path = tmp_path_factory.mktemp("infra")
    broker = start_broker(free_port(), base / "broker.log")
    postgres = start_postgres(base / "pgdata", free_port(), base / "postgres.log")
    try:
        yield Infra(broker, postgres)
    finally:
        stop_pid(postgres.proc.pid, sig=2)
        stop_pid(broker.proc.pid)
