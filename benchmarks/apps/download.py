"""ASGI app for the ``h3dl`` benchmark: ``GET /bytes/N`` answers N bytes in 64 KiB chunks.

Any other path gets a 13-byte 200 (what the readiness probe needs). The body is sliced
from one preallocated buffer, so the app costs next to nothing per chunk and the figure
is the server's. Stdlib only: it also runs under the peers' virtualenv.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CHUNK = 64 * 1024
BUFFER = bytes(range(256)) * (CHUNK // 256)
LIMIT = 1024 * 1024 * 1024


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    """Stream ``N`` bytes for ``/bytes/N`` (at most 1 GiB); say hello otherwise."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path: str = scope["path"]
    digits = path[len("/bytes/") :]
    size = int(digits) if path.startswith("/bytes/") and digits.isdigit() else -1
    if not 0 <= size <= LIMIT:
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"13")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"Hello, world!"})
        return
    headers = [
        (b"content-type", b"application/octet-stream"),
        (b"content-length", str(size).encode("ascii")),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    while size > CHUNK:
        await send({"type": "http.response.body", "body": BUFFER, "more_body": True})
        size -= CHUNK
    await send({"type": "http.response.body", "body": BUFFER[:size]})
