"""The JSON Schemas of `contracts/` (draft 2020-12), with cross-file `$ref`s resolved locally."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

CONTRACTS_DIR = Path(__file__).resolve().parent.parent.parent / "contracts"
SCHEMA_SUFFIX = ".schema.json"


def _file_name(name: str) -> str:
    return name if name.endswith(SCHEMA_SUFFIX) else name + SCHEMA_SUFFIX


def schema_names() -> list[str]:
    """Every schema in contracts/, as names accepted by `load_schema` ("loss-request", ...)."""
    return sorted(path.name.removesuffix(SCHEMA_SUFFIX) for path in CONTRACTS_DIR.glob("*" + SCHEMA_SUFFIX))


@cache
def _load(file_name: str) -> dict[str, Any]:
    path = CONTRACTS_DIR / file_name
    if not path.is_file():
        raise FileNotFoundError(f"no schema {file_name} in {CONTRACTS_DIR}")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def load_schema(name: str) -> dict[str, Any]:
    """The schema `name` ("loss-request" or "loss-request.schema.json") as a dict (a copy)."""
    return json.loads(json.dumps(_load(_file_name(name))))


@cache
def _registry() -> Registry:
    resources = []
    for path in sorted(CONTRACTS_DIR.glob("*" + SCHEMA_SUFFIX)):
        schema = _load(path.name)
        resource = Resource.from_contents(schema, default_specification=DRAFT202012)
        resources.append((schema["$id"], resource))
        resources.append((path.name, resource))
    return Registry().with_resources(resources)


def validator(name: str) -> Draft202012Validator:
    """A validator for schema `name` whose `$ref`s to sibling schema files resolve offline."""
    schema = _load(_file_name(name))
    return Draft202012Validator(schema, registry=_registry(),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)
