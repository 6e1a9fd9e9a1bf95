"""Two small local HTTP servers of the standard library: a photo server (so local files can be submitted
by URL) and a callback receiver that verifies every signature and answers per PROTOCOL §5."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from picloss.client.sdk._protocol import pjson, signing

PHOTO_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
               ".bmp": "image/bmp"}
MAX_CALLBACK_BYTES = 64 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _serve(handler: type[BaseHTTPRequestHandler], host: str, port: int) -> tuple[_Server, threading.Thread]:
    server = _Server((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, name=f"picloss-{handler.__name__}", daemon=True)
    thread.start()
    return server, thread


class PhotoServer:
    """Serves local photos at http://HOST:PORT/photos/<name> until `close()`; `file_descs()` gives the
    request's `file_desc`s with their md5 (so the service checks what it downloaded)."""

    def __init__(self, paths: Iterable[str | Path], host: str = "127.0.0.1", port: int = 0,
                 public_host: str | None = None) -> None:
        self.photos: dict[str, Path] = {}
        for path in map(Path, paths):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
            name = path.name if path.name not in self.photos else f"{len(self.photos)}-{path.name}"
            self.photos[urllib.parse.quote(name)] = path
        self.downloads: dict[str, int] = dict.fromkeys(self.photos, 0)
        photos, downloads = self.photos, self.downloads

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.removeprefix("/photos/").split("?", 1)[0]
                path = photos.get(name) if self.path.startswith("/photos/") else None
                if path is None:
                    self.send_error(404)
                    return
                data = path.read_bytes()
                downloads[name] += 1
                self.send_response(200)
                self.send_header("Content-Type", PHOTO_TYPES.get(path.suffix.lower(), "application/octet-stream"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server, self._thread = _serve(Handler, host, port)
        self.host = public_host or host
        self.port = int(self._server.server_address[1])

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.port}/photos/{name}"

    def file_descs(self) -> list[dict[str, str]]:
        return [{"fileurl": self.url(name),
                 "filemd5": hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()}
                for name, path in self.photos.items()]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> PhotoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Delivery:
    """One callback as it arrived: the exact bytes, the signature header, whether it verified, the answer."""

    raw: bytes
    signature: str | None
    verified: bool
    body: dict[str, Any] | None
    path: str
    at: float
    answer_status: int
    forward_status: int | None = None
    forward_error: str | None = None

    @property
    def accept_seqno(self) -> str:
        return str((self.body or {}).get("accept_seqno", ""))


def _reply(status: int, body: dict[str, Any], key: str | None) -> tuple[int, bytes, dict[str, str]]:
    raw = pjson.dumps(body)
    headers = {"Content-Type": "text/json; charset=utf-8"}
    if key:
        headers[signing.SIGNATURE_HEADER] = signing.sign(raw, key)
    return status, raw, headers


def forward(url: str, raw: bytes, signature: str | None, timeout_s: float = 10.0) -> tuple[int, bytes, str | None]:
    """POST the callback's exact bytes and Signature to `url`; (status, body, error) — status 502 when no
    HTTP answer came."""
    headers = {"Content-Type": "text/json"}
    if signature:
        headers[signing.SIGNATURE_HEADER] = signature
    request = urllib.request.Request(url, data=raw, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            return resp.status, resp.read(), None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), None
    except (urllib.error.URLError, OSError) as exc:
        return 502, b"", str(getattr(exc, "reason", exc))


class CallbackListener:
    """Receives callbacks on http://HOST:PORT/<any path>.

    A body whose `Signature` verifies under `keys` is answered HTTP 200 `{"result_code":"SUCCESS"}`
    (or, with `forward_url`, whatever that endpoint answers: the dispatcher then retries when the
    integrator's endpoint fails); any other is answered 401 SIGN_ERROR, so the service retries it and it
    is never taken for a result. Every delivery goes to `on_delivery` and to the `deliveries` queue.
    """

    def __init__(self, keys: Sequence[str], host: str = "127.0.0.1", port: int = 0,
                 forward_url: str | None = None, on_delivery: Callable[[Delivery], None] | None = None,
                 public_host: str | None = None) -> None:
        self.keys = list(keys)
        self.forward_url = forward_url
        self.deliveries: queue.Queue[Delivery] = queue.Queue()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_CALLBACK_BYTES:
                    self._send(*_reply(413, {"result_code": "BODY_TOO_LARGE", "result_msg": ""}, None))
                    return
                raw = self.rfile.read(length)
                status, reply, headers, delivery = listener._handle(raw, self.headers.get(signing.SIGNATURE_HEADER),
                                                                    self.path)
                self._send(status, reply, headers)
                listener.deliveries.put(delivery)
                if on_delivery is not None:
                    on_delivery(delivery)

            def _send(self, status: int, raw: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server, self._thread = _serve(Handler, host, port)
        self.host = public_host or host
        self.port = int(self._server.server_address[1])

    def url(self, path: str = "/callback") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def _handle(self, raw: bytes, signature: str | None,
                path: str) -> tuple[int, bytes, dict[str, str], Delivery]:
        verified = bool(signing.verify(raw, signature, self.keys))
        try:
            body = json.loads(raw)
            body = body if isinstance(body, dict) else None
        except ValueError:
            body = None
        key = self.keys[0] if self.keys else None
        fstatus: int | None = None
        ferror: str | None = None
        if not verified:
            status, reply, headers = _reply(401, {"result_code": "SIGN_ERROR",
                                                  "result_msg": "Signature missing or wrong"}, key)
        elif self.forward_url:
            fstatus, freply, ferror = forward(self.forward_url, raw, signature)
            status, reply, headers = fstatus, freply, {"Content-Type": "text/json; charset=utf-8"}
        else:
            status, reply, headers = _reply(200, {"result_code": "SUCCESS", "result_msg": ""}, key)
        return status, reply, headers, Delivery(raw, signature, verified, body, path, time.time(), status,
                                                fstatus, ferror)

    def wait_for(self, accept_seqno: str, timeout_s: float) -> Delivery:
        """The first verified delivery of `accept_seqno` (others stay queued for later callers);
        `TimeoutError` after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        skipped: list[Delivery] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no verified callback for {accept_seqno} within {timeout_s:.0f}s")
                try:
                    d = self.deliveries.get(timeout=left)
                except queue.Empty:
                    continue
                if d.verified and d.accept_seqno == accept_seqno:
                    return d
                skipped.append(d)
        finally:
            for d in skipped:
                self.deliveries.put(d)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CallbackListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def save_delivery(delivery: Delivery, folder: Path) -> Path:
    """Write the exact bytes to DIR/<accept_seqno>.json and the Signature beside it (<...>.json.sig), so
    `picloss verify DIR/<accept_seqno>.json` checks it later; an unverified one goes to DIR/rejected/."""
    folder.mkdir(parents=True, exist_ok=True)
    seqno = "".join(ch for ch in delivery.accept_seqno if ch.isalnum() or ch in "-_")[:64]
    if delivery.verified and seqno:
        target = folder / f"{seqno}.json"
    else:
        (folder / "rejected").mkdir(exist_ok=True)
        target = folder / "rejected" / f"{time.strftime('%Y%m%dT%H%M%S')}-{int(delivery.at * 1000) % 1000:03d}.json"
    target.write_bytes(delivery.raw)
    target.with_name(target.name + ".sig").write_text((delivery.signature or "") + "\n")
    return target
