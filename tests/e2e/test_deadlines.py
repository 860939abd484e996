"""Deadlines and the body limit over real sockets, on every backend.

A head trickled byte by byte, a body that stops, a client that never reads a large
response (HTTP/1.1 and WebSocket), a declared and a chunked body over the limit
(HTTP/1.1 and HTTP/2 with prior knowledge).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import pytest

from hypercorn_protocol.typing import ASGIScope
from tests.helpers.server import make_config, run_server


class Recorder:
    """An app that reads the whole body, answers 200 and notes what it saw."""

    def __init__(self) -> None:
        self.calls = 0
        self.messages: list[str] = []
        self.done = threading.Event()

    async def __call__(self, scope: ASGIScope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.calls += 1
        try:
            while True:
                message = await receive()
                self.messages.append(message["type"])
                if message["type"] == "http.disconnect" or not message.get("more_body"):
                    break
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        finally:
            self.done.set()


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


_WEBSOCKET_HEAD = (
    b"host: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n"
    b"sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
)


@pytest.mark.parametrize(
    ("request_line", "head", "piece"),
    [
        (b"GET / HTTP/1.1\r\n", b"host: x\r\nx-slow: 1234567890", 1),
        (b"GET /ws HTTP/1.1\r\n", _WEBSOCKET_HEAD, 8),  # a WebSocket handshake is a head too
    ],
    ids=["http", "websocket"],
)
def test_a_trickled_head_gets_408_at_the_header_deadline(
    loop_name: str, request_line: bytes, head: bytes, piece: int
) -> None:
    app = Recorder()
    config = make_config(request_header_timeout=1.0, keep_alive_timeout=30)
    with (
        run_server(app, config, loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        started = time.monotonic()
        sock.sendall(request_line)
        for start in range(0, len(head), piece):  # every piece 0.1 s after the last
            try:
                sock.sendall(head[start : start + piece])
            except OSError:
                break  # the server closed
            time.sleep(0.1)
        response = _read_all(sock)
        elapsed = time.monotonic() - started
    assert response.startswith(b"HTTP/1.1 408 ")
    assert 0.9 <= elapsed < 4.0
    assert app.calls == 0


def test_a_stalled_body_gets_408_and_the_app_hears_disconnect(loop_name: str) -> None:
    app = Recorder()
    with (
        run_server(app, make_config(request_body_timeout=1.0), loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        started = time.monotonic()
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789")
        response = _read_all(sock)
        elapsed = time.monotonic() - started
        assert app.done.wait(5)
    assert response.startswith(b"HTTP/1.1 408 ")
    assert 0.9 <= elapsed < 4.0
    assert app.messages[-1] == "http.disconnect"


class Streamer:
    """Sends 1 MiB chunks until its send has nothing left to wait for (the client is gone)."""

    def __init__(self) -> None:
        self.ended_at: float | None = None
        self.sent_at: list[float] = []  # when each send returned

    async def __call__(self, scope: ASGIScope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        chunk = b"x" * (1 << 20)
        try:
            if scope["type"] == "websocket":
                await receive()
                await send({"type": "websocket.accept"})
                for _ in range(2048):
                    await send({"type": "websocket.send", "bytes": chunk})
                    self.sent_at.append(time.monotonic())
            elif scope["type"] == "http":
                await receive()
                await send({"type": "http.response.start", "status": 200, "headers": []})
                for _ in range(2048):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    self.sent_at.append(time.monotonic())
        finally:
            self.ended_at = time.monotonic()


@pytest.mark.parametrize("kind", ["http", "websocket"])
def test_a_client_that_never_reads_is_cut_at_the_write_deadline(loop_name: str, kind: str) -> None:
    app = Streamer()
    request = (
        b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"
        if kind == "http"
        else b"GET /ws HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n"
        b"sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    with run_server(app, make_config(response_write_timeout=1.0), loop_name) as server:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", server.port))
        with sock:
            started = time.monotonic()
            sock.sendall(request)
            deadline = started + 15
            while app.ended_at is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert app.ended_at is not None, "the app's send never ended"
            # the buffers filled within the first chunks, then the send waited 1 s
            assert 0.9 <= app.ended_at - started < 6.0
            early = [at for at in app.sent_at if at < started + 0.8]
            assert len(early) < 64, "the server kept buffering for a client that does not read"
            sock.settimeout(5)
            _read_all(sock)  # ends: the connection is closed (reset), not left open


def test_content_length_over_the_limit_is_413_without_the_app(loop_name: str) -> None:
    app = Recorder()
    with run_server(app, make_config(max_request_body_size=1024), loop_name) as server:
        response = httpx.post(server.url, content=b"x" * 2048, timeout=10)
        ok = httpx.post(server.url, content=b"x" * 1024, timeout=10)
    assert response.status_code == 413
    assert ok.status_code == 200
    assert app.calls == 1


def test_a_chunked_body_over_the_limit_is_413(loop_name: str) -> None:
    app = Recorder()
    with (
        run_server(app, make_config(max_request_body_size=1024), loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
        try:
            for _ in range(4):
                sock.sendall(b"200\r\n" + b"x" * 512 + b"\r\n")
        except OSError:
            pass
        response = _read_all(sock)
        assert app.done.wait(5)
    assert response.startswith(b"HTTP/1.1 413 ")
    assert app.messages[-1] == "http.disconnect"


def test_http2_bodies_over_the_limit_are_413(loop_name: str) -> None:
    app = Recorder()
    with (
        run_server(app, make_config(max_request_body_size=1024), loop_name) as server,
        httpx.Client(http1=False, http2=True, timeout=10) as client,
    ):
        declared = client.post(server.url, content=b"x" * 2048)

        def chunks() -> Any:
            for _ in range(4):
                yield b"x" * 512

        streamed = client.post(server.url, content=chunks())
        ok = client.post(server.url, content=b"x" * 10)
    assert declared.http_version == "HTTP/2"
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert ok.status_code == 200


class WSGIRecorder:
    """A WSGI app answering the length of the body it read."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.calls += 1
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("content-type", "text/plain")])
        return [str(len(body)).encode()]


