// picloss review: the adjuster's page (issue 24). No library, no external URL: everything is served by
// `picloss review` from the package. The server checks every save; this script only keeps the page's state.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = {pending: "#3b82f6", accepted: "#16a34a", rejected: "#9ca3af", drawing: "#f59e0b"};
const MIN_BOX_PX = 4;  // a drag shorter than this (in photo pixels) is a click, not a box

const S = {
  meta: null, claims: [], claimId: null, claim: null, idx: 0, sel: -1,
  review: {photos: {}, documents: {}}, revision: 0, dirty: false, undo: [],
  drag: null, compHl: 0, scale: 1,
};
const token = new URLSearchParams(location.search).get("token");

// ------------------------------------------------------------------------------------------- server
async function api(method, path, body) {
  const headers = {"X-Picloss-Review": "1"};
  if (token) headers["X-Review-Token"] = token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  let data = null;
  try { data = await resp.json(); } catch (e) { data = {error: `HTTP ${resp.status}: not JSON`}; }
  if (!resp.ok) throw new Error(data && data.error ? data.error : `HTTP ${resp.status}`);
  return data;
}

function say(text, kind) {
  const m = $("msg");
  m.textContent = text;
  m.title = text;
  m.className = kind || "";
}

function photoUrl(rel) {
  return "/photo?path=" + encodeURIComponent(rel) + (token ? "&token=" + encodeURIComponent(token) : "");
}

// ------------------------------------------------------------------------------------------- state
const photo = () => (S.claim ? S.claim.photos[S.idx] : null);
const compName = (id) => {
  const c = S.meta.components.find((x) => x.id === id);
  return c ? `${c.zh} ${c.en}` : "no component";
};
const degreeWord = (d) => (d === "repair" ? "repair 修" : d === "replace" ? "replace 换" : "no degree");

function serviceStart(p) {
  return p.service_boxes.map((b, i) => ({
    box: b.box.slice(), component_id: b.component_id, degree: b.degree, damage_type: b.damage_type,
    status: "pending", origin: i, edited: false,
  }));
}

function boxesOf(p) {
  const saved = S.review.photos[p.fileid];
  return saved ? saved.boxes : serviceStart(p);
}

function reviewed(p) {
  const saved = S.review.photos[p.fileid];
  return !!saved && saved.boxes.every((b) => b.status !== "pending");
}

function snapshot() {
  return JSON.stringify({review: S.review, idx: S.idx, sel: S.sel});
}

// Every change goes through here: remember the state before it (undo), materialise the photo's boxes.
function change(fn) {
  S.undo.push(snapshot());
  if (S.undo.length > 300) S.undo.shift();
  const p = photo();
  if (p && !S.review.photos[p.fileid]) S.review.photos[p.fileid] = {boxes: serviceStart(p)};
  fn(p ? S.review.photos[p.fileid].boxes : null);
  S.dirty = true;
  say("unsaved changes", "dirty");
  render();
}

function undo() {
  const last = S.undo.pop();
  if (!last) { say("nothing to undo"); return; }
  const old = JSON.parse(last);
  S.review = old.review;
  S.idx = old.idx;
  S.sel = old.sel;
  S.dirty = true;
  say("undone", "dirty");
  render();
}

// ------------------------------------------------------------------------------------------- actions
function decide(status) {
  const p = photo();
  if (!p || S.sel < 0) { say("select a box first (j / k, or click it)", "err"); return; }
  const b = boxesOf(p)[S.sel];
  if (status === "rejected" && b.origin === null) { say("a box you drew is deleted (Delete), not rejected", "err"); return; }
  if (status === "accepted" && (!b.component_id || !b.degree)) {
    say("set the component (c) and repair / replace (1 / 2) first", "err");
    return;
  }
  change((boxes) => { boxes[S.sel].status = status; });
  nextUndecided();
}

function nextUndecided() {
  const boxes = boxesOf(photo());
  const k = boxes.findIndex((b) => b.status === "pending");
  if (k >= 0) { S.sel = k; render(); }
}

