"""The real ``hypercorn`` command serving HTTP/3, and the app every HTTP/3 test talks to."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.cli._support import Server, hypercorn_command
from tests.helpers.lifespan import LIFESPAN_SOURCE
from tests.helpers.tls import TLSFiles, write_tls_files

MIB = 1024 * 1024

#: ``/`` hello; ``/scope`` the scope as JSON; ``/download/N`` N bytes of ``pattern``;
#: ``/upload`` the length and SHA-256 of the body; ``/barrier/KEY/N[/ANY]`` answers once N
#: requests with that KEY are in the app at the same time; ``/ws`` a WebSocket echo.
APP = (
    LIFESPAN_SOURCE
    + r"""
import hashlib
import json

import anyio

BLOCK = bytes(range(251))
barriers = {}


def pattern(size):
    return (BLOCK * (size // len(BLOCK) + 1))[:size]


async def respond(send, status, body, content_type=b"text/plain"):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def websocket(scope, receive, send):
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    info = {"http_version": scope["http_version"], "scheme": scope["scheme"],
            "path": scope["path"]}
    await send({"type": "websocket.send", "text": json.dumps(info)})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "close with 4001":
            await send({"type": "websocket.close", "code": 4001, "reason": "asked to"})
            return
        await send({"type": "websocket.send", "text": message.get("text"),
                    "bytes": message.get("bytes")})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["type"] == "websocket":
        await websocket(scope, receive, send)
        return
    path = scope["path"]
    if path == "/":
        await respond(send, 200, b"hello")
    elif path == "/scope":
        info = {key: scope[key] for key in ("type", "http_version", "scheme", "method", "path")}
        info["extensions"] = sorted(scope.get("extensions") or {})
        await respond(send, 200, json.dumps(info).encode(), b"application/json")
    elif path.startswith("/download/"):
        data = pattern(int(path.rsplit("/", 1)[1]))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream"),
                                (b"content-length", str(len(data)).encode())]})
        view = memoryview(data)
        for start in range(0, len(data), 256 * 1024):
            await send({"type": "http.response.body", "body": bytes(view[start:start + 256 * 1024]),
                        "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/upload":
        digest, length = hashlib.sha256(), 0
        while True:
            message = await receive()
            body = message.get("body", b"")
            digest.update(body)
            length += len(body)
            if not message.get("more_body"):
                break
        info = {"length": length, "sha256": digest.hexdigest()}
        await respond(send, 200, json.dumps(info).encode(), b"application/json")
    elif path.startswith("/barrier/"):
        key, count = path.split("/")[2:4]
        entry = barriers.setdefault(key, [0, anyio.Event()])
        entry[0] += 1
        if entry[0] >= int(count):
            entry[1].set()
        with anyio.fail_after(50):
            await entry[1].wait()
        await respond(send, 200, b"together")
    else:
        await respond(send, 404, b"not found")
"""
)

BLOCK = bytes(range(251))


def pattern(size: int) -> bytes:
    """What ``/download/SIZE`` answers (and what the upload tests send)."""
    return (BLOCK * (size // len(BLOCK) + 1))[:size]


@dataclass
class H3Server:
    """A running ``hypercorn`` with TLS on TCP and HTTP/3 on UDP, both on free ports."""

    server: Server
    worker_class: str
    tcp_port: int
    quic_port: int
    tls: TLSFiles

    @property
    def cafile(self) -> str:
        return str(self.tls.cafile)

    def quic_url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.quic_port}{path}"

    def tcp_url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.tcp_port}{path}"


_RUNNING = re.compile(r"Running on https://127\.0\.0\.1:(\d+) \(CTRL \+ C to quit\)")
_RUNNING_QUIC = re.compile(r"Running on https://127\.0\.0\.1:(\d+) \(QUIC\)")


@contextmanager
def h3_server(directory: Path, worker_class: str, *args: str) -> Iterator[H3Server]:
    """``hypercorn h3app:app`` on ``worker_class`` with ``-b`` and ``--quic-bind`` on port 0.

    ``args`` go on the command line after those (``-c config.toml``, ``-w 2``, ...).

    On exit the server gets SIGTERM and must exit 0 without a traceback or an error line.
    """
    (directory / "h3app.py").write_text(APP)
    tls = write_tls_files(directory)
    server = Server(
        [
            *hypercorn_command(),
            "h3app:app",
            "-k",
            worker_class,
            "-b",
            "127.0.0.1:0",
            "--quic-bind",
            "127.0.0.1:0",
            "--certfile",
            str(tls.certfile),
            "--keyfile",
            str(tls.keyfile),
            *args,
        ],
        directory,
    )
    try:
        # With workers > 1 every worker says where it runs: the first line is enough.
        quic_line = server.wait_for("(QUIC)")[0]
        tcp_line = server.wait_for("(CTRL + C to quit)")[0]
        quic, tcp = _RUNNING_QUIC.search(quic_line), _RUNNING.search(tcp_line)
        assert quic is not None, quic_line
        assert tcp is not None, tcp_line
        yield H3Server(server, worker_class, int(tcp[1]), int(quic[1]), tls)
        assert server.stop(signal.SIGTERM) == 0, server.lines
        problems = [
            line
            for line in server.lines
            if "Traceback" in line or "[ERROR]" in line or "[CRITICAL]" in line
        ]
        assert problems == [], server.lines
    finally:
        server.close()
