"""Starlette's ``FileResponse`` of a 1 MiB file, for the ``file`` and ``file-readloop`` benchmarks.

``app`` is the response as Starlette sends it: with ``http.response.pathsend`` where the
server advertises it (ours: ``os.sendfile`` on plain HTTP/1.1; granian), with its own
read loop (64 KiB reads in a worker thread, one ``http.response.body`` each) elsewhere.
``readloop`` hides the extension from Starlette, so every server runs that read loop:
the two tests side by side show what pathsend saves on the same server.

The file is written once, next to the system's temporary files, with fixed content.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import FileResponse

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SIZE = 1024 * 1024
PATH = os.path.join(tempfile.gettempdir(), "hypercorn-bench-1mib.bin")


def _ensure_file() -> None:
    if not os.path.exists(PATH) or os.path.getsize(PATH) != SIZE:
        block = bytes(range(256)) * 4096  # 1 MiB
        with open(PATH + ".tmp", "wb") as file:
            file.write(block)
        os.replace(PATH + ".tmp", PATH)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _ensure_file()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await FileResponse(PATH, media_type="application/octet-stream")(scope, receive, send)


async def readloop(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        extensions = {
            name: value
            for name, value in scope.get("extensions", {}).items()
            if name != "http.response.pathsend"
        }
        scope = {**scope, "extensions": extensions}
    await app(scope, receive, send)