function acceptAll() {
  const p = photo();
  if (!p) return;
  const boxes = boxesOf(p);
  const lacking = boxes.findIndex((b) => b.status === "pending" && (!b.component_id || !b.degree));
  if (lacking >= 0) { S.sel = lacking; render(); say("this box needs its component and degree first", "err"); return; }
  change((bs) => bs.forEach((b) => { if (b.status === "pending") b.status = "accepted"; }));
  say(`photo ${p.name} reviewed`, "dirty");
}

function setDegree(degree) {
  if (S.sel < 0) { say("select a box first", "err"); return; }
  change((boxes) => edit(boxes[S.sel], {degree}));
}

function setComponent(id) {
  if (S.sel < 0) { say("select or draw a box first", "err"); return; }
  change((boxes) => edit(boxes[S.sel], {component_id: id}));
}

function edit(b, fields) {
  for (const [k, v] of Object.entries(fields)) {
    if (JSON.stringify(b[k]) !== JSON.stringify(v)) { b[k] = v; b.edited = b.origin !== null || b.edited; }
  }
  if (b.component_id && b.degree) b.status = "accepted";
}

function deleteBox() {
  const p = photo();
  if (!p || S.sel < 0) return;
  if (boxesOf(p)[S.sel].origin !== null) { decide("rejected"); return; }
  change((boxes) => { boxes.splice(S.sel, 1); });
  S.sel = Math.min(S.sel, boxesOf(p).length - 1);
  render();
}

function go(delta) {
  if (!S.claim) return;
  const n = S.claim.photos.length;
  S.idx = Math.max(0, Math.min(n - 1, S.idx + delta));
  S.sel = -1;
  render();
  nextUndecided();
}

function selectBox(delta) {
  const n = boxesOf(photo()).length;
  if (!n) return;
  S.sel = S.sel < 0 ? (delta > 0 ? 0 : n - 1) : (S.sel + delta + n) % n;
  render();
}

function incomplete() {
  for (const [i, p] of S.claim.photos.entries()) {
    const saved = S.review.photos[p.fileid];
    if (!saved) continue;
    const k = saved.boxes.findIndex((b) => !b.component_id || (b.status === "accepted" && !b.degree));
    if (k >= 0) return [i, k];
  }
  return null;
}

async function save() {
  if (!S.claim) return false;
  const bad = incomplete();
  if (bad) {
    S.idx = bad[0]; S.sel = bad[1]; render();
    say("not saved: this box needs its component and repair / replace", "err");
    return false;
  }
  try {
    const done = await api("POST", `/api/claims/${encodeURIComponent(S.claimId)}/review`,
      {revision: S.revision, photos: S.review.photos, documents: S.review.documents});
    S.revision = done.revision;
    S.dirty = false;
    say(`saved (revision ${done.revision}, ${done.reviewed_photos} photos reviewed)`, "ok");
    for (const p of S.claim.photos) p.reviewed = reviewed(p);
    render();
    return true;
  } catch (e) {
    say("not saved: " + e.message, "err");
    return false;
  }
}

async function exportCoco() {
  if (!S.claim) return;
  if (S.dirty && !(await save())) return;
  try {
    const r = await api("POST", `/api/claims/${encodeURIComponent(S.claimId)}/export`, {});
    say(`exported ${r.photos} photos, ${r.boxes} boxes, ${r.corrections} corrections → ${r.coco}`, "ok");
  } catch (e) {
    say("export failed: " + e.message, "err");
  }
}

// ------------------------------------------------------------------------------------------- loading
async function loadClaim(id) {
  if (S.dirty && !confirm("The review of this claim is not saved. Leave it?")) {
    $("claim").value = S.claimId;
    return;
  }
  try {
    const claim = await api("GET", `/api/claims/${encodeURIComponent(id)}`);
    S.claimId = id;
    S.claim = claim;
    S.review = claim.review ? {photos: claim.review.photos || {}, documents: claim.review.documents || {}}
      : {photos: {}, documents: {}};
    S.revision = claim.revision;
    S.undo = [];
    S.dirty = false;
    S.idx = 0;
    S.sel = -1;
    $("claim").value = id;
    $("claim").blur();  // the keys work at once
    history.replaceState(null, "", location.pathname + "?" + new URLSearchParams(
      Object.assign(token ? {token} : {}, {claim: id})).toString());
    say(claim.review_error ? claim.review_error : claim.review ? `saved review loaded (revision ${claim.revision})`
      : "not reviewed yet", claim.review_error ? "err" : "ok");
    render();
    nextUndecided();
  } catch (e) {
    say(`claim ${id}: ${e.message}`, "err");
  }
}

