"""`picloss`: the insurer's command line (issue 12).

    picloss submit PHOTO_OR_URL... [--mode SINGLE|BATCH] [--wait]   sign and submit a claim
    picloss listen [--port N] [--forward URL] [--save DIR]         receive and verify callbacks
    picloss verify BODY_FILE [--signature S]                        check a body's signature (exit 0/1)
    picloss query ACCEPT_SEQNO | --req-seqno R                      state, delivery attempts, result
    picloss report CALLBACK.json [--photos DIR] -o report.html      the reviewer's HTML report
    picloss review DIR [--port N] [--export-coco OUT.json]          the adjuster's review page over a folder

Credentials: --gateway-url/--appid/--mchid/--key/--ca-cert, else PICLOSS_GATEWAY_URL, PICLOSS_APPID,
PICLOSS_MCHID, PICLOSS_KEY, PICLOSS_CA_CERT, else the dotenv `make up` writes (.run/picloss.env, or
--env-file / PICLOSS_ENV_FILE). Only the standard library is imported (plus Pillow for report thumbnails).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from picloss.client.sdk.client import MODES, ApiError, Client, PiclossError, file_desc
from picloss.client.sdk.credentials import CredentialsError, load_credentials, settings
from picloss.client.sdk.masking import SHOW_PERSONAL_HELP, shown
from picloss.client.sdk.servers import CallbackListener, Delivery, PhotoServer, save_delivery
from picloss.protocol.results import Callback, QueryResult, ResultError, file_code_text, parse_callback, parse_query

FINAL_STATES = ("DONE", "DELIVERED", "DELIVERY_FAILED")
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _credential_flags(parser: argparse.ArgumentParser, gateway: bool = True) -> None:
    g = parser.add_argument_group("credentials (else PICLOSS_* variables, else the dotenv of `make up`)")
    if gateway:
        g.add_argument("--gateway-url", metavar="URL", help="e.g. https://127.0.0.1:8443 (PICLOSS_GATEWAY_URL)")
        g.add_argument("--ca-cert", metavar="PEM", help="CA or self-signed certificate of the gateway "
                       "(PICLOSS_CA_CERT)")
    g.add_argument("--appid", help="project id (PICLOSS_APPID)")
    g.add_argument("--mchid", help="insurer id (PICLOSS_MCHID)")
    g.add_argument("--key", help="signing key of (appid, mchid) (PICLOSS_KEY)")
    g.add_argument("--env-file", metavar="FILE", help="dotenv to read (default .run/picloss.env when present; "
                   "PICLOSS_ENV_FILE)")


def _flags(args: argparse.Namespace) -> dict[str, str | None]:
    return {k: getattr(args, k, None) for k in ("gateway_url", "appid", "mchid", "key", "ca_cert")}


def _client(args: argparse.Namespace) -> Client:
    return Client(load_credentials(_flags(args), args.env_file), timeout_s=30.0)


def _key(args: argparse.Namespace) -> str:
    found = settings(_flags(args), args.env_file)
    if "key" not in found:
        raise CredentialsError("missing --key or PICLOSS_KEY (or run `make up`, which writes .run/picloss.env)")
    return found["key"]


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0..65535: {port}")
    return port


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text}")
    return value


# ------------------------------------------------------------------------------------------ printing
def summary_line(delivery: Delivery, saved: Path | None = None) -> str:
    """One line per callback: time, signature, accept_seqno, result, counts, where it went."""
    at = time.strftime("%H:%M:%S", time.localtime(delivery.at))
    if not delivery.verified:
        return f"{at}  REJECTED  signature missing or wrong ({len(delivery.raw)} bytes on {delivery.path}) " \
               f"-> answered {delivery.answer_status}" + (f"; kept in {saved}" if saved else "")
    body = delivery.body or {}
    try:
        cb = parse_callback(body)
        detail = (f"{cb.mode}  {len(cb.files)} files  {len(cb.documents)} documents  "
                  f"{sum(len(v) for v in cb.damage_boxes().values())} damage boxes")
    except ResultError as exc:
        detail = f"(not a callback: {exc})"
    line = (f"{at}  verified  {body.get('accept_seqno', '?')}  req {body.get('req_seqno', '?')}  "
            f"{body.get('result_code', '?')}  {detail}  -> answered {delivery.answer_status}")
    if delivery.forward_status is not None:
        error = f" {delivery.forward_error}" if delivery.forward_error else ""
        line += f" (forwarded: {delivery.forward_status}{error})"
    return line + (f"  saved {saved}" if saved else "")


def describe(cb: Callback, reveal: bool = False) -> str:
    """The callback readably, a few lines per section (the demo's print-out); ID numbers, names and addresses
    masked unless `reveal` (picloss.client.sdk.masking)."""
    names = {f.file.fileid: f.file.name for f in cb.files}

    def name(ref: Any) -> str:
        return names.get(ref.fileid, ref.name)

    lines = [f"accept_seqno {cb.accept_seqno}  req_seqno {cb.req_seqno}  {cb.mode}  result {cb.result_code}"
             + (f" ({cb.result_msg})" if cb.result_msg else "")]
    for f in cb.files:
        lines.append(f"  {f.file.name:<28} {f.image_class or '-':<16} {f.result_code} {file_code_text(f.result_code)}")
    for doc in cb.documents:
        fields = ", ".join(f"{fl.name}={shown(fl.name, fl.value, reveal)}"
                           + (f" ({fl.confidence:.2f})" if fl.confidence is not None else "") for fl in doc.fields)
        lines.append(f"  {doc.kind} {name(doc.file)}: {fields or file_code_text(doc.result_code)}")
    for loss in cb.single_loss:
        for d in loss.damages:
            part = d.main_part
            b = d.box
            score = d.degree_score if d.degree_score is not None else ""
            lines.append(f"  damage {name(loss.file)}: {part.component if part else 'no part'} · {d.degree} "
                         f"{score} box {b.xmin},{b.ymin},{b.xmax},{b.ymax}")
    if cb.batch_loss is not None:
        for e in cb.batch_loss.entries:
            seen = ", ".join(f"{name(p.file)}×{len(p.boxes)}" for p in e.photos)
            lines.append(f"  component {e.component} · {e.degree}: seen in {seen}")
    return "\n".join(lines)


def describe_query(q: QueryResult, reveal: bool = False) -> str:
    lines = [f"accept_seqno {q.accept_seqno}  req_seqno {q.req_seqno}  state {q.state}"]
    for a in q.attempts:
        status = f"HTTP {a.http_status}" if a.http_status is not None else "no HTTP answer"
        when = a.at.isoformat(timespec="seconds") if a.at else "?"
        lines.append(f"  attempt {a.attempt}  {when}  {a.outcome:<7} {status}"
                     + (f"  {a.error}" if a.error else "")
                     + (f"  {a.duration_ms} ms" if a.duration_ms is not None else ""))
    if not q.attempts:
        lines.append("  no delivery attempt yet")
    if q.result is not None:
        lines.append(describe(q.result, reveal))
    elif q.raw.get("result_expired_at"):
        lines.append(f"  result expired (deleted {q.raw['result_expired_at']}, past the service's retention)")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- verbs
def cmd_submit(args: argparse.Namespace) -> int:
    client = _client(args)
    urls = [p for p in args.photos if p.startswith(("http://", "https://"))]
    local = [p for p in args.photos if p not in urls]
    if not args.wait and not args.callback_url:
        raise UsageError("give --callback-url URL (your receiver), or --wait to receive the callback here")
    photos = PhotoServer(local, host=args.host, port=args.photo_port, public_host=args.public_host) if local else None
    listener = None
    try:
        files = [file_desc(u) for u in urls] + (photos.file_descs() if photos else [])
        callback_url = args.callback_url
        if args.wait and not callback_url:
            listener = CallbackListener([client.credentials.key], host=args.host, port=args.callback_port,
                                        public_host=args.public_host)
            callback_url = listener.url("/callback")
        accepted = client.submit(files, mode=args.mode, callback_url=callback_url, req_seqno=args.req_seqno)
        print(f"accept_seqno {accepted.accept_seqno}  (req_seqno {accepted.req_seqno}, {len(files)} files, "
              f"{args.mode})", flush=True)
        deadline = time.monotonic() + args.timeout
        if listener is not None:
            delivery = listener.wait_for(accepted.accept_seqno, timeout_s=args.timeout)
            saved = save_delivery(delivery, Path(args.save))
            print(summary_line(delivery, saved))
            print(json.dumps(delivery.body, ensure_ascii=False, indent=2) if args.json
                  else describe(parse_callback(delivery.raw), args.show_personal))
        elif photos is not None:  # keep serving the photos until the service has downloaded them
            print(f"serving {len(local)} local photos until the request is processed ...", flush=True)
            while time.monotonic() < deadline:
                if client.query(accept_seqno=accepted.accept_seqno).state in FINAL_STATES:
                    break
                time.sleep(1.0)
            else:
                raise TimeoutError(f"{accepted.accept_seqno} not processed within {args.timeout:.0f}s")
        return EXIT_OK
    finally:
        if listener is not None:
            listener.close()
        if photos is not None:
            photos.close()


def cmd_listen(args: argparse.Namespace) -> int:
    keys = [_key(args), *args.also_key]
    save = Path(args.save) if args.save else None
    listener = CallbackListener(keys, host=args.host, port=args.port, forward_url=args.forward)
    print(f"listening on {listener.url('/')} — use it as callback_url; every signature is verified"
          + (f"; forwarding to {args.forward}" if args.forward else "")
          + (f"; saving to {save}/" if save else "") + " (Ctrl-C stops)", flush=True)
    verified = 0
    try:
        while args.count is None or verified < args.count:
            delivery = listener.deliveries.get()
            saved = save_delivery(delivery, save) if save else None
            print(summary_line(delivery, saved), flush=True)
            verified += delivery.verified
    finally:
        listener.close()
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    body_path = Path(args.body)
    raw = body_path.read_bytes()
    if args.signature:
        signature = args.signature.strip()
    else:
        sig_file = Path(args.signature_file) if args.signature_file else body_path.with_name(body_path.name + ".sig")
        if not sig_file.is_file():
            raise UsageError(f"no --signature given and no {sig_file} beside the body")
        signature = sig_file.read_text().strip()
    from picloss.client.sdk.client import verify

    if verify(raw, signature, [_key(args), *args.also_key]):
        print(f"OK: {body_path} — signature verifies ({len(raw)} bytes)")
        return EXIT_OK
    print(f"FAIL: {body_path} — signature does not verify (body changed, or another key)")
    return EXIT_FAIL


def cmd_query(args: argparse.Namespace) -> int:
    if (args.accept_seqno is None) == (args.req_seqno is None):
        raise UsageError("give an ACCEPT_SEQNO or --req-seqno R (one of them)")
    result = _client(args).query(accept_seqno=args.accept_seqno, req_seqno=args.req_seqno)
    if args.save:
        Path(args.save).write_text(json.dumps(result.raw, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps(result.raw, ensure_ascii=False, indent=2) if args.json
          else describe_query(result, args.show_personal))
    return EXIT_OK


def _load_result(path: Path) -> tuple[Callback, QueryResult | None]:
    raw = path.read_bytes()
    try:
        obj = json.loads(raw)
    except ValueError:
        raise ResultError(f"{path}: not JSON") from None
    if isinstance(obj, dict) and "state" in obj and "attempts" in obj:  # a saved query answer
        query = parse_query(obj)
        if query.result is None:
            raise ResultError(f"{path}: request {query.accept_seqno} is {query.state}, no result yet")
        return query.result, query
    return parse_callback(obj), None


def cmd_report(args: argparse.Namespace) -> int:
    from picloss.client.report import write_report

    callback, query = _load_result(Path(args.callback))
    if args.query_file:
        query = parse_query(Path(args.query_file).read_bytes())
    elif args.query:
        query = _client(args).query(accept_seqno=callback.accept_seqno)
    if args.photos and not Path(args.photos).is_dir():
        raise UsageError(f"--photos {args.photos}: not a folder")
    out = write_report(callback, args.output, photos_dir=args.photos, fetch_urls=args.fetch, query=query,
                       reveal_personal=args.show_personal)
    print(f"report: {out}")
    return EXIT_OK


def _photo_sizes(folder: Path, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    from picloss.client.report.images import find_local, upright_size

    sizes = {}
    for name in names:
        path = find_local(folder, name)
        size = upright_size(path.read_bytes()) if path else None
        if size:
            sizes[name] = size
    return sizes


def cmd_labels_export(args: argparse.Namespace) -> int:
    from picloss.client.sdk import labels

    callback, _ = _load_result(Path(args.callback))
    if not Path(args.photos).is_dir():
        raise UsageError(f"--photos {args.photos}: not a folder")
    files = callback.all_files()
    sizes = _photo_sizes(Path(args.photos), [f.file.name for f in files])
    photos = labels.from_callback(callback, sizes)
    missing = sorted({f.file.name for f in files if f.image_class == "DAMAGE"} - set(sizes))
    out = Path(args.output)
    if args.format == "yolo":
        out.mkdir(parents=True, exist_ok=True)
        for name, text in labels.to_yolo(photos).items():
            _write_atomic(out / name, text)
    else:
        doc = labels.to_coco(photos) if args.format == "coco" else labels.to_label_studio(photos)
        _write_atomic(out, json.dumps(doc, ensure_ascii=False, indent=1))
    boxes = sum(len(p.boxes) for p in photos)
    print(f"labels: {len(photos)} photos, {boxes} boxes -> {out} ({args.format})"
          + (f"; no photo in --photos for {', '.join(missing)}" if missing else ""))
    return EXIT_OK


def cmd_labels_import(args: argparse.Namespace) -> int:
    from picloss.client.sdk import labels

    source = Path(args.source)
    if args.format == "coco":
        try:
            photos = labels.from_coco(json.loads(source.read_bytes()))
        except ValueError as exc:
            raise ResultError(f"{source}: {exc}") from None
    else:
        if not source.is_dir():
            raise UsageError(f"{source}: a YOLO export is a folder of .txt files")
        if not args.photos or not Path(args.photos).is_dir():
            raise UsageError("--photos DIR is needed for YOLO (the photos' sizes)")
        files = {p.name: p.read_text() for p in sorted(source.glob("*.txt"))}
        photo_names = [p.name for p in sorted(Path(args.photos).iterdir()) if p.is_file()]
        photos = labels.from_yolo(files, _photo_sizes(Path(args.photos), photo_names))
    _write_atomic(Path(args.output), json.dumps(labels.to_coco(photos), ensure_ascii=False, indent=1))
    print(f"labels: {len(photos)} photos, {sum(len(p.boxes) for p in photos)} boxes -> {args.output} (COCO, "
          "protocol component ids)")
    return EXIT_OK


def _write_atomic(path: Path, text: str) -> None:
    from picloss.client.review.atomic import write_atomic

    write_atomic(path, text)


def cmd_review(args: argparse.Namespace) -> int:
    from picloss.client.review.folder import Limits, PhotoFinder, list_claims

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder (give the folder of callbacks `picloss listen --save` writes)")
    photos = Path(args.photos) if args.photos else folder
    if not photos.is_dir():
        raise UsageError(f"--photos {photos}: not a folder")
    limits = Limits(int(args.max_photo_mb * 2**20), int(args.max_megapixels * 1e6))
    if (args.claim or args.include_unreviewed) and not args.export_coco:
        raise UsageError("--claim and --include-unreviewed go with --export-coco (the page exports its own claim)")
    if args.export_coco:
        from picloss.client.review.views import export, write_export

        claims = [c for c in list_claims(folder) if not args.claim or c.id in args.claim]
        for bad in (c for c in claims if c.error):
            print(f"picloss review: skipped {bad.error}", file=sys.stderr)
        if args.claim and sorted({c.id for c in claims}) != sorted(set(args.claim)):
            raise UsageError(f"--claim: no callback {', '.join(sorted(set(args.claim) - {c.id for c in claims}))}.json "
                             f"in {folder}")
        exported = export(folder, claims, PhotoFinder(photos, limits), args.include_unreviewed)
        coco, docs = write_export(exported, Path(args.export_coco))
        print(f"review: {exported.photos} photos, {exported.boxes} boxes -> {coco} (COCO"
              + (", reviewed photos only" if not args.include_unreviewed else ", unreviewed as source=service")
              + f"); {len(exported.documents)} corrected document fields -> {docs}")
        return EXIT_OK
    return _serve_review(args, folder, photos, limits)


def _serve_review(args: argparse.Namespace, folder: Path, photos: Path, limits: Any) -> int:
    import secrets

    try:
        from aiohttp import web

        from picloss.client.review.app import ReviewConfig, create_app, is_loopback
    except ImportError as exc:
        raise UsageError(f"the review page needs aiohttp ({exc}): pip install 'picloss[review]'") from None
    token = args.token
    if token is None and not is_loopback(args.host):
        token = secrets.token_urlsafe(24)
    try:
        app = create_app(ReviewConfig(folder, photos, args.host, token, limits))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown_host}:{args.port}/" + (f"?token={token}" if token else "")
    ready = f"review page: {url}  (folder {folder}; review saved in {folder / 'review'}; Ctrl-C stops)"
    web.run_app(app, host=args.host, port=args.port, print=lambda _: print(ready, flush=True), access_log=None,
                handle_signals=True)  # printed once the port is bound
    return EXIT_OK


# -------------------------------------------------------------------------------------------- parser
def build_parser() -> Parser:
    parser = Parser(prog="picloss", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=Parser)
    verbs.required = True

    p = verbs.add_parser("submit", help="sign and submit a claim; local photos are served on a local port",
                         description="Sign and submit a loss-assessment request. Local files are served over "
                         "HTTP on --host until the service has downloaded them; URLs are sent as they are.")
    p.add_argument("photos", nargs="+", metavar="PHOTO_OR_URL")
    p.add_argument("--mode", choices=MODES, default="SINGLE", type=str.upper, help="default SINGLE")
    p.add_argument("--wait", action="store_true", help="receive the callback here (a local listener), print it")
    p.add_argument("--callback-url", metavar="URL", help="your own receiver (instead of --wait)")
    p.add_argument("--req-seqno", metavar="R", help="your sequence number (default: a random one)")
    p.add_argument("--host", default="127.0.0.1", help="address of the local photo server and listener")
    p.add_argument("--public-host", metavar="H", help="host name the service uses to reach them (default --host)")
    p.add_argument("--photo-port", type=_port, default=0, metavar="N", help="default: a free port")
    p.add_argument("--callback-port", type=_port, default=0, metavar="N", help="default: a free port")
    p.add_argument("--save", default="picloss-callbacks", metavar="DIR",
                   help="with --wait: where the callback is saved (default ./picloss-callbacks)")
    p.add_argument("--timeout", type=_positive, default=600.0, metavar="S", help="seconds to wait (default 600)")
    p.add_argument("--json", action="store_true", help="print the callback as JSON")
    p.add_argument("--show-personal", action="store_true", help=SHOW_PERSONAL_HELP)
    _credential_flags(p)
    p.set_defaults(run=cmd_submit)

    p = verbs.add_parser("listen", help="receive callbacks, verify every signature, answer per PROTOCOL §5",
                         description="A callback receiver: a verified callback is answered 200 "
                         '{"result_code":"SUCCESS"} (with --forward: what your endpoint answers), any other '
                         "401 SIGN_ERROR, so the service retries it. One line per callback.")
    p.add_argument("--port", type=_port, default=8787, metavar="N", help="default 8787 (0: a free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--forward", metavar="URL", help="POST every verified callback, bytes and Signature "
                   "unchanged, to your endpoint")
    p.add_argument("--save", metavar="DIR", help="write each body to DIR/<accept_seqno>.json (+ .sig)")
    p.add_argument("--count", type=int, metavar="N", help="stop after N verified callbacks")
    p.add_argument("--also-key", action="append", default=[], metavar="KEY", help="another valid key (rotation)")
    _credential_flags(p, gateway=False)
    p.set_defaults(run=cmd_listen)

    p = verbs.add_parser("verify", help="check a body's Signature; exit status 0 (verifies) or 1",
                         description="Verify the HMAC-SHA256 Signature of a body file's exact bytes. Without "
                         "--signature, reads BODY_FILE.sig (what `listen --save` writes).")
    p.add_argument("body", metavar="BODY_FILE")
    p.add_argument("--signature", metavar="S", help="the Signature header value (hex)")
    p.add_argument("--signature-file", metavar="FILE", help="a file holding the signature")
    p.add_argument("--also-key", action="append", default=[], metavar="KEY", help="another valid key (rotation)")
    _credential_flags(p, gateway=False)
    p.set_defaults(run=cmd_verify)

    p = verbs.add_parser("query", help="a request's state, delivery attempts and result",
                         description="Query a request by accept_seqno or req_seqno (PROTOCOL §7).")
    p.add_argument("accept_seqno", nargs="?", metavar="ACCEPT_SEQNO")
    p.add_argument("--req-seqno", metavar="R")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--save", metavar="FILE", help="write the answer's JSON (usable by `picloss report`)")
    p.add_argument("--show-personal", action="store_true", help=SHOW_PERSONAL_HELP)
    _credential_flags(p)
    p.set_defaults(run=cmd_query)

    p = verbs.add_parser("report", help="the reviewer's HTML report of a callback",
                         description="Render one self-contained HTML file: photos with their damage boxes, "
                         "documents, damage tables, per-file results, timeline. CALLBACK.json is a saved "
                         "callback or a saved query answer (`picloss query --save`).")
    p.add_argument("callback", metavar="CALLBACK.json")
    p.add_argument("-o", "--output", required=True, metavar="REPORT.html")
    p.add_argument("--photos", metavar="DIR", help="folder of the photos (matched by the URL's file name)")
    p.add_argument("--fetch", action="store_true", help="download photos not found in --photos from their URLs")
    p.add_argument("--query", action="store_true", help="ask the gateway for the delivery attempts (timeline)")
    p.add_argument("--query-file", metavar="FILE", help="a saved query answer for the timeline")
    p.add_argument("--show-personal", action="store_true", help=SHOW_PERSONAL_HELP + "; document photos too")
    _credential_flags(p)
    p.set_defaults(run=cmd_report)

    p = verbs.add_parser("labels", help="damage labels: a callback's verdicts as COCO / YOLO / Label Studio, and back",
                         description="Export a callback's damage verdicts as pre-annotations for a labelling tool "
                         "(COCO with the protocol's 40 components as categories, YOLO, Label Studio tasks), or "
                         "import a COCO or YOLO export (Label Studio, CVAT) as picloss COCO. docs/sdk.md, Labels.")
    lverbs = p.add_subparsers(dest="labels_verb", metavar="ACTION", parser_class=Parser)
    lverbs.required = True
    e = lverbs.add_parser("export", help="a callback's damage boxes as labels")
    e.add_argument("callback", metavar="CALLBACK.json")
    e.add_argument("--photos", required=True, metavar="DIR", help="folder of the photos (their sizes)")
    e.add_argument("--format", choices=("coco", "yolo", "label-studio"), default="coco")
    e.add_argument("-o", "--output", required=True, metavar="OUT", help="a JSON file (a folder for yolo)")
    e.set_defaults(run=cmd_labels_export)
    i = lverbs.add_parser("import", help="a COCO file or YOLO folder from a labelling tool, as picloss COCO")
    i.add_argument("source", metavar="COCO.json|YOLO_DIR")
    i.add_argument("--format", choices=("coco", "yolo"), default="coco")
    i.add_argument("--photos", metavar="DIR", help="folder of the photos (YOLO: their sizes)")
    i.add_argument("-o", "--output", required=True, metavar="LABELS.json")
    i.set_defaults(run=cmd_labels_import)

    p = verbs.add_parser("review", help="the adjuster's review page over a folder of callbacks and photos",
                         description="Serve a local web page to review a folder of callbacks (what `listen --save` "
                         "writes) and their photos: accept, reject, redraw or add damage boxes, set component and "
                         "repair/replace, correct document fields; saved in DIR/review/. Or, with --export-coco, "
                         "write the reviewed labels as COCO. docs/sdk.md, Review page.")
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--photos", metavar="PHOTOS", help="folder of the photos (default DIR; also PHOTOS/<claim>/)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other needs "
                   "a token, generated when not given)")
    p.add_argument("--port", type=_port, default=8790, metavar="N", help="default 8790")
    p.add_argument("--token", metavar="T", help="require this token on every request")
    p.add_argument("--max-photo-mb", type=_positive, default=50.0, metavar="MB", help="larger photos are not "
                   "shown (default 50)")
    p.add_argument("--max-megapixels", type=_positive, default=60.0, metavar="MPX", help="photos with more "
                   "pixels are not shown (default 60, the service's MAX_PIXELS)")
    p.add_argument("--export-coco", metavar="OUT.json", help="write the reviewed labels as COCO (and "
                   "OUT.documents.json, the corrected fields) instead of serving")
    p.add_argument("--claim", action="append", metavar="ID", help="with --export-coco: only this claim (the "
                   "callback file's stem; repeatable)")
    p.add_argument("--include-unreviewed", action="store_true", help="with --export-coco: also photos not "
                   "reviewed, their undecided boxes as source=service")
    p.set_defaults(run=cmd_review)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"picloss {args.verb}"
    try:
        return int(args.run(args))
    except UsageError as exc:
        print(f"{prog}: error: {exc} (see `{prog} --help`)", file=sys.stderr)
        return EXIT_USAGE
    except ApiError as exc:
        print(f"{prog}: the gateway refused: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except (PiclossError, CredentialsError, ResultError, TimeoutError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{prog}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print(f"{prog}: stopped", file=sys.stderr)
        return 130
    except Exception as exc:  # never a traceback for a person; PICLOSS_DEBUG=1 shows it
        if os.environ.get("PICLOSS_DEBUG"):
            raise
        print(f"{prog}: internal error: {exc.__class__.__name__}: {exc} (PICLOSS_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
