"""A complete integration in one file, to copy: submit a claim, receive its signed callback, read it.

    python -m picloss.client.sdk.example https://cos.example.com/claims/c1/1.jpg https://cos.example.com/claims/c1/2.jpg

Credentials come from PICLOSS_GATEWAY_URL / PICLOSS_APPID / PICLOSS_MCHID / PICLOSS_KEY (/ PICLOSS_CA_CERT)
or the `.run/picloss.env` that `make up` writes. The callback endpoint listens on 127.0.0.1:8788; in
production it is your HTTPS endpoint and `callback_url` its public URL.
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from picloss.client.sdk import Callback, Client, load_credentials, parse_callback, verify

CALLBACK_PORT = 8788


def handle_callback(raw_body: bytes, signature: str | None, key: str) -> tuple[int, bytes, Callback | None]:
    """What your callback endpoint does: verify the exact bytes, parse, store idempotently by
    accept_seqno (the same callback may come twice), answer 200 with result_code SUCCESS.
    A non-2xx answer makes the service retry (at most 6 times)."""
    if not verify(raw_body, signature, key):
        return 401, b'{"result_code":"SIGN_ERROR"}', None
    callback = parse_callback(raw_body)
    # store(callback.accept_seqno, raw_body)  ← your database, keyed by accept_seqno
    return 200, b'{"result_code":"SUCCESS"}', callback


def print_callback(callback: Callback) -> None:
    print(f"{callback.accept_seqno}: {callback.result_code} ({callback.mode})")
    for f in callback.files:
        print(f"  {f.file.name}: {f.image_class} – {f.result_text}")
    for doc in callback.documents:
        print(f"  {doc.kind}: " + ", ".join(f"{fl.name}={fl.value}" for fl in doc.fields))
    for loss in callback.single_loss:
        for d in loss.damages:
            part = d.main_part
            print(f"  {loss.file.name}: {part.component if part else 'no part'} – {d.degree} ({d.degree_score})")
    if callback.batch_loss:
        for e in callback.batch_loss.entries:
            print(f"  {e.component} – {e.degree}, seen on {len(e.photos)} photo(s)")


def main(urls: list[str]) -> int:
    credentials = load_credentials()
    client = Client(credentials)
    received: list[Callback] = []

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer, callback = handle_callback(raw, self.headers.get("Signature"), credentials.key)
            self.send_response(status)
            self.send_header("Content-Type", "text/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            if callback is not None:
                received.append(callback)

    with HTTPServer(("127.0.0.1", CALLBACK_PORT), Endpoint) as server:
        accepted = client.submit(urls, mode="BATCH", callback_url=f"http://127.0.0.1:{CALLBACK_PORT}/callback")
        print(f"accepted: {accepted.accept_seqno}")
        while not any(c.accept_seqno == accepted.accept_seqno for c in received):
            server.handle_request()
    print_callback(received[-1])
    print(f"state: {client.query(accept_seqno=accepted.accept_seqno).state}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