async function start() {
  try {
    S.meta = await api("GET", "/api/meta");
    const listed = await api("GET", "/api/claims");
    S.claims = listed.claims;
  } catch (e) {
    say(e.message, "err");
    return;
  }
  const sel = $("claim");
  sel.textContent = "";
  const errors = [];
  for (const c of S.claims) {
    const o = document.createElement("option");
    o.value = c.id;
    if (c.error) {
      o.textContent = `⚠ ${c.file}: not readable`;
      o.disabled = true;
      errors.push(c.error);
    } else {
      o.textContent = `${c.req_seqno} · ${c.mode} · ${c.photos} photos${c.saved ? " · saved" : ""}`;
    }
    sel.appendChild(o);
  }
  const box = $("errors");
  box.textContent = "";
  for (const e of errors) {
    const d = document.createElement("div");
    d.textContent = "⚠ " + e;
    box.appendChild(d);
  }
  box.hidden = errors.length === 0;
  document.body.classList.toggle("has-errors", errors.length > 0);
  if (errors.length) document.body.style.setProperty("--errh", box.offsetHeight + "px");
  const keys = $("keys");
  for (const k of S.meta.keys) {
    const tr = keys.insertRow();
    tr.insertCell().textContent = k.key;
    tr.insertCell().textContent = k.what;
  }
  const wanted = new URLSearchParams(location.search).get("claim");
  const first = S.claims.find((c) => !c.error && c.id === wanted) || S.claims.find((c) => !c.error);
  if (first) await loadClaim(first.id);
  else say(S.claims.length ? "no readable callback in this folder" : "no callback (*.json) in this folder", "err");
}

// ------------------------------------------------------------------------------------------- drawing
function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function fit(p) {
  const stage = $("stage");
  const w = p.width || 1000, h = p.height || 750;
  const availW = stage.clientWidth - 16, availH = stage.clientHeight - 30;
  const scale = Math.min(availW / w, availH / h);
  S.scale = scale > 0 ? scale : 1;
  return [Math.max(1, Math.round(w * S.scale)), Math.max(1, Math.round(h * S.scale)), w, h];
}

