"""contracts/openapi.yaml: parses, its $refs resolve, every result code's HTTP status is documented."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from picloss.protocol.codes import HTTP_STATUS, ResultCode
from picloss.protocol.endpoints import QUERY_PATH, REQUEST_PATH
from picloss.protocol.schemas import CONTRACTS_DIR, load_schema, validator

QUERY_CANNOT_ANSWER = {ResultCode.SEQNO_CONFLICT}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((CONTRACTS_DIR / "openapi.yaml").read_text(encoding="utf-8"))
    return document


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve_local(spec: dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def deref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = resolve_local(spec, node["$ref"])
    return node


def test_is_openapi_3_1_with_both_endpoints(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")
    assert set(spec["paths"]) == {REQUEST_PATH, QUERY_PATH}
    assert all(set(item) == {"post"} for item in spec["paths"].values())


def test_every_ref_resolves(spec: dict[str, Any]) -> None:
    found = list(refs(spec))
    assert found
    for ref in found:
        if ref.startswith("#/"):
            assert resolve_local(spec, ref) is not None, ref
        else:
            file_name, _, fragment = ref.removeprefix("./").partition("#")
            assert (CONTRACTS_DIR / file_name).is_file(), ref
            schema = load_schema(file_name)
            if fragment:
                resolve_local(schema, fragment)


@pytest.mark.parametrize(("path", "schema_file"),
                         [(REQUEST_PATH, "loss-request"), (QUERY_PATH, "query-request")])
def test_request_bodies_signature_and_content_types(spec: dict[str, Any], path: str,
                                                    schema_file: str) -> None:
    operation = spec["paths"][path]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) == {"text/json", "application/json"}
    assert all(media["schema"]["$ref"] == f"./{schema_file}.schema.json" for media in content.values())
    parameters = [deref(spec, p) for p in operation["parameters"]]
    signature = [p for p in parameters if p["name"] == "Signature"]
    assert len(signature) == 1 and signature[0]["in"] == "header" and signature[0]["required"] is True


@pytest.mark.parametrize("path", [REQUEST_PATH, QUERY_PATH])
def test_every_result_code_status_is_documented(spec: dict[str, Any], path: str) -> None:
    responses = spec["paths"][path]["post"]["responses"]
    codes = [c for c in ResultCode if path == REQUEST_PATH or c not in QUERY_CANNOT_ANSWER]
    assert set(responses) == {str(HTTP_STATUS[c]) for c in codes}
    for code in codes:
        response = deref(spec, responses[str(HTTP_STATUS[code])])
        assert code.value in response["description"], f"{code} not described under {HTTP_STATUS[code]}"
        schema_ref = response["content"]["text/json"]["schema"]["$ref"]
        expected = "./query-response.schema.json" if (path, code) == (QUERY_PATH, ResultCode.SUCCESS) \
            else "./response.schema.json"
        assert schema_ref == expected


def test_response_examples_are_valid(spec: dict[str, Any]) -> None:
    response_validator = validator("response")
    examples = 0
    for response in spec["components"]["responses"].values():
        media = response["content"]["text/json"]
        if "example" in media:
            bodies = [media["example"]]
        else:
            bodies = [example["value"] for example in media["examples"].values()]
        for body in bodies:
            assert list(response_validator.iter_errors(body)) == []
            assert body["result_code"] in response["description"]
            examples += 1
    assert examples == len(ResultCode)


def test_callback_is_documented_with_the_callback_schema(spec: dict[str, Any]) -> None:
    callbacks = spec["paths"][REQUEST_PATH]["post"]["callbacks"]["lossResult"]
    operation = callbacks["{$request.body#/callback_url}"]["post"]
    assert operation["requestBody"]["content"]["text/json"]["schema"]["$ref"] == "./callback.schema.json"
