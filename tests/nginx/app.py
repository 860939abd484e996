"""The app the nginx tests serve: ``/raw/...`` sees the connection as it arrives from
nginx, everything else goes through ``ProxyFixMiddleware`` (one trusted proxy)."""

from __future__ import annotations

import hashlib
import json
import os
import random

from hypercorn.middleware import ProxyFixMiddleware
from hypercorn_protocol.typing import ASGIReceive, ASGIScope, ASGISend
from tests.helpers.lifespan import serve_lifespan


def body_of(size: int) -> bytes:
    return random.Random(size).randbytes(size)


async def inner(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    headers = {name.decode(): value.decode() for name, value in scope["headers"]}
    seen = {
        "client": list(scope["client"]) if scope.get("client") else None,
        "scheme": scope["scheme"],
        "host": headers.get("host"),
        "pid": os.getpid(),
        "http_version": scope["http_version"],
    }
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(seen)})
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": "echo " + (message.get("text") or "")})
        return
    path = scope["path"].removeprefix("/raw")
    body = b""
    if path == "/upload":
        digest = hashlib.sha256()
        size = 0
        more = True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            digest.update(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
        body = json.dumps({"sha256": digest.hexdigest(), "size": size}).encode()
    elif path.startswith("/download/"):
        body = body_of(int(path.rsplit("/", 1)[1]))
    else:
        body = json.dumps(seen).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


fixed = ProxyFixMiddleware(inner, mode="legacy", trusted_hops=1)


async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
    if scope["type"] != "lifespan" and scope["path"].startswith("/raw/"):
        await inner(scope, receive, send)
    else:
        await fixed(scope, receive, send)
