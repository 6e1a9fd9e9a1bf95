"""Where the CLI and the SDK find the gateway and the key: flags, then environment variables, then the
dotenv file `make up` writes (`.run/picloss.env`: PICLOSS_GATEWAY_URL, PICLOSS_CA_CERT, PICLOSS_APPID,
PICLOSS_MCHID, PICLOSS_KEY)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_FILE_ENV = "PICLOSS_ENV_FILE"
DEFAULT_ENV_FILE = Path(".run") / "picloss.env"
VARIABLES = {"gateway_url": "PICLOSS_GATEWAY_URL", "appid": "PICLOSS_APPID", "mchid": "PICLOSS_MCHID",
             "key": "PICLOSS_KEY", "ca_cert": "PICLOSS_CA_CERT"}


class CredentialsError(ValueError):
    """A setting is missing everywhere; the message names the flag, the variable and the file."""


@dataclass(frozen=True)
class Credentials:
    gateway_url: str
    appid: str
    mchid: str
    key: str
    ca_cert: str | None = None

    def __repr__(self) -> str:  # never print the key
        return (f"Credentials(gateway_url={self.gateway_url!r}, appid={self.appid!r}, mchid={self.mchid!r}, "
                f"key=<{len(self.key)} chars>, ca_cert={self.ca_cert!r})")


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments skipped; optional `export `, optional quotes."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.removeprefix("export ").split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def env_file_path(explicit: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The dotenv to read: the one given, else $PICLOSS_ENV_FILE, else ./.run/picloss.env when it exists."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get(ENV_FILE_ENV):
        return Path(env[ENV_FILE_ENV])
    return DEFAULT_ENV_FILE if DEFAULT_ENV_FILE.is_file() else None


def settings(flags: Mapping[str, str | None] | None = None, env_file: str | Path | None = None,
             env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every known setting, each from the first of: flags, environment, dotenv."""
    flags = flags or {}
    env = os.environ if env is None else env
    path = env_file_path(env_file, env)
    if path is not None and not path.is_file():
        raise CredentialsError(f"env file {path}: not found")
    dotenv = read_dotenv(path) if path is not None else {}
    out: dict[str, str] = {}
    for name, variable in VARIABLES.items():
        for value in (flags.get(name), env.get(variable), dotenv.get(variable)):
            if value:
                out[name] = value
                break
    return out


def load_credentials(flags: Mapping[str, str | None] | None = None, env_file: str | Path | None = None,
                     env: Mapping[str, str] | None = None, need_gateway: bool = True) -> Credentials:
    """Credentials from flags, the environment and the dotenv; a missing one is a `CredentialsError`."""
    found = settings(flags, env_file, env)
    needed = ["appid", "mchid", "key"] + (["gateway_url"] if need_gateway else [])
    missing = [n for n in needed if n not in found]
    if missing:
        where = ", ".join(f"--{n.replace('_', '-')} or {VARIABLES[n]}" for n in missing)
        raise CredentialsError(f"missing {where} (or run `make up`, which writes {DEFAULT_ENV_FILE})")
    return Credentials(found.get("gateway_url", ""), found["appid"], found["mchid"], found["key"],
                       found.get("ca_cert") or None)
