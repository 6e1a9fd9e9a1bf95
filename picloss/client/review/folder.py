"""The folder under review: the callbacks in it, and their photos, strictly inside the photos folder.

Layout, as `picloss listen --save DIR` and `picloss report` use it: every `DIR/*.json` is a callback (or a saved
query answer with its result, as `picloss query --save` writes); `DIR/rejected/` (unverified deliveries) and
`DIR/review/` (the review state) are not claims. A photo is matched by the file name of its URL, like
`picloss report --photos`, looked up in `PHOTOS/<callback stem>/`, `PHOTOS/<accept_seqno>/`, then `PHOTOS/`
(`PHOTOS` defaults to `DIR`); the md5 the service computed must match. Nothing outside `PHOTOS` is ever read:
a name with a path in it, `..`, an absolute path or a symlink that leads out is refused with the reason.

Standard library only; Pillow (when installed) gives EXIF-upright sizes.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from picloss.client.report.images import _mime, header_size, upright_size
from picloss.protocol.results import Callback, ResultError, parse_callback, parse_query

MAX_CALLBACK_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_PHOTO_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_PIXELS = 60_000_000  # the service's own MAX_PIXELS default
CLAIM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
NOT_CLAIMS = ("rejected", "review")


class Refused(Exception):
    """A claim or a photo that is not served, with the HTTP status and the reason in words."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Limits:
    max_photo_bytes: int = DEFAULT_MAX_PHOTO_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class ClaimFile:
    """One `*.json` of the folder: its claim id (the file's stem), and the parsed callback or why not."""

    id: str
    path: Path
    callback: Callback | None
    error: str | None


@dataclass(frozen=True)
class PhotoInfo:
    """A photo found for a callback file: where (relative to the photos folder) and its upright size; or why not."""

    rel: str | None
    size: tuple[int, int] | None
    error: str | None


def load_claim(path: Path) -> ClaimFile:
    claim_id = path.stem
    try:
        if path.stat().st_size > MAX_CALLBACK_BYTES:
            raise ResultError(f"{path.stat().st_size} bytes, over {MAX_CALLBACK_BYTES // 2**20} MiB")
        raw = path.read_bytes()
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ResultError(f"not JSON ({exc})") from None
        if isinstance(obj, dict) and "state" in obj and "attempts" in obj:  # a saved query answer
            query = parse_query(obj)
            if query.result is None:
                raise ResultError(f"a query answer in state {query.state}, without a result")
            callback = query.result
        else:
            callback = parse_callback(obj)
    except (ResultError, OSError) as exc:
        return ClaimFile(claim_id, path, None, f"{path.name}: not a callback this page can read: {exc}")
    return ClaimFile(claim_id, path, callback, None)


def list_claims(folder: Path) -> list[ClaimFile]:
    """Every `*.json` directly in the folder, by name; the malformed ones carry their error."""
    out = []
    for path in sorted(folder.glob("*.json")):
        if not path.is_file() or not CLAIM_ID.fullmatch(path.stem):
            continue
        out.append(load_claim(path))
    return out


def safe_relative(root: Path, rel: str) -> Path:
    """`root/rel`, refused unless it stays inside `root` once every symlink is resolved."""
    if not rel or "\x00" in rel or "\\" in rel:
        raise Refused(400, f"photo path {rel!r}: empty or with a NUL or backslash; refused")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", rel):
        raise Refused(400, f"photo path {rel!r}: absolute; photos are served only from the photos folder, "
                           "by a path relative to it")
    if ".." in pure.parts:
        raise Refused(400, f"photo path {rel!r}: '..' is refused; photos are served only from the photos "
                           "folder")
    base = root.resolve()
    resolved = (base / pure).resolve()
    if not resolved.is_relative_to(base):
        raise Refused(403, f"photo path {rel!r} leads outside the photos folder (a symlink?); refused")
    return resolved


