"""Typed views of the protocol's answers: the result callback (PROTOCOL §5, §7) and the query answer.

The parsers beside their builders (`picloss.protocol.callback.build_body`, `picloss.protocol.endpoints.query_answer`);
standard library only, so that the client SDK (`picloss.client.sdk`) parses with this very module.
`parse_callback` and `parse_query` accept the raw body bytes (or the decoded JSON object) and keep the
original JSON in `.raw`: a field this version does not know is never lost. Parsing is lenient on
optional fields (absent → None or empty) and strict on the required ones (absent → `ResultError`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from picloss.protocol import codes, components

COMPONENTS: dict[int, tuple[str, str]] = components.COMPONENTS
UNKNOWN_SIDE_IDS: frozenset[int] = components.UNKNOWN_SIDE_IDS

FILE_CODE_TEXT: dict[int, str] = {
    0: "success",
    1001: "download failed",
    1002: "md5 mismatch",
    1003: "not a decodable image",
    1004: "image too large (bytes or pixels)",
    2001: "no field recognised",
    3001: "no damage found",
    5001: "processing failed (a model service failed or was unavailable)",
}
assert set(FILE_CODE_TEXT) == {int(c) for c in codes.FileCode}, "every per-file code has its words"

DEGREES = {0: ("修", "repair"), 1: ("换", "replace")}
assert set(DEGREES) == {int(d) for d in codes.DamageDegree}, "every degree has its words"
# The fields of an `idcard` object (§5), in the order the builder writes them and the parser reads them.
IDCARD_FIELDS = ("id", "name", "address", "birth", "sex", "nation", "valid_date", "authority")


class ResultError(ValueError):
    """A body that is not a callback / query answer of the protocol (names the field)."""


def file_code_text(code: int) -> str:
    return FILE_CODE_TEXT.get(code, f"code {code} (not a protocol code)")


def accepted_at(accept_seqno: str) -> datetime | None:
    """The accept time the gateway writes into its `accept_seqno` ("PL" + UTC yyyymmddHHMMSS + hex);
    None for any other form (the protocol does not define the seqno's shape)."""
    m = re.fullmatch(r"PL(\d{14})[0-9a-f]+", accept_seqno)
    if not m:
        return None
    try:
        return datetime.strptime(m.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class Component:
    id: int
    zh: str
    en: str

    @classmethod
    def of(cls, component_id: int) -> Component:
        zh, en = COMPONENTS.get(component_id, ("?", f"not a protocol id ({component_id})"))
        return cls(component_id, zh, en)

    @property
    def side_unknown(self) -> bool:
        return self.id in UNKNOWN_SIDE_IDS

    def __str__(self) -> str:
        return f"{self.zh} {self.en}"


@dataclass(frozen=True)
class FileRef:
    """A callback `file`: the request's file_desc with `fileid` filled in and the md5 computed."""

    fileurl: str
    fileid: str
    filemd5: str | None = None

    @property
    def name(self) -> str:
        """The last path segment of the URL (how a photo on disk is matched to it)."""
        return self.fileurl.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class FileResult:
    """An entry of the §7 `files` extension: one per request file."""

    file: FileRef
    image_class: str | None
    result_code: int
    model_version: str | None = None  # extension (issue 24): the models behind this file's result

    @property
    def result_text(self) -> str:
        return file_code_text(self.result_code)


@dataclass(frozen=True)
class Box:
    xmin: int
    ymin: int
    xmax: int
    ymax: int


@dataclass(frozen=True)
class ComponentPart:
    component: Component
    score: int


@dataclass(frozen=True)
class Damage:
    """A `single_damage`: one box on one photo."""

    degree_id: int
    degree_score: int | None
    parts: tuple[ComponentPart, ...]
    box: Box
    damage_type: str | None = None
    damage_type_score: int | None = None
    existence_score: int | None = None  # extension: 0..100 confidence that the damage is really there

    @property
    def degree(self) -> str:
        return DEGREES.get(self.degree_id, ("?", "?"))[1]

    @property
    def main_part(self) -> ComponentPart | None:
        return max(self.parts, key=lambda p: p.score) if self.parts else None


@dataclass(frozen=True)
class SingleLoss:
    file: FileRef
    result_code: int
    damages: tuple[Damage, ...]


@dataclass(frozen=True)
class PhotoBoxes:
    file: FileRef
    boxes: tuple[Box, ...]


@dataclass(frozen=True)
class BatchEntry:
    """One damaged component across the request's photos."""

    component: Component
    degree_id: int
    degree_score: int | None
    photos: tuple[PhotoBoxes, ...]

    @property
    def degree(self) -> str:
        return DEGREES.get(self.degree_id, ("?", "?"))[1]


@dataclass(frozen=True)
class BatchLoss:
    result_code: int
    entries: tuple[BatchEntry, ...]


@dataclass(frozen=True)
class Field:
    """A document field as read: name, value, confidence 0..1 (None when the service gave none)."""

    name: str
    value: str
    confidence: float | None


@dataclass(frozen=True)
class Document:
    """An ID card side, a driver licence (驾驶证), a vehicle licence (行驶证) or a VIN plate."""

    kind: str  # "idcard" | "driver_license" | "driving_license" | "vin"
    file: FileRef
    result_code: int
    fields: tuple[Field, ...]

    def get(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Callback:
    """A result callback (PROTOCOL §5 and the §7 extensions)."""

    appid: str
    mchid: str
    accept_seqno: str
    req_seqno: str
    result_code: str
    result_msg: str
    timestamp: int | None
    files: tuple[FileResult, ...]
    documents: tuple[Document, ...]
    single_loss: tuple[SingleLoss, ...]
    batch_loss: BatchLoss | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def mode(self) -> str:
        return "BATCH" if self.batch_loss is not None else "SINGLE"

    @property
    def ok(self) -> bool:
        return self.result_code == "SUCCESS"

    def all_files(self) -> list[FileResult]:
        """`files` (the §7 extension), then any file the typed lists name that `files` lacks (a callback
        without the extension), with code 0 and no class."""
        out = list(self.files)
        known = {f.file.fileid for f in out}
        refs = [d.file for d in self.documents] + [s.file for s in self.single_loss]
        if self.batch_loss is not None:
            refs += [p.file for e in self.batch_loss.entries for p in e.photos]
        for ref in refs:
            if ref.fileid not in known:
                known.add(ref.fileid)
                out.append(FileResult(ref, None, 0))
        return out

    def file_result(self, fileid: str) -> FileResult | None:
        return next((f for f in self.files if f.file.fileid == fileid), None)

    def damage_boxes(self) -> dict[str, list[tuple[Box, Component | None, str, int | None]]]:
        """fileid → the boxes to draw on that photo: (box, main component, degree, degree score), from
        `single_loss` in SINGLE mode and from `batch_loss` in BATCH mode."""
        out: dict[str, list[tuple[Box, Component | None, str, int | None]]] = {}
        for loss in self.single_loss:
            for d in loss.damages:
                part = d.main_part
                out.setdefault(loss.file.fileid, []).append(
                    (d.box, part.component if part else None, d.degree, d.degree_score))
        if self.batch_loss is not None:
            for entry in self.batch_loss.entries:
                for photo in entry.photos:
                    for box in photo.boxes:
                        out.setdefault(photo.file.fileid, []).append(
                            (box, entry.component, entry.degree, entry.degree_score))
        return out


@dataclass(frozen=True)
class Attempt:
    attempt: int
    at: datetime | None
    outcome: str
    http_status: int | None
    error: str | None
    duration_ms: int | None


@dataclass(frozen=True)
class QueryResult:
    """The query answer (PROTOCOL §7): state, every delivery attempt, and the result once done."""

    accept_seqno: str
    req_seqno: str
    state: str
    attempts: tuple[Attempt, ...]
    result: Callback | None
    raw: dict[str, Any] = field(repr=False, compare=False)


# ------------------------------------------------------------------------------------------- parsing
def _object(source: bytes | str | dict[str, Any], what: str) -> dict[str, Any]:
    if isinstance(source, dict):
        return source
    try:
        obj = json.loads(source)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResultError(f"{what}: not JSON ({exc.__class__.__name__})") from exc
    if not isinstance(obj, dict):
        raise ResultError(f"{what}: not a JSON object")
    return obj


def _req(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ResultError(f"{where}{key}: missing or not {getattr(kind, '__name__', kind)}")
    return value


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _file(obj: Any, where: str) -> FileRef:
    if not isinstance(obj, dict):
        raise ResultError(f"{where}file: missing or not an object")
    return FileRef(fileurl=_req(obj, "fileurl", str, f"{where}file."), fileid=str(obj.get("fileid") or ""),
                   filemd5=obj.get("filemd5") or None)


def _box(obj: Any, where: str) -> Box:
    if not isinstance(obj, dict):
        raise ResultError(f"{where}: missing or not an object")
    return Box(*(int(_req(obj, k, int, f"{where}.")) for k in ("xmin", "ymin", "xmax", "ymax")))


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ResultError(f"{key}: not an array")
    return value


def _documents(obj: dict[str, Any]) -> list[Document]:
    docs: list[Document] = []
    for i, card in enumerate(_list(obj, "idcards")):
        where = f"idcards[{i}]."
        confidences = card.get("confidences") if isinstance(card.get("confidences"), dict) else {}
        fields = tuple(Field(name, str(card[name]), _opt_float(confidences.get(name)))
                       for name in IDCARD_FIELDS if card.get(name) not in (None, ""))
        docs.append(Document("idcard", _file(card.get("file"), where), _req(card, "result_code", int, where),
                             fields))
    for key in ("driver_licenses", "driving_licenses"):
        for i, lic in enumerate(_list(obj, key)):
            where = f"{key}[{i}]."
            fields = tuple(Field(str(it.get("item", "")), str(it.get("itemstring", "")),
                                 _opt_float(it.get("itemconf"))) for it in lic.get("items") or [])
            docs.append(Document(key[:-1], _file(lic.get("file"), where), _req(lic, "result_code", int, where),
                                 fields))
    for i, vin in enumerate(_list(obj, "vin_infos")):
        where = f"vin_infos[{i}]."
        fields = (Field("vin", str(vin["vin"]), _opt_float(vin.get("vinconf"))),) if vin.get("vin") else ()
        docs.append(Document("vin", _file(vin.get("file"), where), _req(vin, "result_code", int, where), fields))
    return docs


def _single_loss(obj: dict[str, Any]) -> list[SingleLoss]:
    losses = []
    for i, loss in enumerate(_list(obj, "single_loss")):
        where = f"single_loss[{i}]."
        damages = []
        for j, d in enumerate(loss.get("single_damage") or []):
            parts = tuple(ComponentPart(Component.of(int(p["component_part_id"])),
                                        int(p.get("component_part_score", 0)))
                          for p in d.get("component_parts") or [])
            damages.append(Damage(degree_id=int(d.get("damage_degree_id", 0)),
                                  degree_score=_opt_int(d.get("damage_degree_score")), parts=parts,
                                  box=_box(d.get("boxes"), f"{where}single_damage[{j}].boxes"),
                                  damage_type=d.get("damage_type"),
                                  damage_type_score=_opt_int(d.get("damage_type_score")),
                                  existence_score=_opt_int(d.get("damage_existence_score"))))
        losses.append(SingleLoss(_file(loss.get("file"), where), _req(loss, "result_code", int, where),
                                 tuple(damages)))
    return losses


def _batch_loss(obj: dict[str, Any]) -> BatchLoss | None:
    batch = obj.get("batch_loss")
    if batch is None:
        return None
    if not isinstance(batch, dict):
        raise ResultError("batch_loss: not an object")
    entries = []
    for i, e in enumerate(batch.get("batch_loss_results") or []):
        where = f"batch_loss.batch_loss_results[{i}]"
        photos = tuple(PhotoBoxes(_file(ic.get("file"), f"{where}.image_contain[{k}]."),
                                  tuple(_box(b, f"{where}.image_contain[{k}].component_damage_boxes")
                                        for b in ic.get("component_damage_boxes") or []))
                       for k, ic in enumerate(e.get("image_contain") or []))
        entries.append(BatchEntry(Component.of(int(_req(e, "damage_component_id", int, f"{where}."))),
                                  int(e.get("damage_degree_id", 0)), _opt_int(e.get("damage_degree_score")),
                                  photos))
    return BatchLoss(_req(batch, "result_code", int, "batch_loss."), tuple(entries))


def _file_results(obj: dict[str, Any]) -> list[FileResult]:
    out = []
    for i, f in enumerate(_list(obj, "files")):
        where = f"files[{i}]."
        ref = FileRef(_req(f, "fileurl", str, where), str(f.get("fileid") or ""), f.get("filemd5") or None)
        version = f.get("model_version")
        out.append(FileResult(ref, f.get("image_class"), _req(f, "result_code", int, where),
                              version if isinstance(version, str) and version else None))
    return out


def parse_callback(source: bytes | str | dict[str, Any]) -> Callback:
    """A typed `Callback` from the raw callback body (or its decoded JSON object)."""
    obj = _object(source, "callback")
    try:
        return Callback(
            appid=str(obj.get("appid", "")), mchid=str(obj.get("mchid", "")),
            accept_seqno=_req(obj, "accept_seqno", str, ""), req_seqno=_req(obj, "req_seqno", str, ""),
            result_code=_req(obj, "result_code", str, ""), result_msg=str(obj.get("result_msg") or ""),
            timestamp=_opt_int(obj.get("timestamp")), files=tuple(_file_results(obj)),
            documents=tuple(_documents(obj)), single_loss=tuple(_single_loss(obj)), batch_loss=_batch_loss(obj),
            raw=obj)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ResultError):
            raise
        raise ResultError(f"callback: malformed ({exc.__class__.__name__}: {exc})") from exc


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_query(source: bytes | str | dict[str, Any]) -> QueryResult:
    """A typed `QueryResult` from a SUCCESS answer of the query endpoint."""
    obj = _object(source, "query answer")
    attempts = tuple(Attempt(int(a.get("attempt", 0)), _time(a.get("at")), str(a.get("outcome", "")),
                             _opt_int(a.get("http_status")), a.get("error"), _opt_int(a.get("duration_ms")))
                     for a in obj.get("attempts") or [])
    result = obj.get("result")
    return QueryResult(accept_seqno=_req(obj, "accept_seqno", str, ""), req_seqno=_req(obj, "req_seqno", str, ""),
                       state=_req(obj, "state", str, ""), attempts=attempts,
                       result=parse_callback(result) if isinstance(result, dict) else None, raw=obj)
