"""The smallest ASGI app: ``hypercorn examples.hello:app`` serves it on 127.0.0.1:8000."""

from __future__ import annotations

from hypercorn_protocol.typing import ASGIReceive, ASGIScope, ASGISend


async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
    """Answer every HTTP request with a greeting; accept the lifespan protocol."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = b"Hello, world!\n"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
