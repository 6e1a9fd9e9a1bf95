"""The reviewer's report: one self-contained HTML file per claim (no external CSS, JS, fonts or images).

Every photo is a thumbnail with its damage boxes drawn and labelled; a click opens it large (CSS
`:target`, no script). Then the documents' fields with their confidences and checks, the damage tables
(SINGLE: per photo; BATCH: per component), the per-file result codes in words, and the timeline.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape

from picloss.client.report.images import Photo, prepare
from picloss.client.sdk._protocol import codes
from picloss.client.sdk.masking import MASKED_FIELDS, PERSONAL_PHOTO_CLASSES, shown
from picloss.domain.documents.fields import FIELDS, IDCARD_DOCUMENTS
from picloss.domain.documents.idnumber import check_id_number
from picloss.domain.documents.vin import check_vin
from picloss.protocol.results import (
    Box,
    Callback,
    Component,
    Document,
    QueryResult,
    accepted_at,
    file_code_text,
)

DEGREE_COLOURS = {"repair": "#f59e0b", "replace": "#dc2626"}  # amber, red
UNKNOWN_COLOUR = "#7c3aed"
DOC_TITLES = {"idcard": "ID card 身份证", "driver_license": "Driver licence 驾驶证",
              "driving_license": "Vehicle licence 行驶证", "vin": "VIN plate 车架号"}
# an ID card field's printed label and English words, from its row (picloss/domain/documents/fields.py)
IDCARD_LABELS = {f.name: f"{f.label} {f.words or f.name}" for f in FIELDS if f.document in IDCARD_DOCUMENTS}
CLASS_WORDS = {"IDCARD_FRONT": "ID card, front", "IDCARD_BACK": "ID card, back",
               "DRIVER_LICENSE": "driver licence 驾驶证", "DRIVING_LICENSE": "vehicle licence 行驶证",
               "VIN": "VIN plate", "DAMAGE": "car / damage", "OTHER": "other"}
assert set(CLASS_WORDS) == {c.value for c in codes.ImageClass}, "every image class has its words"

CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,"Noto Sans CJK SC","WenQuanYi Micro Hei",
sans-serif;color:#1f2937;background:#f3f4f6}header{background:#111827;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px;font-size:20px}header .meta{color:#d1d5db}main{padding:8px 24px 48px}
section{background:#fff;border-radius:8px;padding:12px 16px;margin:16px 0;box-shadow:0 1px 2px #0002}
h2{font-size:17px;margin:4px 0 10px}h3{font-size:15px;margin:12px 0 6px}
table{border-collapse:collapse;width:100%;margin:4px 0 8px}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid #e5e7eb;vertical-align:top}th{background:#f9fafb;font-weight:600}
.badge{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;font-weight:600;color:#fff}
.ok{background:#059669}.warn{background:#d97706}.bad{background:#dc2626}.muted{color:#6b7280}
.repair{background:#f59e0b}.replace{background:#dc2626}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:12px}
.card{border:1px solid #e5e7eb;border-radius:6px;overflow:hidden;background:#fafafa}
.card a{display:block;color:inherit;text-decoration:none}.card svg{display:block;width:100%;height:auto;
background:#e5e7eb}.card .cap{padding:6px 8px;font-size:12px}.card .cap b{font-size:13px}
.conf{font-variant-numeric:tabular-nums}.hi{color:#047857}.mid{color:#b45309}.lo{color:#b91c1c}
.lb{display:none;position:fixed;inset:0;z-index:10;background:#111;color:#f9fafb;overflow:auto;
padding:12px 16px}.lb:target{display:block}.lb .bar{display:flex;gap:16px;align-items:center;margin-bottom:8px}
.lb .bar a{color:#93c5fd}.lb svg{display:block;margin:0 auto;height:auto;background:#222}
.lb table{background:#1f2937;color:#f9fafb;max-width:1200px;margin:10px auto}.lb th{background:#374151}
.lb td,.lb th{border-color:#4b5563}code{font-size:12px}.legend span{margin-right:12px}
"""


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _anchor(fileid: str, index: int) -> str:
    return "p-" + (re.sub(r"[^A-Za-z0-9_-]", "", fileid) or str(index))


