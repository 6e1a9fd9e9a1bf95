"""The review page's web server (aiohttp): the page and its assets, a JSON API, the photos of the folder.

Security: bound to 127.0.0.1 by default and then only answers requests addressed to a loopback name (a DNS
rebinding page cannot reach it); with a token (required when bound elsewhere) every request, assets and photos
included, must carry it (`?token=`, which also sets a same-site cookie, the `X-Review-Token` header or that
cookie). Saves and exports must come from the page itself (a custom header a cross-site form cannot send). Photos
are served only from the photos folder (`folder.safe_relative`). Every error is JSON `{"error": "..."}`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from picloss.client.review import state as review_state
from picloss.client.review import views
from picloss.client.review.folder import (
    CLAIM_ID,
    ClaimFile,
    Limits,
    PhotoFinder,
    Refused,
    describe,
    list_claims,
    load_claim,
)

log = logging.getLogger("picloss.client.review")

STATIC = Path(__file__).with_name("static")
ASSET_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
TOKEN_COOKIE = "picloss_review_token"
TOKEN_HEADER = "X-Review-Token"
PAGE_HEADER = "X-Picloss-Review"  # set by the page's own script on every POST
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_SAVE_BYTES = 8 * 1024 * 1024
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
KEYS = [("n / →", "next photo"), ("p / ←", "previous photo"), ("j / k", "next / previous box"),
        ("a", "accept the selected box"), ("r", "reject the selected box"),
        ("A", "accept every undecided box: the photo is reviewed (also a photo with no damage)"),
        ("drag on the photo", "draw a new box; drag a corner of the selected box to redraw it"),
        ("c", "choose the component (type Chinese or English, ↑/↓, Enter)"), ("1 / 2", "repair 修 / replace 换"),
        ("Delete", "delete a box you drew"), ("z / Ctrl-Z", "undo"), ("s / Ctrl-S", "save"),
        ("e", "export COCO"), ("?", "this help"), ("Esc", "close, leave a text field")]


@dataclass
class ReviewConfig:
    folder: Path
    photos: Path | None = None
    host: str = "127.0.0.1"
    token: str | None = None
    limits: Limits = field(default_factory=Limits)

    @property
    def photos_root(self) -> Path:
        return self.photos or self.folder


CONFIG = web.AppKey("config", ReviewConfig)
FINDER = web.AppKey("finder", PhotoFinder)
SAVE_LOCK = web.AppKey("save_lock", asyncio.Lock)


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers={"Cache-Control": "no-store"})


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_NAMES or host.startswith("127.")


def host_name(host: str) -> str:
    """The name of a Host header, without its port ("[::1]:8790" -> "[::1]")."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    config = request.app[CONFIG]
    if is_loopback(config.host):
        asked = host_name(request.host or "")
        if not is_loopback(asked):
            return error(421, f"this review page answers only requests to {config.host} (Host {request.host!r})")
    set_cookie = False
    if config.token is not None:
        given = (request.query.get("token") or request.headers.get(TOKEN_HEADER)
                 or request.cookies.get(TOKEN_COOKIE) or "")
        if not hmac.compare_digest(given.encode(), config.token.encode()):
            return error(401, "a token is required: open the URL `picloss review` printed (…/?token=…)")
        set_cookie = request.query.get("token") is not None
    if request.method not in ("GET", "HEAD") and request.headers.get(PAGE_HEADER) != "1":
        return error(403, f"a change must come from the review page itself (header {PAGE_HEADER})")
    try:
        response = await handler(request)
    except Refused as exc:
        response = error(exc.status, exc.message)
    except web.HTTPException as exc:
        response = error(exc.status, exc.reason if exc.status != 404 else f"{request.path}: not found")
    except Exception as exc:  # a bug: say so, keep serving
        log.exception("review page: %s %s failed", request.method, request.path)
        response = error(500, f"internal error: {exc.__class__.__name__}: {exc}")
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if set_cookie and config.token is not None:
        response.set_cookie(TOKEN_COOKIE, config.token, httponly=True, samesite="Strict", path="/")
    return response


# -------------------------------------------------------------------------------------------- page and assets

async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Content-Type": "text/html; charset=utf-8",
                                                           "Cache-Control": "no-store"})


async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    assets = {p.name: p for p in STATIC.iterdir() if p.is_file() and p.suffix in ASSET_TYPES}
    if name not in assets:
        return error(404, f"/static/{name}: no such asset")
    path = assets[name]
    return web.FileResponse(path, headers={"Content-Type": f"{ASSET_TYPES[path.suffix]}; charset=utf-8"})


# -------------------------------------------------------------------------------------------- API

