"""The table of document fields (picloss/domain/documents/fields.py, issue 25) against what cannot import it or is
written
apart: contracts/callback.schema.json, the protocol's ID card field order, the validators' rule names."""

from __future__ import annotations

import json
from pathlib import Path

from picloss.domain.documents.fields import FIELDS, IDCARD_DOCUMENTS, documents, fields_of
from picloss.domain.documents.validators import RULES, VALIDATORS
from picloss.protocol.codes import DOCUMENT_CLASSES
from picloss.protocol.results import IDCARD_FIELDS

REPO = Path(__file__).resolve().parents[3]
KINDS = ("labels", "english", "validator", "date", "digits_first", "closed", "closed_label", "multiline", "no_spaces",
         "id_encoded", "personal", "words")


def test_every_row_names_a_known_validator_and_every_field_has_its_rule() -> None:
    assert {f.validator for f in FIELDS} <= set(VALIDATORS)
    assert set(RULES) == {f.name for f in FIELDS}
    assert all(RULES[f.name] is VALIDATORS[f.validator] for f in FIELDS)


def test_rows_are_unique_and_a_name_on_two_documents_means_the_same_field() -> None:
    keys = [(f.document, f.name) for f in FIELDS]
    assert len(keys) == len(set(keys))
    for f in FIELDS:
        for g in FIELDS:
            if f.name == g.name:  # 住址 on both licences: the OCR and the validators key by name alone
                assert [getattr(f, k) for k in KINDS] == [getattr(g, k) for k in KINDS], f.name


def test_the_documents_are_the_protocols_in_order_each_with_at_most_one_self_proving_number() -> None:
    assert documents() == DOCUMENT_CLASSES
    for document in documents():
        assert len([f for f in fields_of(document) if f.self_proving]) <= 1
    assert all(f.self_proving in (None, "id", "vin") and f.id_encoded in (None, "birth", "sex") for f in FIELDS)


def test_the_callback_schema_has_the_id_card_fields_of_the_table_in_the_protocols_order() -> None:
    schema = json.loads((REPO / "contracts" / "callback.schema.json").read_text())
    idcard = schema["$defs"]["idcard"]["properties"]
    names = [name for name in idcard if name not in ("file", "result_code", "confidences")]
    table = [f.name for f in FIELDS if f.document in IDCARD_DOCUMENTS]
    # a new ID card field is a protocol change (§5's idcard object): the schema and IDCARD_FIELDS follow on purpose
    assert sorted(names) == sorted(table) == sorted(IDCARD_FIELDS)
    assert tuple(names) == IDCARD_FIELDS
    assert idcard["confidences"]["propertyNames"]["enum"] == list(IDCARD_FIELDS)
    for name in names:
        assert idcard[name]["type"] == "string" and idcard[name]["minLength"] == 1
    # the licences' fields travel as items named by their protocol name: no list in the schema to keep in step
    item = schema["$defs"]["items"]["properties"]["item"]
    assert "enum" not in item and item["type"] == "string"