function renderPhoto() {
  const p = photo();
  const img = $("img"), ph = $("placeholder"), svg = $("overlay");
  svg.textContent = "";
  if (!p) { img.hidden = true; ph.hidden = true; return; }
  const [dw, dh, w, h] = fit(p);
  for (const e of [img, ph, svg]) { e.style.width = dw + "px"; e.style.height = dh + "px"; }
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  if (p.src) {
    const url = photoUrl(p.src);
    if (img.getAttribute("src") !== url) img.src = url;
    img.hidden = false;
    ph.hidden = true;
  } else {
    img.hidden = true;
    img.removeAttribute("src");
    ph.hidden = false;
    ph.textContent = p.error || "photo not available";
  }
  const k = 1 / S.scale;  // photo pixels per screen pixel
  const boxes = boxesOf(p);
  boxes.forEach((b, i) => {
    const [x0, y0, x1, y1] = b.box;
    const g = el("g", {"data-box": i}, svg);
    const colour = COLOURS[b.status];
    const sel = i === S.sel;
    el("rect", {x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: "none", stroke: "#000", "stroke-opacity": 0.55,
      "stroke-width": sel ? 7 : 5, "vector-effect": "non-scaling-stroke"}, g);  // contrast on any photo
    el("rect", {x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: sel ? "#ffffff22" : "transparent",
      stroke: colour, "stroke-width": sel ? 4 : 2.5, "vector-effect": "non-scaling-stroke",
      "stroke-dasharray": b.status === "accepted" ? "" : "8 5", class: "box", "data-box": i}, g);
    if (b.status === "rejected") {
      el("line", {x1: x0, y1: y0, x2: x1, y2: y1, stroke: colour, "stroke-width": 1.5, "vector-effect": "non-scaling-stroke"}, g);
    }
    const text = `${i + 1} ${b.component_id ? compName(b.component_id) : "? component"} · ${b.degree ? degreeWord(b.degree) : "?"}`;
    const fs = 12 * k;
    const ty = y0 - 3 * k > fs ? y0 - 4 * k : y1 + fs + 2 * k;
    const tw = Math.min(text.length * fs * 0.62, Math.max(x1 - x0, 60 * k) * 3);
    el("rect", {x: x0, y: ty - fs, width: tw, height: fs * 1.25, fill: colour, opacity: 0.85}, g);
    const t = el("text", {x: x0 + 3 * k, y: ty - 0.05 * fs, "font-size": fs, fill: "#fff"}, g);
    t.textContent = text;
    if (sel) {
      const corners = [[x0, y0, "nw"], [x1, y0, "ne"], [x0, y1, "sw"], [x1, y1, "se"]];
      for (const [cx, cy, c] of corners) {
        el("circle", {cx, cy, r: 6 * k, fill: "#fff", stroke: colour, "stroke-width": 2,
          "vector-effect": "non-scaling-stroke", class: `handle ${c}`, "data-corner": c, "data-box": i}, g);
      }
    }
  });
  if (S.drag && S.drag.kind === "new" && S.drag.now) {
    const [x0, y0, x1, y1] = norm(S.drag.start, S.drag.now);
    el("rect", {x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: "none", stroke: COLOURS.drawing,
      "stroke-width": 2, "vector-effect": "non-scaling-stroke", "stroke-dasharray": "4 3"}, svg);
  }
  const where = `${S.idx + 1} / ${S.claim.photos.length} · ${p.name}`;
  $("where").textContent = where;
  $("caption").textContent = `${p.name} · ${p.class_words} · ${p.result_code} ${p.result_text}` +
    (p.width ? ` · ${p.width}×${p.height} px` : "") + (p.error ? " · " + p.error : "");
}

function norm(a, b) {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
}

function toPhoto(ev) {
  const svg = $("overlay");
  const pt = svg.createSVGPoint();
  pt.x = ev.clientX; pt.y = ev.clientY;
  const q = pt.matrixTransform(svg.getScreenCTM().inverse());
  const p = photo();
  const w = p.width || 1000, h = p.height || 750;
  return [Math.max(0, Math.min(w, q.x)), Math.max(0, Math.min(h, q.y))];
}

function onDown(ev) {
  if (!photo() || ev.button !== 0) return;
  const target = ev.target;
  if (!photo().src && !target.classList.contains("box")) {
    say("no photo shown here: boxes are drawn on the photo itself", "err");
    return;
  }
  const at = toPhoto(ev);
  $("overlay").setPointerCapture(ev.pointerId);
  if (target.classList.contains("handle")) {
    S.drag = {kind: "corner", box: +target.dataset.box, corner: target.dataset.corner, start: at, before: snapshot()};
  } else if (target.classList.contains("box")) {
    S.sel = +target.dataset.box;
    S.drag = null;
    render();
  } else {
    S.drag = {kind: "new", start: at, now: null};
  }
  ev.preventDefault();
}

function onMove(ev) {
  if (!S.drag) return;
  const at = toPhoto(ev);
  if (S.drag.kind === "new") {
    S.drag.now = at;
    renderPhoto();
  } else {
    const p = photo();
    if (!S.review.photos[p.fileid]) S.review.photos[p.fileid] = {boxes: serviceStart(p)};
    const b = S.review.photos[p.fileid].boxes[S.drag.box];
    const [x0, y0, x1, y1] = b.box;
    const c = S.drag.corner;
    const nb = [c.includes("w") ? at[0] : x0, c.includes("n") ? at[1] : y0,
                c.includes("e") ? at[0] : x1, c.includes("s") ? at[1] : y1];
    b.box = norm([nb[0], nb[1]], [nb[2], nb[3]]).map((v) => Math.round(v * 10) / 10);
    S.drag.moved = true;
    renderPhoto();
  }
}