def _conf(value: float | None) -> str:
    if value is None:
        return '<span class="muted">–</span>'
    cls = "hi" if value >= 0.9 else "mid" if value >= 0.6 else "lo"
    return f'<span class="conf {cls}">{value:.2f}</span>'


def _score(value: int | None) -> str:
    return "–" if value is None else str(value)


def _component(c: Component | None) -> str:
    if c is None:
        return '<span class="muted">no part</span>'
    return f"{escape(c.zh)} {escape(c.en)} <span class='muted'>#{c.id}</span>"


def _degree(degree: str, score: int | None = None) -> str:
    words = {"repair": "repair 修", "replace": "replace 换"}.get(degree, escape(degree))
    tail = f" {score}" if score is not None else ""
    return f'<span class="badge {escape(degree)}">{words}{tail}</span>'


def _code(code: int) -> str:
    cls = "ok" if code == 0 else "warn" if code in (2001, 3001) else "bad"
    return f'<span class="badge {cls}">{code}</span> {escape(file_code_text(code))}'


def label_text(component: Component | None, degree: str, score: int | None) -> str:
    """The label drawn on a box: "左前车门 left front door · replace · 87"."""
    name = f"{component.zh} {component.en}" if component else "no part"
    return f"{name} · {degree}" + (f" · {score}" if score is not None else "")


