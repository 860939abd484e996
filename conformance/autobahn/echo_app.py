"""The ASGI app the Autobahn|Testsuite fuzzing client talks to: a WebSocket echo.

Every text message goes back as text and every binary message as binary, unchanged
and in order. Lifespan is answered so the server starts cleanly; a plain HTTP request
gets a short 200 so the port can be probed with curl.
"""

from __future__ import annotations

from hypercorn_protocol.typing import (
    ASGIReceive as Receive,
    ASGIScope,
    ASGISend as Send,
    Message,
)

__all__ = ["app"]

_HELLO = b"WebSocket echo for Autobahn|Testsuite\n"


async def app(scope: ASGIScope, receive: Receive, send: Send) -> None:
    """Serve one connection, request or lifespan; see the module docstring."""
    kind = scope["type"]
    if kind == "websocket":
        await _echo(receive, send)
    elif kind == "lifespan":
        await _lifespan(receive, send)
    elif kind == "http":
        await _hello(receive, send)


async def _echo(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif kind == "websocket.receive":
            reply: Message = {"type": "websocket.send"}
            # Exactly one of the two keys carries the payload; keep the frame type.
            if message.get("text") is not None:
                reply["text"] = message["text"]
            else:
                reply["bytes"] = message.get("bytes") or b""
            await send(reply)
        elif kind == "websocket.disconnect":
            return


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _hello(receive: Receive, send: Send) -> None:
    # Read the whole request body first so keep-alive stays usable.
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = bool(message.get("more_body"))
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(_HELLO)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _HELLO})