function onUp(ev) {
  const d = S.drag;
  S.drag = null;
  if (!d) return;
  if (d.kind === "new") {
    const end = toPhoto(ev);
    const [x0, y0, x1, y1] = norm(d.start, end).map((v) => Math.round(v * 10) / 10);
    if (x1 - x0 < MIN_BOX_PX || y1 - y0 < MIN_BOX_PX) { S.sel = -1; render(); return; }
    change((boxes) => {
      boxes.push({box: [x0, y0, x1, y1], component_id: null, degree: null, damage_type: null,
        status: "accepted", origin: null, edited: false});
      S.sel = boxes.length - 1;
    });
    say("new box: type its component, Enter, then 1 (repair) or 2 (replace)", "dirty");
    $("comp").focus();
  } else if (d.moved) {
    S.undo.push(d.before);
    const p = photo();
    const b = S.review.photos[p.fileid].boxes[d.box];
    b.edited = b.origin !== null || b.edited;
    if (b.component_id && b.degree) b.status = "accepted";
    S.dirty = true;
    say("box redrawn (unsaved)", "dirty");
    render();
  }
}

// ------------------------------------------------------------------------------------------- panels
function renderList() {
  const ol = $("photos");
  ol.textContent = "";
  S.claim.photos.forEach((p, i) => {
    const li = document.createElement("li");
    li.className = i === S.idx ? "cur" : "";
    li.dataset.idx = i;
    const n = document.createElement("span");
    n.className = "n";
    n.textContent = `${i + 1}. ${p.name}`;
    const c = document.createElement("span");
    c.className = "c";
    c.textContent = `${p.class_words} · ${p.service_boxes.length} box${p.service_boxes.length === 1 ? "" : "es"}`;
    li.append(n, c);
    const tag = (cls, text) => { const t = document.createElement("span"); t.className = "tag " + cls; t.textContent = text; c.append(t); };
    if (reviewed(p)) tag("done", "✓");
    else if (S.review.photos[p.fileid]) tag("edit", "…");
    if (p.document) tag("doc", "doc");
    if (p.error) tag("err", "!");
    li.title = p.error || p.name;
    li.addEventListener("click", () => { S.idx = i; S.sel = -1; render(); nextUndecided(); });
    ol.appendChild(li);
  });
  const done = S.claim.photos.filter(reviewed).length;
  $("progress").textContent = `${done}/${S.claim.photos.length} reviewed`;
  const cur = ol.children[S.idx];
  if (cur) cur.scrollIntoView({block: "nearest"});
}

function renderBoxPanel() {
  const p = photo();
  const boxes = p ? boxesOf(p) : [];
  const b = S.sel >= 0 ? boxes[S.sel] : null;
  $("boxtitle").textContent = b ? `${S.sel + 1} of ${boxes.length} · ${b.status}${b.origin === null ? " · drawn" : ""}`
    : boxes.length ? `none selected (${boxes.length} on this photo; j / k)` : "none: drag on the photo to draw one";
  const comp = $("comp");
  if (document.activeElement !== comp) comp.value = b && b.component_id ? `${b.component_id} ${compName(b.component_id)}` : "";
  comp.disabled = !b;
  for (const id of ["repair", "replace"]) {
    $(id).classList.toggle("on", !!b && b.degree === id);
    $(id).disabled = !b;
  }
  $("accept").disabled = $("reject").disabled = !b;
  const ol = $("boxes");
  ol.textContent = "";
  boxes.forEach((x, i) => {
    const li = document.createElement("li");
    li.className = i === S.sel ? "sel" : "";
    const st = document.createElement("span");
    st.className = "st " + x.status;
    st.textContent = x.status;
    const svc = x.origin !== null ? p.service_boxes[x.origin] : null;
    const extra = svc && svc.existence_score != null ? ` · exists ${svc.existence_score}` : "";
    li.append(st, ` ${x.component_id ? compName(x.component_id) : "? component"} · ${degreeWord(x.degree)}` +
      `${x.origin === null ? " · drawn" : x.edited ? " · edited" : ""}${extra}`);
    li.addEventListener("click", () => { S.sel = i; render(); });
    ol.appendChild(li);
  });
}

