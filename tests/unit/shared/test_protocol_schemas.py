"""contracts/*.schema.json: examples validate, broken ones do not, enums match picloss.protocol.codes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from protocol_cases import LOSS_CASES, QUERY_CASES, field_name, mutate
from protocol_examples import (
    batch_callback,
    failed_callback,
    loss_request,
    query_request,
    query_response,
    single_callback,
)

from picloss.protocol.codes import CallbackCode, FileCode, ImageClass, RequestState, ResultCode
from picloss.protocol.schemas import load_schema, schema_names, validator

Body = dict[str, Any]


def errors(name: str, body: Body) -> list[str]:
    return [error.message for error in validator(name).iter_errors(body)]


def test_every_schema_is_a_valid_draft_2020_12_schema() -> None:
    names = schema_names()
    assert set(names) >= {"loss-request", "query-request", "response", "query-response", "callback"}
    for name in names:
        schema = load_schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        validator(name).check_schema(schema)
    assert load_schema("callback.schema.json") == load_schema("callback")


@pytest.mark.parametrize(("name", "body"), [
    ("loss-request", loss_request()),
    ("loss-request", loss_request(model="BATCH", unknown_field=[1, 2])),
    ("query-request", query_request()),
    ("query-request", query_request(req_seqno=None, accept_seqno="A1")),
    ("response", {"result_code": "SUCCESS", "result_msg": "", "accept_seqno": "A1"}),
    ("response", {"result_code": "PARAM_ERROR", "result_msg": "files[2].fileurl: longer than 256 chars"}),
    ("response", {"result_code": "SYSTEM_BUSY"}),
    ("callback", single_callback()),
    ("callback", batch_callback()),
    ("callback", failed_callback()),
    ("query-response", query_response("DELIVERED")),
    ("query-response", query_response("DELIVERY_FAILED")),
    ("query-response", query_response("PROCESSING") | {"attempts": []}),
    ("query-response", query_response("ACCEPTED") | {"attempts": []}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_valid_examples_validate(name: str, body: Body) -> None:
    assert errors(name, body) == []


def _edit(factory: Callable[[], Body], change: Callable[[Body], None]) -> Body:
    body = copy.deepcopy(factory())
    change(body)
    return body


def _set(body: Body, path: tuple[str | int, ...], value: Any) -> None:
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


def _sc(change: Callable[[Body], None]) -> Body:
    return _edit(single_callback, change)


def _bc(change: Callable[[Body], None]) -> Body:
    return _edit(batch_callback, change)


def _qr(change: Callable[[Body], None]) -> Body:
    return _edit(query_response, change)


INVALID: list[tuple[str, str, Body]] = [
    ("response", "success-without-accept_seqno", {"result_code": "SUCCESS"}),
    ("response", "error-with-accept_seqno", {"result_code": "PARAM_ERROR", "accept_seqno": "A1"}),
    ("response", "unknown-code", {"result_code": "OK"}),
    ("response", "msg-too-long", {"result_code": "SYSTEM_ERROR", "result_msg": "x" * 257}),
    ("query-request", "both-selectors", query_request(accept_seqno="A1")),
    ("query-request", "no-selector", query_request(req_seqno="")),
    ("callback", "component-41", _sc(lambda b: _set(
        b, ("single_loss", 0, "single_damage", 0, "component_parts", 0, "component_part_id"), 41))),
    ("callback", "score-101", _sc(lambda b: _set(
        b, ("single_loss", 0, "single_damage", 0, "damage_degree_score"), 101))),
    ("callback", "degree-2", _bc(lambda b: _set(
        b, ("batch_loss", "batch_loss_results", 0, "damage_degree_id"), 2))),
    ("callback", "no-component-parts", _sc(lambda b: _set(
        b, ("single_loss", 0, "single_damage", 0, "component_parts"), []))),
    ("callback", "box-without-xmax", _sc(lambda b: b["single_loss"][0]["single_damage"][0][
        "boxes"].pop("xmax"))),
    ("callback", "damage-type-without-score", _sc(lambda b: b["single_loss"][0][
        "single_damage"][0].pop("damage_type_score"))),
    ("callback", "empty-image-contain-boxes", _bc(lambda b: _set(
        b, ("batch_loss", "batch_loss_results", 0, "image_contain", 0, "component_damage_boxes"), []))),
    ("callback", "single-and-batch", _sc(lambda b: b.update(
        batch_loss=batch_callback()["batch_loss"]))),
    ("callback", "unknown-top-field", _sc(lambda b: b.update(surprise=1))),
    ("callback", "bad-image-class", _sc(lambda b: _set(b, ("files", 0, "image_class"), "CAR"))),
    ("callback", "unknown-file-code", _sc(lambda b: _set(b, ("files", 0, "result_code"), 9999))),
    ("callback", "file-without-md5", _sc(lambda b: b["idcards"][0]["file"].pop("filemd5"))),
    ("callback", "upper-case-md5", _sc(lambda b: _set(
        b, ("vin_infos", 0, "file", "filemd5"), "0CC175B9C0F1B6A831C399E269772661"))),
    ("callback", "unknown-confidence-field",
     _sc(lambda b: _set(b, ("idcards", 0, "confidences", "vin"), 0.5))),
    ("callback", "confidence-above-1", _sc(lambda b: _set(b, ("idcards", 0, "confidences", "id"), 1.2))),
    ("callback", "vinconf-above-1", _sc(lambda b: _set(b, ("vin_infos", 0, "vinconf"), 1.5))),
    ("callback", "items-not-array", _sc(lambda b: _set(b, ("driving_licenses", 0, "items"), {}))),
    ("callback", "overall-code-int", _sc(lambda b: _set(b, ("result_code",), 0))),
    ("callback", "no-accept_seqno", _sc(lambda b: b.pop("accept_seqno"))),
    ("callback", "no-nonce", _sc(lambda b: b.pop("nonce"))),
    ("query-response", "done-without-result", _qr(lambda b: (b.update(state="DONE"), b.pop("result")))),
    ("query-response", "processing-with-result",
     query_response("PROCESSING") | {"result": single_callback()}),
    ("query-response", "bad-outcome", _qr(lambda b: _set(b, ("attempts", 0, "outcome"), "ok"))),
    ("query-response", "bad-at", _qr(lambda b: _set(b, ("attempts", 0, "at"), "yesterday"))),
    ("query-response", "bad-result", _qr(lambda b: b["result"].pop("req_seqno"))),
    ("query-response", "eight-attempts", _qr(lambda b: _set(
        b, ("attempts",), [dict(b["attempts"][0], attempt=min(i + 1, 7)) for i in range(8)]))),
]


@pytest.mark.parametrize(("name", "case", "body"), INVALID, ids=[f"{n}-{c}" for n, c, _ in INVALID])
def test_invalid_examples_do_not_validate(name: str, case: str, body: Body) -> None:
    assert errors(name, body), f"{name} accepted the {case} example"


def schema_cannot_say(case: str, value: Any) -> bool:
    """Cases where the Python validator is stricter than a portable JSON Schema can be."""
    return (
        (type(value) is float and value.is_integer())  # JSON Schema counts 1732000000.0 as an integer
        or case == "lone-surrogate"  # ECMA regexes see UTF-16 code units: a pattern would refuse emoji
        or (isinstance(value, str) and ":99999/" in value)  # a port number range
    )


@pytest.mark.parametrize(("case", "path", "value"), LOSS_CASES,
                         ids=[f"{field_name(p)}-{c}" for c, p, _ in LOSS_CASES])
def test_loss_request_schema_refuses_what_the_validator_refuses(case: str, path: Any, value: Any) -> None:
    if schema_cannot_say(case, value):
        pytest.skip("the Python validator is stricter here")
    assert errors("loss-request", mutate(loss_request(), path, value))


@pytest.mark.parametrize(("case", "path", "value"), QUERY_CASES,
                         ids=[f"{field_name(p)}-{c}" for c, p, _ in QUERY_CASES])
def test_query_request_schema_refuses_what_the_validator_refuses(case: str, path: Any, value: Any) -> None:
    if schema_cannot_say(case, value):
        pytest.skip("the Python validator is stricter here")
    assert errors("query-request", mutate(query_request(), path, value))


def test_schema_enums_match_the_python_codes() -> None:
    defs = load_schema("common")["$defs"]
    assert defs["result_code"]["enum"] == [c.value for c in ResultCode]
    assert defs["file_code"]["enum"] == [int(c) for c in FileCode]
    assert defs["image_class"]["enum"] == [c.value for c in ImageClass]
    assert defs["request_state"]["enum"] == [s.value for s in RequestState]
    callback = load_schema("callback")
    assert callback["properties"]["result_code"]["enum"] == [c.value for c in CallbackCode]
