"""The reviewer's HTML report of one claim (issue 12): `render` a callback, `write_report` to a file."""

from __future__ import annotations

from pathlib import Path

from picloss.client.report.html import label_text, render
from picloss.client.report.images import collect
from picloss.protocol.results import Callback, QueryResult


def write_report(callback: Callback, out: str | Path, photos_dir: str | Path | None = None,
                 fetch_urls: bool = False, query: QueryResult | None = None,
                 photos: dict[str, bytes] | None = None, reveal_personal: bool = False) -> Path:
    """Render the report of `callback` into `out`; photos come from `photos` (fileid → bytes), then from
    `photos_dir` (by file name), then, with `fetch_urls`, from their URLs. Personal data is masked and document
    photos left out unless `reveal_personal`."""
    triples = [(f.file.fileid, f.file.fileurl, f.file.filemd5) for f in callback.all_files()
               if not photos or f.file.fileid not in photos]
    found, notes = collect(triples, Path(photos_dir) if photos_dir else None, fetch_urls)
    found.update(photos or {})
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(callback, found, query, notes, reveal_personal), encoding="utf-8")
    return target


__all__ = ["label_text", "render", "write_report"]