@pytest.mark.parametrize(
    "limits",
    [
        {"max_request_body_size": 1024},  # lowers wsgi_max_body_size's 16 MiB
        {"wsgi_max_body_size": 1024},  # 0.18's option, alone
        {"max_request_body_size": 1024, "wsgi_max_body_size": 4096},
        {"max_request_body_size": 8192, "wsgi_max_body_size": 1024},
    ],
    ids=["max_request_body_size", "wsgi_max_body_size", "generic-smaller", "wsgi-smaller"],
)
def test_a_wsgi_app_gets_the_smaller_body_limit(loop_name: str, limits: dict[str, int]) -> None:
    app = WSGIRecorder()

    def chunked(size: int) -> Any:
        for _ in range(size // 512):
            yield b"x" * 512

    with (
        run_server(app, make_config(**limits), loop_name) as server,
        httpx.Client(timeout=10) as client,
    ):
        declared = client.post(server.url, content=b"x" * 2048)
        streamed = client.post(server.url, content=chunked(2048))
        calls_refused = app.calls
        within = client.post(server.url, content=chunked(1024))
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert within.status_code == 200
    assert within.text == "1024"
    assert app.calls - calls_refused == 1


def test_a_client_still_sending_a_refused_body_reads_the_413(loop_name: str) -> None:
    # The client sends its whole 8 MiB body before it reads anything, as simple clients
    # do. Closing with that body unread would make the kernel reset the connection and
    # destroy the 413 in the client's receive buffer: the server lingers instead.
    app = Recorder()
    body = b"x" * (8 << 20)
    with (
        run_server(app, make_config(max_request_body_size=1024), loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % len(body))
        sock.sendall(body)
        sock.shutdown(socket.SHUT_WR)
        response = _read_all(sock)
    assert response.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in response.lower()
    assert app.calls == 0
