"""The orchestrator takes a request's files from its RequestAccepted event (no second read of the ledger): the event
lists them exactly as the gateway writes them to the ledger, and as the re-drive rebuilds them from it."""

from __future__ import annotations

from datetime import UTC, datetime

from picloss.platform.ledger.store import NewFile, Stalled
from picloss.protocol.validation import Limits, validate_loss_request
from services.orchestrator.handler import files_of
from services.orchestrator.redrive import event_of

FILES = [
    {"fileurl": "https://cos.example.com/c1/front.jpg", "filemd5": "0cc175b9c0f1b6a831c399e269772661"},
    {"fileurl": "https://cos.example.com/c1/damage-1.jpg", "fileid": "F-2"},
    {"fileurl": "http://10.0.0.5:9000/b/damage-2.jpg?sig=abc", "filemd5": None, "fileid": ""},
]


def request() -> dict[str, object]:
    return {"appid": "wx-car-insur-01", "mchid": "1900000109", "nonce": "n1", "timestamp": 1_732_000_000,
            "files": FILES, "model": "BATCH", "req_seqno": "REQ-1", "callback_url": "https://insurer.example.com/cb"}


def ledger_rows(fileids: list[str]) -> list[NewFile]:
    """What the gateway writes (gateway/handlers.py: one NewFile per file, in request order)."""
    req = validate_loss_request(request(), Limits())
    return [NewFile(idx, fileids[idx], f.fileurl, f.filemd5) for idx, f in enumerate(req.files)]


def as_ledger(files: list) -> list[tuple[int, str, str, str | None]]:  # type: ignore[type-arg]
    return [(f.idx, f.fileid, f.fileurl, getattr(f, "md5_given", getattr(f, "filemd5_given", None))) for f in files]


def test_the_events_files_are_the_ledgers_files() -> None:
    fileids = ["svc-1", "F-2", "svc-3"]
    req = validate_loss_request(request(), Limits())
    event = req.to_event("A-1", 1_732_000_000_000, fileids)
    assert as_ledger(files_of(event)) == as_ledger(ledger_rows(fileids))
    assert [f.md5_given for f in files_of(event)] == ["0cc175b9c0f1b6a831c399e269772661", None, None]


def test_a_redriven_event_gives_the_same_files() -> None:
    rows = ledger_rows(["svc-1", "F-2", "svc-3"])
    stalled = Stalled(accept_seqno="A-1", appid="a", mchid="m", req_seqno="REQ-1", model="BATCH",
                      callback_url="https://insurer.example.com/cb", state="ACCEPTED",
                      accepted_at=datetime(2026, 12, 2, tzinfo=UTC), redrives=0, files=tuple(rows))
    assert as_ledger(files_of(event_of(stalled))) == as_ledger(rows)