function renderDocument() {
  const p = photo();
  const panel = $("docpanel");
  if (!p || !p.document) { panel.hidden = true; return; }
  panel.hidden = false;
  const doc = p.document;
  $("doctitle").textContent = `${doc.title} · ${p.name}`;
  const table = $("docfields");
  if (table.dataset.fileid === p.fileid && table.contains(document.activeElement)) return;
  table.dataset.fileid = p.fileid;
  table.textContent = "";
  const corrections = S.review.documents[p.fileid] || {};
  for (const f of doc.fields) {
    const tr = table.insertRow();
    const label = tr.insertCell();
    label.textContent = f.label;
    const cell = tr.insertCell();
    const input = document.createElement("input");
    input.type = "text";
    input.name = f.name;
    input.value = f.name in corrections ? corrections[f.name] : (f.read ?? "");
    input.className = f.name in corrections ? "corrected" : "";
    input.setAttribute("aria-label", f.label);
    let before = null;
    input.addEventListener("focus", () => { before = snapshot(); });
    input.addEventListener("input", () => {
      if (before !== null) { S.undo.push(before); before = null; }
      const docs = S.review.documents;
      docs[p.fileid] = docs[p.fileid] || {};
      if (input.value === (f.read ?? "")) delete docs[p.fileid][f.name];
      else docs[p.fileid][f.name] = input.value;
      if (!Object.keys(docs[p.fileid]).length) delete docs[p.fileid];
      input.className = f.name in (docs[p.fileid] || {}) ? "corrected" : "";
      S.dirty = true;
      say("unsaved changes", "dirty");
    });
    const read = document.createElement("div");
    read.className = "read";
    read.textContent = f.read === null ? "not read by the service" :
      `read: ${f.read}` + (f.confidence != null ? ` (${f.confidence.toFixed(2)})` : "");
    cell.append(input, read);
    if (f.check) {
      const chk = document.createElement("span");
      chk.className = "chk " + f.check.level;
      chk.textContent = f.check.text;
      cell.append(chk);
    }
  }
}

function renderBatch() {
  const div = $("batch");
  div.textContent = "";
  const p = photo();
  const batch = S.claim.batch;
  if (!batch) {
    $("batchtitle").textContent = "SINGLE claim (no BATCH table)";
    const all = S.claim.photos.filter((x) => x.service_boxes.length);
    const t = document.createElement("p");
    t.className = "muted";
    t.textContent = `${all.length} photos with damage boxes; the service judged each photo alone.`;
    div.append(t);
    return;
  }
  $("batchtitle").textContent = `BATCH · ${batch.rows.length} components · ${batch.result_code} ${batch.result_text}`;
  const table = document.createElement("table");
  table.className = "batch";
  const head = table.insertRow();
  for (const h of ["component", "degree", "photos"]) { const th = document.createElement("th"); th.textContent = h; head.append(th); }
  for (const r of batch.rows) {
    const tr = table.insertRow();
    if (p && r.photos.some((x) => x.fileid === p.fileid)) tr.className = "here";
    tr.insertCell().textContent = `${r.zh} ${r.en} #${r.component_id}`;
    const d = tr.insertCell();
    const badge = document.createElement("span");
    badge.className = "badge " + r.degree;
    badge.textContent = `${r.degree} ${r.degree_zh}${r.degree_score != null ? " " + r.degree_score : ""}`;
    d.append(badge);
    tr.insertCell().textContent = r.photos.map((x) => `${x.name} (${x.boxes})`).join(", ");
  }
  div.append(table);
}

function render() {
  if (!S.claim) return;
  renderPhoto();
  renderList();
  renderBoxPanel();
  renderDocument();
  renderBatch();
  $("undo").disabled = S.undo.length === 0;
}

// ------------------------------------------------------------------------------------------- component picker
function matches(q) {
  q = q.trim().toLowerCase();
  if (!q) return S.meta.components.slice(0, 40);
  return S.meta.components.filter((c) => String(c.id) === q || c.zh.includes(q) || c.en.toLowerCase().includes(q));
}

function showPicker() {
  const list = $("complist");
  const found = matches($("comp").value).slice(0, 40);
  list.textContent = "";
  S.compHl = Math.min(S.compHl, Math.max(0, found.length - 1));
  found.forEach((c, i) => {
    const li = document.createElement("li");
    li.textContent = `${c.id} ${c.zh} ${c.en}`;
    li.dataset.id = c.id;
    li.className = i === S.compHl ? "hl" : "";
    li.addEventListener("mousedown", (ev) => { ev.preventDefault(); pick(c.id); });
    list.append(li);
  });
  list.hidden = found.length === 0;
  const hl = list.children[S.compHl];
  if (hl) hl.scrollIntoView({block: "nearest"});
}