def photo_svg(photo: Photo | None, boxes: Sequence[tuple[Box, Component | None, str, int | None]],
              large: bool, title: str) -> str:
    """The photo with its boxes: an SVG in the photo's pixel coordinates, so a box lands exactly where the
    service put it whatever size the photo is shown at."""
    if photo is not None:
        width, height = photo.size
    else:  # no photo: the boxes on a grey canvas that holds them all
        width = max([b.xmax for b, *_ in boxes] + [640]) + 10
        height = max([b.ymax for b, *_ in boxes] + [480]) + 10
    scale = max(width, height) / 1000
    font = max(11.0, 22 * scale) if large else max(11.0, 34 * scale)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}"'
             + (f' style="width:min(96vw, calc(78vh * {width} / {height}))"' if large else "") + ">"]
    if photo is not None:
        data = photo.large if large else photo.thumb
        mime = photo.mime if large else photo.thumb_mime
        parts.append(f'<image href="{_data_uri(mime, data)}" x="0" y="0" width="{width}" height="{height}" '
                     'preserveAspectRatio="none"/>')
    else:
        parts.append(f'<rect width="{width}" height="{height}" fill="#9ca3af"/>'
                     f'<text x="{width / 2}" y="{height / 2}" font-size="{font * 1.4:.0f}" text-anchor="middle" '
                     'fill="#f9fafb">photo not available</text>')
    for box, component, degree, score in boxes:
        colour = DEGREE_COLOURS.get(degree, UNKNOWN_COLOUR)
        w, h = max(box.xmax - box.xmin, 1), max(box.ymax - box.ymin, 1)
        parts.append(f'<rect class="dmg" x="{box.xmin}" y="{box.ymin}" width="{w}" height="{h}" fill="none" '
                     f'stroke="{colour}" stroke-width="{4 if large else 3}" vector-effect="non-scaling-stroke"/>')
        if large:
            text = label_text(component, degree, score)
            text_w = font * (0.6 + sum(1.0 if ord(ch) > 0x2E80 else 0.56 for ch in text))
            ty = box.ymin - font * 1.35 if box.ymin >= font * 1.5 else box.ymax + 2
            if ty + font * 1.35 > height:
                ty = box.ymin + 2
            tx = min(max(box.xmin, 0), max(width - text_w, 0))
            parts.append(f'<rect x="{tx:.0f}" y="{ty:.0f}" width="{text_w:.0f}" height="{font * 1.35:.0f}" '
                         f'fill="{colour}" opacity="0.92"/>'
                         f'<text x="{tx + font * 0.3:.0f}" y="{ty + font * 1.05:.0f}" font-size="{font:.0f}" '
                         f'fill="#fff" font-family="sans-serif">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _check(doc: Document, name: str, value: str) -> str:
    """The validation mark of a field the protocol's rules can prove: ID numbers (GB 11643), VINs (ISO 3779)."""
    if (doc.kind == "idcard" and name == "id") or name == "公民身份号码":
        check = check_id_number(value)
        if check.valid and check.value == value:
            return '<span class="badge ok">✓ GB 11643 check character</span>'
        return '<span class="badge bad">✗ fails GB 11643</span>'
    if (doc.kind == "vin" and name == "vin") or name == "车辆识别代号":
        vin = check_vin(value)
        if not vin.valid or vin.value != value:
            return '<span class="badge bad">✗ not a valid ISO 3779 VIN</span>'
        if vin.checksum:
            return '<span class="badge ok">✓ ISO 3779 check digit</span>'
        return '<span class="badge warn">✓ ISO 3779 structure (no check digit in this market)</span>'
    return ""


def _documents(callback: Callback, names: Mapping[str, str], anchors: Mapping[str, str], reveal: bool) -> str:
    if not callback.documents:
        return '<p class="muted">No document was recognised on these photos.</p>'
    out = []
    for doc in callback.documents:
        fid = doc.file.fileid
        link = f'<a href="#{anchors[fid]}">{escape(names.get(fid, doc.file.name))}</a>' if fid in anchors else \
            escape(doc.file.name)
        out.append(f"<h3>{DOC_TITLES.get(doc.kind, escape(doc.kind))} — {link} · {_code(doc.result_code)}</h3>")
        if not doc.fields:
            out.append('<p class="muted">no field read</p>')
            continue
        rows = "".join(
            f"<tr><td>{escape(IDCARD_LABELS.get(f.name, f.name) if doc.kind == 'idcard' else f.name)}</td>"
            f"<td>{escape(shown(f.name, f.value, reveal))}</td><td>{_conf(f.confidence)}</td>"
            f"<td>{_check(doc, f.name, f.value)}</td></tr>"
            for f in doc.fields)
        out.append("<table><tr><th>field</th><th>value</th><th>confidence</th><th>check</th></tr>"
                   f"{rows}</table>")
    return "".join(out) + _vin_checks(callback, names)


def _vin_checks(callback: Callback, names: Mapping[str, str]) -> str:
    """The `vin_checks` extension (issue 22): each VIN plate photo against each 行驶证 of the claim."""
    lines = []
    for c in callback.raw.get("vin_checks") or []:
        plate, lic = (names.get(str(c.get(k)), str(c.get(k))) for k in ("vin_fileid", "driving_license_fileid"))
        if c.get("result") == "MATCH":
            verdict = '<span class="badge ok">✓ match</span>'
        else:
            n = c.get("differing_characters")
            verdict = f'<span class="badge bad">✗ MISMATCH ({escape(str(n))} characters differ)</span>'
        lines.append(f"<li>VIN plate {escape(plate)} ↔ 行驶证 {escape(lic)}: {verdict}</li>")
    return f"<h3>VIN plate against 行驶证</h3><ul>{''.join(lines)}</ul>" if lines else ""


def _single_table(callback: Callback, names: Mapping[str, str], anchors: Mapping[str, str]) -> str:
    rows = []
    for loss in callback.single_loss:
        fid = loss.file.fileid
        link = f'<a href="#{anchors.get(fid, "")}">{escape(names.get(fid, loss.file.name))}</a>'
        if not loss.damages:
            rows.append(f"<tr><td>{link}</td><td colspan=6>{_code(loss.result_code)}</td></tr>")
        for d in loss.damages:
            parts = "<br>".join(f"{_component(p.component)} · {p.score}" for p in d.parts) or "–"
            dtype = f"{escape(d.damage_type)} {_score(d.damage_type_score)}" if d.damage_type else "–"
            b = d.box
            rows.append(f"<tr><td>{link}</td><td>{parts}</td><td>{_degree(d.degree, d.degree_score)}</td>"
                        f"<td>{dtype}</td><td>{_score(d.existence_score)}</td>"
                        f"<td><code>{b.xmin},{b.ymin} – {b.xmax},{b.ymax}</code></td></tr>")
    if not rows:
        return '<p class="muted">No damage photo.</p>'
    return ("<table><tr><th>photo</th><th>component part(s) · score</th><th>degree · score</th><th>type</th>"
            f"<th title=\"damage_existence_score: how sure the service is that the damage is there\">really there</th>"
            f"<th>box (px)</th></tr>{''.join(rows)}</table>")


def _batch_table(callback: Callback, names: Mapping[str, str], anchors: Mapping[str, str]) -> str:
    batch = callback.batch_loss
    assert batch is not None
    if not batch.entries:
        return f"<p>{_code(batch.result_code)}</p>"
    rows = []
    for e in batch.entries:
        seen = "<br>".join(
            f'<a href="#{anchors.get(p.file.fileid, "")}">{escape(names.get(p.file.fileid, p.file.name))}</a>: '
            + ", ".join(f"<code>{b.xmin},{b.ymin} – {b.xmax},{b.ymax}</code>" for b in p.boxes)
            for p in e.photos)
        rows.append(f"<tr><td>{_component(e.component)}</td><td>{_degree(e.degree, e.degree_score)}</td>"
                    f"<td>{len(e.photos)}</td><td>{seen}</td></tr>")
    return (f"<p>batch result {_code(batch.result_code)}</p><table><tr><th>component</th><th>degree · score</th>"
            f"<th>photos</th><th>where (boxes in px)</th></tr>{''.join(rows)}</table>")


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "–"


def _timeline(callback: Callback, query: QueryResult | None) -> str:
    rows = [f"<tr><td>{_when(accepted_at(callback.accept_seqno))}</td><td>accepted</td>"
            f"<td><code>{escape(callback.accept_seqno)}</code></td></tr>"]
    if callback.timestamp:
        rows.append(f"<tr><td>{_when(datetime.fromtimestamp(callback.timestamp, UTC))}</td><td>processed</td>"
                    f"<td>result {escape(callback.result_code)}; this callback signed</td></tr>")
    if query is not None:
        for a in query.attempts:
            badge = "ok" if a.outcome == "success" else "bad"
            status = f"HTTP {a.http_status}" if a.http_status is not None else "no HTTP answer"
            rows.append(f"<tr><td>{_when(a.at)}</td><td>delivery attempt {a.attempt}</td><td>"
                        f'<span class="badge {badge}">{escape(a.outcome)}</span> {status}'
                        + (f" · {escape(a.error)}" if a.error else "")
                        + (f" · {a.duration_ms} ms" if a.duration_ms is not None else "") + "</td></tr>")
        rows.append(f"<tr><td></td><td>state now</td><td><b>{escape(query.state)}</b></td></tr>")
    note = "" if query is not None else ('<p class="muted">Delivery attempts are not shown: render with '
                                         "<code>picloss report --query</code> to add them.</p>")
    return f"<table><tr><th>when</th><th>event</th><th>detail</th></tr>{''.join(rows)}</table>{note}"


def render(callback: Callback, photos: Mapping[str, bytes] | None = None, query: QueryResult | None = None,
           notes: Sequence[str] = (), reveal_personal: bool = False) -> str:
    """The report as one HTML string. `photos` maps fileid → the photo's bytes (missing ones are drawn as
    grey placeholders with their boxes); `query` adds the delivery attempts to the timeline. ID numbers, names
    and addresses are masked and photos of documents left out unless `reveal_personal` (picloss.client.sdk.masking)."""
    photos = photos or {}
    boxes = callback.damage_boxes()
    files = callback.all_files()
    if not reveal_personal:
        hidden = {f.file.fileid for f in callback.files if f.image_class in PERSONAL_PHOTO_CLASSES} & set(photos)
        photos = {fid: data for fid, data in photos.items() if fid not in hidden}
        masked = any(f.name in MASKED_FIELDS for doc in callback.documents for f in doc.fields)
        if hidden or masked:
            notes = [*notes, f"personal data hidden: ID numbers, names and addresses masked, {len(hidden)} "
                             "document photo(s) left out; `picloss report --show-personal` shows them"]
    names = {f.file.fileid: f.file.name for f in files}
    anchors = {f.file.fileid: _anchor(f.file.fileid, i) for i, f in enumerate(files)}
    prepared = {fid: prepare(data) for fid, data in photos.items()}
    n_damages = sum(len(v) for v in boxes.values())

    cards, lightboxes = [], []
    for i, f in enumerate(files):
        fid, anchor = f.file.fileid, anchors[f.file.fileid]
        photo = prepared.get(fid)
        mine = boxes.get(fid, [])
        cls = CLASS_WORDS.get(f.image_class or "", f.image_class or "not classified")
        cards.append(f'<div class="card"><a href="#{anchor}" title="open large">'
                     f"{photo_svg(photo, mine, False, names[fid])}</a><div class='cap'><b>{escape(names[fid])}</b>"
                     f"<br>{escape(cls)} · {_code(f.result_code)}"
                     + (f"<br>{len(mine)} damage box{'es' if len(mine) != 1 else ''}" if mine else "")
                     + "</div></div>")
        prev_a = anchors[files[i - 1].file.fileid] if i > 0 else None
        next_a = anchors[files[i + 1].file.fileid] if i + 1 < len(files) else None
        table = "".join(f"<tr><td>{_component(c)}</td><td>{_degree(d, s)}</td>"
                        f"<td><code>{b.xmin},{b.ymin} – {b.xmax},{b.ymax}</code></td></tr>" for b, c, d, s in mine)
        lightboxes.append(
            f'<div class="lb" id="{anchor}"><div class="bar"><a href="#photos">✕ close</a>'
            + (f'<a href="#{prev_a}">← previous</a>' if prev_a else "")
            + (f'<a href="#{next_a}">next →</a>' if next_a else "")
            + f"<b>{escape(names[fid])}</b><span>{escape(cls)} · {_code(f.result_code)}</span>"
            + f'<span class="muted">{i + 1} / {len(files)}</span></div>'
            + photo_svg(photo, mine, True, names[fid])
            + (f"<table><tr><th>component</th><th>degree · score</th><th>box (px)</th></tr>{table}</table>"
               if mine else "") + "</div>")

    results = "".join(
        f'<tr><td><a href="#{anchors[f.file.fileid]}">{escape(names[f.file.fileid])}</a></td>'
        f"<td><code>{escape(f.file.fileid)}</code></td><td>{escape(CLASS_WORDS.get(f.image_class or '', '–'))}</td>"
        f"<td>{_code(f.result_code)}</td><td><code>{escape(f.model_version or '–')}</code></td></tr>" for f in files)
    damage_section = (_batch_table(callback, names, anchors) if callback.batch_loss is not None
                      else _single_table(callback, names, anchors))
    overall = "ok" if callback.ok else "bad"
    note_html = "".join(f"<li>{escape(n)}</li>" for n in notes)
    legend = ('<p class="legend"><span><span class="badge repair">repair 修</span> amber box</span>'
              '<span><span class="badge replace">replace 换</span> red box</span>'
              '<span class="muted">label: component · degree · degree confidence (0–100); '
              "click a photo to open it large</span></p>")
    title = f"Claim {callback.req_seqno} — picloss report"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head><body>
<header><h1>Claim <code>{escape(callback.req_seqno)}</code> · {callback.mode}</h1>
<div class="meta">accept_seqno <code>{escape(callback.accept_seqno)}</code> · appid {escape(callback.appid)} ·
mchid {escape(callback.mchid)} · <span class="badge {overall}">{escape(callback.result_code)}</span>
{escape(callback.result_msg)} · {len(files)} photos · {n_damages} damage boxes · {len(callback.documents)} documents
</div></header><main>
{f'<section><h2>Notes</h2><ul>{note_html}</ul></section>' if notes else ''}
<section id="photos"><h2>Photos</h2>{legend}<div class="grid">{''.join(cards)}</div></section>
<section id="damage"><h2>Damage ({callback.mode})</h2>{damage_section}</section>
<section id="documents"><h2>Documents</h2>{_documents(callback, names, anchors, reveal_personal)}</section>
<section id="files"><h2>Per-file results</h2><table><tr><th>photo</th><th>fileid</th><th>class</th>
<th>result</th><th title="the models behind the result (issue 24)">model</th></tr>{results}</table></section>
<section id="timeline"><h2>Timeline</h2>{_timeline(callback, query)}</section>
<p class="muted">Generated by picloss {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}. Damage boxes and
fields are machine readings to be checked by a person.</p>
</main>{''.join(lightboxes)}</body></html>
"""
