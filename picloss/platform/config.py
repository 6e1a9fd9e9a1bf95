"""Environment-variable configuration, parsed and validated once at start-up.

Every process declares its settings as a frozen dataclass built by `from_env()`
functions using the helpers here; a bad value fails fast with the variable's
name in the message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A missing or malformed environment variable."""


def _raw(env: Mapping[str, str], name: str, default: str | None) -> str:
    value = env.get(name)
    if value is None or value == "":
        if default is None:
            raise ConfigError(f"environment variable {name} is required")
        return default
    return value


def env_str(name: str, default: str | None = None, env: Mapping[str, str] | None = None) -> str:
    return _raw(os.environ if env is None else env, name, default)


def env_int(name: str, default: int | None = None, env: Mapping[str, str] | None = None,
            minimum: int | None = None) -> int:
    raw = _raw(os.environ if env is None else env, name, None if default is None else str(default))
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    return value


def env_float(name: str, default: float | None = None, env: Mapping[str, str] | None = None,
              minimum: float | None = None) -> float:
    raw = _raw(os.environ if env is None else env, name, None if default is None else str(default))
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    return value


def env_bool(name: str, default: bool, env: Mapping[str, str] | None = None) -> bool:
    raw = _raw(os.environ if env is None else env, name, "true" if default else "false").lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (true/false)")


def env_list(name: str, default: str = "", env: Mapping[str, str] | None = None) -> list[str]:
    raw = _raw(os.environ if env is None else env, name, default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_optional(name: str, env: Mapping[str, str] | None = None) -> str | None:
    value = (os.environ if env is None else env).get(name)
    return value or None


def json_settings(text: str, source: str, error: type[ConfigError]) -> Any:
    """A settings document (a keys file); a syntax error names the source and the line, never the content."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def settings_file(path: str | Path, what: str, error: type[ConfigError]) -> tuple[str, str]:
    """(text, source) of a settings file named by a variable; `source` is `"<what> <path>"` for messages."""
    try:
        return Path(path).read_text(encoding="utf-8"), f"{what} {path}"
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{what} {path}: cannot be read ({exc.__class__.__name__})") from exc