async def meta(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    return web.json_response({"folder": str(config.folder), "components": views.components(),
                              "degrees": [{"id": "repair", "zh": "修"}, {"id": "replace", "zh": "换"}],
                              "keys": [{"key": k, "what": w} for k, w in KEYS],
                              "limits": {"max_photo_bytes": config.limits.max_photo_bytes,
                                         "max_pixels": config.limits.max_pixels}})


async def claims(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    listed = await asyncio.to_thread(list_claims, config.folder)
    out = []
    for claim in listed:
        item = describe(claim)
        saved_path = review_state.state_path(config.folder, claim.id)
        item["saved"] = saved_path.exists()
        out.append(item)
    return web.json_response({"claims": out}, headers={"Cache-Control": "no-store"})


def _claim(request: web.Request) -> ClaimFile:
    claim_id = request.match_info["claim"]
    config = request.app[CONFIG]
    path = config.folder / f"{claim_id}.json"
    if not CLAIM_ID.fullmatch(claim_id) or not path.is_file():
        raise Refused(404, f"claim {claim_id!r}: no such callback file in the folder")
    claim = load_claim(path)
    if claim.callback is None:
        raise Refused(422, claim.error or "not a callback")
    return claim


async def claim(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    found = _claim(request)
    view = await asyncio.to_thread(views.claim_view, config.folder, found, request.app[FINDER])
    return web.json_response(view, headers={"Cache-Control": "no-store"})


async def save(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    found = _claim(request)
    assert found.callback is not None
    if request.content_length is not None and request.content_length > MAX_SAVE_BYTES:
        return error(413, f"a review of {request.content_length} bytes is over {MAX_SAVE_BYTES // 2**20} MiB")
    raw = await request.content.read(MAX_SAVE_BYTES + 1)
    if len(raw) > MAX_SAVE_BYTES:
        return error(413, f"a review over {MAX_SAVE_BYTES // 2**20} MiB is refused")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return error(400, f"the review is not JSON ({exc}); nothing saved")
    infos = await asyncio.to_thread(views.photo_infos, found, request.app[FINDER])
    try:
        checked = review_state.validate(body, found.callback, views.sizes(infos))
    except review_state.StateError as exc:
        return error(400, f"{exc}; nothing saved")
    base = body.get("revision")
    async with request.app[SAVE_LOCK]:
        try:
            current = review_state.load(config.folder, found.id)
        except review_state.StateError as exc:
            return error(409, f"{exc}; nothing saved")
        now = int((current or {}).get("revision", 0))
        if base != now:
            return error(409, f"the review was saved elsewhere since this page loaded it (revision {now}, the page "
                              f"had {base}); reload the page; nothing saved")
        written = await asyncio.to_thread(review_state.save, config.folder, found.id, found.callback, checked,
                                          now + 1)
    reviewed = sum(review_state.is_reviewed(p) for p in written["photos"].values())
    return web.json_response({"revision": written["revision"], "saved_at": written["saved_at"],
                              "reviewed_photos": reviewed, "path": str(review_state.state_path(config.folder,
                                                                                               found.id))})


async def _exported(request: web.Request) -> tuple[ClaimFile, views.Exported] | web.Response:
    """The claim's export (`?include_unreviewed=1`: also the photos not reviewed), or the error to answer."""
    include = request.query.get("include_unreviewed") in ("1", "true")
    found = _claim(request)
    try:
        return found, await asyncio.to_thread(views.export, request.app[CONFIG].folder, [found],
                                              request.app[FINDER], include)
    except review_state.StateError as exc:
        return error(409, str(exc))


async def export(request: web.Request) -> web.Response:
    """Write `review/<claim>.coco.json` (and `.documents.json`) in the folder."""
    done = await _exported(request)
    if isinstance(done, web.Response):
        return done
    found, exported = done
    target = review_state.state_path(request.app[CONFIG].folder, found.id).with_suffix(".coco.json")
    coco_path, docs_path = await asyncio.to_thread(views.write_export, exported, target)
    return web.json_response({"coco": str(coco_path), "documents": str(docs_path), "photos": exported.photos,
                              "boxes": exported.boxes, "corrections": len(exported.documents)})


async def coco_download(request: web.Request) -> web.Response:
    done = await _exported(request)
    if isinstance(done, web.Response):
        return done
    found, exported = done
    return web.json_response(exported.coco, dumps=lambda o: json.dumps(o, ensure_ascii=False), headers={
        "Content-Disposition": f'attachment; filename="{found.id}.coco.json"', "Cache-Control": "no-store"})


async def photo(request: web.Request) -> web.StreamResponse:
    rel = request.query.get("path", "")
    path = await asyncio.to_thread(request.app[FINDER].serve, rel)
    return web.FileResponse(path, headers={"Cache-Control": "private, max-age=60"})


async def not_found(request: web.Request) -> web.Response:
    return error(404, f"{request.path}: not found")


def create_app(config: ReviewConfig) -> web.Application:
    if config.token is None and not is_loopback(config.host):
        raise ValueError(f"binding {config.host} needs a token (only 127.0.0.1 may go without one)")
    if not config.folder.is_dir():
        raise ValueError(f"{config.folder}: not a folder")
    if not config.photos_root.is_dir():
        raise ValueError(f"--photos {config.photos_root}: not a folder")
    app = web.Application(middlewares=[guard], client_max_size=MAX_SAVE_BYTES)
    app[CONFIG] = config
    app[FINDER] = PhotoFinder(config.photos_root, config.limits)
    app[SAVE_LOCK] = asyncio.Lock()
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", asset)
    app.router.add_get("/api/meta", meta)
    app.router.add_get("/api/claims", claims)
    app.router.add_get("/api/claims/{claim}", claim)
    app.router.add_post("/api/claims/{claim}/review", save)
    app.router.add_post("/api/claims/{claim}/export", export)
    app.router.add_get("/api/claims/{claim}/coco", coco_download)
    app.router.add_get("/photo", photo)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app
