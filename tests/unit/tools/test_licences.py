"""docs/licences.md is generated and fresh, and the generator refuses a runtime dependency or model weights
without a licence (tools/gen_licences.py; issue 23, item 7)."""

from __future__ import annotations

from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from tools import gen_licences


def test_the_licence_page_is_generated_and_fresh(capsys: pytest.CaptureFixture[str]) -> None:
    assert gen_licences.main(["--check"]) == 0, capsys.readouterr().err
    page = gen_licences.PAGE.read_text()
    assert "| cryptography | 50.0.2 |" in page and "| `models/car_detector/1/model.onnx` |" in page
    assert "| ? |" not in page and " ? |" not in page


def test_every_shipped_weights_file_has_a_row() -> None:
    files = gen_licences.weight_files()
    assert len(files) >= 5
    assert {p.parts[-3] for p in files} <= set(gen_licences.MODEL_WEIGHTS)


def fake(**fields: Any) -> Any:
    meta = Message()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            meta[key.replace("_", "-")] = item

    class Dist:
        metadata = meta

    return Dist()


def test_a_licence_is_read_from_the_expression_the_classifiers_or_a_short_field() -> None:
    assert gen_licences.licence_of(fake(License_Expression="MIT OR Apache-2.0", License="x")) == "MIT OR Apache-2.0"
    assert gen_licences.licence_of(fake(Classifier=["License :: OSI Approved :: BSD License",
                                                    "Programming Language :: Python"])) == "BSD"
    assert gen_licences.licence_of(fake(License="Apache 2.0")) == "Apache 2.0"
    assert gen_licences.licence_of(fake(License="UNKNOWN")) is None
    assert gen_licences.licence_of(fake(License="Copyright (c) ...\nPermission is hereby granted")) is None
    assert gen_licences.licence_of(fake(Classifier=["Programming Language :: Python"])) is None


def test_a_new_dependency_without_a_licence_fails(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    real = gen_licences.licence_of
    monkeypatch.setattr(gen_licences, "licence_of",
                        lambda dist: None if dist.metadata["Name"] == "structlog" else real(dist))
    with pytest.raises(gen_licences.LicenceMissing, match=r"structlog 26\.1\.0 \(required by picloss\[server\]\)"):
        gen_licences.runtime_dependencies()
    assert gen_licences.main(["--check"]) == 1 and "no licence declared by: structlog" in capsys.readouterr().err


def test_new_weights_without_a_row_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = gen_licences.REPO / "models" / "new_model" / "1" / "model.onnx"
    monkeypatch.setattr(gen_licences, "weight_files", lambda: [extra])
    with pytest.raises(gen_licences.LicenceMissing, match=r"models/new_model/1/model\.onnx"):
        gen_licences.render()


def test_a_stale_page_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stale = tmp_path / "licences.md"
    stale.write_text(gen_licences.PAGE.read_text().replace("| cryptography |", "| cryptographie |"))
    monkeypatch.setattr(gen_licences, "PAGE", stale)
    assert gen_licences.main(["--check"]) == 1
