"""The bare aiohttp baseline for `make bench`: a POST that answers a small JSON, served like the gateway
(same web.run_app, same TLS context, one process). Env: HELLO_PORT, HELLO_TLS_CERT, HELLO_TLS_KEY."""

from __future__ import annotations

from aiohttp import web

from picloss.platform.config import env_int, env_optional
from picloss.platform.httpserver import server_context


async def hello(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"result_code": "SUCCESS", "result_msg": "hello"})


def main() -> None:
    port = env_int("HELLO_PORT", 8444, minimum=1)
    cert, key = env_optional("HELLO_TLS_CERT"), env_optional("HELLO_TLS_KEY")
    app = web.Application()
    app.router.add_post("/{tail:.*}", hello)
    ssl_context = server_context(cert, key) if cert and key else None
    web.run_app(app, host="127.0.0.1", port=port, ssl_context=ssl_context, print=None, access_log=None)


if __name__ == "__main__":
    main()