function pick(id) {
  $("complist").hidden = true;
  $("comp").blur();
  setComponent(id);
  const b = boxesOf(photo())[S.sel];
  say(`component: ${compName(id)}` + (b && !b.degree ? " · now 1 (repair) or 2 (replace)" : ""), "dirty");
}

function onCompKey(ev) {
  const found = matches($("comp").value);
  if (ev.key === "ArrowDown") { S.compHl = Math.min(found.length - 1, S.compHl + 1); showPicker(); ev.preventDefault(); }
  else if (ev.key === "ArrowUp") { S.compHl = Math.max(0, S.compHl - 1); showPicker(); ev.preventDefault(); }
  else if (ev.key === "Enter") {
    ev.preventDefault();
    if (found[S.compHl]) pick(found[S.compHl].id);
    else say("no component matches: type part of a Chinese or English name, or its id 1-40", "err");
  }
}

// ------------------------------------------------------------------------------------------- keys
function help(show) { $("help").hidden = !show; }

function onKey(ev) {
  const inField = ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement;
  if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "s") { ev.preventDefault(); save(); return; }
  if (ev.key === "Escape") {
    if (!$("help").hidden) help(false);
    if (inField) { ev.target.blur(); $("complist").hidden = true; render(); }
    return;
  }
  if (inField || ev.altKey) return;
  if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "z") { ev.preventDefault(); undo(); return; }
  if (ev.ctrlKey || ev.metaKey) return;
  const actions = {
    n: () => go(1), ArrowRight: () => go(1), p: () => go(-1), ArrowLeft: () => go(-1),
    j: () => selectBox(1), k: () => selectBox(-1), a: () => decide("accepted"), r: () => decide("rejected"),
    A: acceptAll, z: undo, s: save, e: exportCoco, 1: () => setDegree("repair"), 2: () => setDegree("replace"),
    Delete: deleteBox, Backspace: deleteBox, "?": () => help($("help").hidden),
    c: () => { if (S.sel >= 0) { $("comp").value = ""; $("comp").focus(); showPicker(); } else say("select or draw a box first", "err"); },
  };
  const act = actions[ev.key];
  if (act) { ev.preventDefault(); act(); }
}

// ------------------------------------------------------------------------------------------- wiring
window.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("keydown", onKey);
  const svg = $("overlay");
  svg.addEventListener("pointerdown", onDown);
  svg.addEventListener("pointermove", onMove);
  svg.addEventListener("pointerup", onUp);
  $("claim").addEventListener("change", (ev) => loadClaim(ev.target.value));
  $("save").addEventListener("click", save);
  $("export").addEventListener("click", exportCoco);
  $("undo").addEventListener("click", undo);
  $("helpbtn").addEventListener("click", () => help(true));
  $("helpclose").addEventListener("click", () => help(false));
  $("help").addEventListener("click", (ev) => { if (ev.target === $("help")) help(false); });
  $("accept").addEventListener("click", () => decide("accepted"));
  $("reject").addEventListener("click", () => decide("rejected"));
  $("acceptall").addEventListener("click", acceptAll);
  for (const d of ["repair", "replace"]) $(d).addEventListener("click", () => setDegree(d));
  const comp = $("comp");
  comp.addEventListener("focus", () => { S.compHl = 0; comp.select(); showPicker(); });
  comp.addEventListener("input", () => { S.compHl = 0; showPicker(); });
  comp.addEventListener("keydown", onCompKey);
  comp.addEventListener("blur", () => { setTimeout(() => { $("complist").hidden = true; }, 100); });
  $("img").addEventListener("error", () => {
    const p = photo();
    if (p) say(`${p.name}: the photo could not be loaded`, "err");
  });
  window.addEventListener("resize", () => renderPhoto());
  window.addEventListener("beforeunload", (ev) => { if (S.dirty) { ev.preventDefault(); ev.returnValue = ""; } });
  start();
});