def check_photo(path: Path, limits: Limits) -> tuple[int, int]:
    """The photo's upright size, or `Refused` (missing, too many bytes or pixels, not an image)."""
    if not path.is_file():
        raise Refused(404, f"{path.name}: no such photo in the photos folder")
    n_bytes = path.stat().st_size
    if n_bytes > limits.max_photo_bytes:
        raise Refused(413, f"{path.name}: {n_bytes / 2**20:.1f} MiB, over the review page's limit of "
                           f"{limits.max_photo_bytes / 2**20:.1f} MiB (--max-photo-mb); not shown")
    with path.open("rb") as f:
        head = f.read(256 * 1024)
    if _mime(head) == "application/octet-stream":
        raise Refused(415, f"{path.name}: not a JPEG, PNG, WebP, GIF or BMP photo; not shown")
    declared = header_size(head)
    if declared is not None and declared[0] * declared[1] > limits.max_pixels:
        raise Refused(413, _too_many_pixels(path.name, declared, limits))
    size = upright_size(path.read_bytes())  # EXIF-upright with Pillow, else the header's
    if size is None:
        raise Refused(415, f"{path.name}: the photo cannot be decoded (a truncated or corrupt file?); "
                           "not shown")
    if size[0] * size[1] > limits.max_pixels:
        raise Refused(413, _too_many_pixels(path.name, size, limits))
    return size


def _too_many_pixels(name: str, size: tuple[int, int], limits: Limits) -> str:
    return (f"{name}: {size[0]}×{size[1]} px ({size[0] * size[1] / 1e6:.0f} Mpx), over the review page's limit "
            f"of {limits.max_pixels / 1e6:.0f} Mpx (--max-megapixels); not shown")


class PhotoFinder:
    """Finds each callback file's photo inside the photos folder; results cached by file identity."""

    def __init__(self, root: Path, limits: Limits) -> None:
        self.root = root
        self.limits = limits
        self._cache: dict[tuple[str, int, int, str | None], PhotoInfo] = {}

    def find(self, claim: ClaimFile, url_name: str, filemd5: str | None) -> PhotoInfo:
        assert claim.callback is not None
        names = []
        for candidate in (url_name, urllib.parse.unquote(url_name)):
            if candidate not in names:
                names.append(candidate)
        refused = None
        for name in names:
            if not name or "/" in name or "\\" in name or name in (".", ".."):
                refused = (f"the callback's file name {url_name!r} is not a plain file name; refused (photos come "
                           "only from the photos folder)")
                continue
            for sub in (claim.id, claim.callback.accept_seqno, ""):
                if sub and not CLAIM_ID.fullmatch(sub):
                    continue
                rel = f"{sub}/{name}" if sub else name
                if not (self.root / rel).exists() and not (self.root / rel).is_symlink():
                    continue
                try:
                    path = safe_relative(self.root, rel)
                    return self._checked(rel, path, filemd5)
                except Refused as exc:
                    return PhotoInfo(None, None, exc.message)
        if refused:
            return PhotoInfo(None, None, refused)
        return PhotoInfo(None, None, f"{url_name}: not found in the photos folder")

    def _checked(self, rel: str, path: Path, filemd5: str | None) -> PhotoInfo:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size, filemd5)
        if key not in self._cache:
            try:
                size = check_photo(path, self.limits)
                if filemd5 and hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() != filemd5.lower():
                    raise Refused(409, f"{path.name}: md5 differs from the one the service computed (another "
                                       "photo under the same name?); not shown")
                self._cache[key] = PhotoInfo(rel, size, None)
            except Refused as exc:
                self._cache[key] = PhotoInfo(None, _size_or_none(path), exc.message)
        return self._cache[key]

    def serve(self, rel: str) -> Path:
        """The file for `GET /photo?path=REL`, or `Refused`."""
        path = safe_relative(self.root, rel)
        check_photo(path, self.limits)
        return path


def _size_or_none(path: Path) -> tuple[int, int] | None:
    """The declared size of a refused photo (boxes can still be shown on a placeholder of the right shape)."""
    try:
        with path.open("rb") as f:
            return header_size(f.read(256 * 1024))
    except OSError:
        return None


def describe(claim: ClaimFile) -> dict[str, Any]:
    if claim.callback is None:
        return {"id": claim.id, "file": claim.path.name, "error": claim.error}
    cb = claim.callback
    return {"id": claim.id, "file": claim.path.name, "accept_seqno": cb.accept_seqno, "req_seqno": cb.req_seqno,
            "mode": cb.mode, "result_code": cb.result_code, "photos": len(cb.all_files()), "error": None}
