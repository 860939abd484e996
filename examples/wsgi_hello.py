"""The smallest WSGI app: ``hypercorn examples.wsgi_hello:app`` (detected as WSGI)."""

from __future__ import annotations

from collections.abc import Iterable

from hypercorn_protocol.typing import StartResponse, WSGIEnviron


def app(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
    """Greet the caller by request path."""
    body = f"Hello from WSGI at {environ['PATH_INFO']}\n".encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
