"""Validated protocol requests as frozen dataclasses (built by `validation`, never by hand from JSON)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from picloss.protocol.json import canonical_dumps
from picloss.rpc.events.v1 import events_pb2


@dataclass(frozen=True)
class FileDesc:
    """A request file (`file_desc`); `filemd5` is lower-case hex; None = not given."""

    fileurl: str
    filemd5: str | None = None
    fileid: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"fileurl": self.fileurl}
        if self.filemd5 is not None:
            body["filemd5"] = self.filemd5
        if self.fileid is not None:
            body["fileid"] = self.fileid
        return body


@dataclass(frozen=True)
class LossRequest:
    """A loss-assessment request (PROTOCOL §4)."""

    appid: str
    mchid: str
    nonce: str
    timestamp: int
    files: tuple[FileDesc, ...]
    model: str
    req_seqno: str
    callback_url: str

    def content_hash(self) -> str:
        """sha256 hex of the content that idempotency compares: files (in order), model, callback_url.

        Identity, nonce, timestamp and unknown fields are excluded, so a client's retry with a
        fresh nonce/timestamp is recognised as the same request.
        """
        content = {
            "files": [f.to_json() for f in self.files],
            "model": self.model,
            "callback_url": self.callback_url,
        }
        return hashlib.sha256(canonical_dumps(content)).hexdigest()

    def to_event_files(self, fileids: Sequence[str] | None = None) -> list[events_pb2.FileRef]:
        """The files as `RequestAccepted.files`, with the service-assigned `fileids` when given (absent
        md5/fileid become empty strings)."""
        ids = list(fileids) if fileids is not None else [f.fileid or "" for f in self.files]
        if len(ids) != len(self.files):
            raise ValueError("one fileid per file")
        return [events_pb2.FileRef(fileurl=f.fileurl, filemd5=f.filemd5 or "", fileid=fileid)
                for f, fileid in zip(self.files, ids, strict=True)]

    def to_event(self, accept_seqno: str, accepted_at_ms: int,
                 fileids: Sequence[str] | None = None) -> events_pb2.RequestAccepted:
        """The `picloss.requests.v1` event for this request once it is accepted."""
        return events_pb2.RequestAccepted(
            accept_seqno=accept_seqno, appid=self.appid, mchid=self.mchid, req_seqno=self.req_seqno,
            model=self.model, callback_url=self.callback_url, files=self.to_event_files(fileids),
            accepted_at_ms=accepted_at_ms)


@dataclass(frozen=True)
class QueryRequest:
    """A query (PROTOCOL §7): exactly one of `req_seqno` / `accept_seqno` is set."""

    appid: str
    mchid: str
    nonce: str
    timestamp: int
    req_seqno: str | None
    accept_seqno: str | None
