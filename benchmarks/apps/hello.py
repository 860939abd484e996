"""ASGI hello world for the ``h1``, ``close`` and ``h2c`` benchmarks.

Answers every HTTP request with a 13-byte ``text/plain`` body and handles lifespan, so
every server under test does the same work. Stdlib only: it also runs under the peers'
virtualenv, which does not have this project installed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BODY = b"Hello, world!"
START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
}
END: Message = {"type": "http.response.body", "body": BODY}


async def lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown, nothing else."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    """Send the canned response without reading the (empty) request body."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    await send(START)
    await send(END)
