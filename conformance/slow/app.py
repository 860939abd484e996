"""The app the slowhttptest runs are served by (docs/conformance.md, "Slow clients").

``GET /`` answers 16 MiB in 64 KiB pieces, more than the kernel's send buffer holds
(``tcp_wmem`` allows 4 MiB), so that a client that reads slowly fills the server's
own send buffer (slow read, ``-X``); anything else reads the whole body, then answers
200 with a short body (slow body, ``-B``, and the probe).
"""

from __future__ import annotations

from typing import Any

_CHUNK = b"x" * 65536
_CHUNKS = 256  # 16 MiB


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while True:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            break
    big = scope["method"] == "GET" and scope["path"] == "/"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    if not big:
        await send({"type": "http.response.body", "body": b"ok"})
        return
    for _ in range(_CHUNKS - 1):
        await send({"type": "http.response.body", "body": _CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": _CHUNK})
