"""Telling the app that its client has gone, on every backend.

A client that closes (or half-closes) after a complete request must reach an app
waiting in ``receive()``; several ``receive()`` calls pending on one stream must all
be served, in order; Starlette's own disconnect detection must work.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import h2.config
import h2.connection
import h2.events
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route
from websockets.sync.client import connect as ws_connect

from hypercorn_protocol.typing import ASGIScope, Message
from tests.helpers.server import make_config, run_server

pytestmark = pytest.mark.usefixtures("http1_wire")  # every test on each HTTP/1.1 wire


async def wait_for_disconnect_then_answer(scope: ASGIScope, receive: Any, send: Any) -> None:
    """Long polling: hold the request until the client goes, then still answer."""
    if scope["type"] != "http":
        return
    request = await receive()
    assert request["type"] == "http.request"
    gone = await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"got " + gone["type"].encode()})


def _read_until_eof(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_half_closed_client_disconnects_app_and_still_reads_the_response(
    loop_name: str,
) -> None:
    with (
        run_server(wait_for_disconnect_then_answer, make_config(), loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
    ):
        sock.sendall(b"GET /poll HTTP/1.1\r\nhost: x\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        response = _read_until_eof(sock)  # times out if the app never hears of the EOF
    assert response.startswith(b"HTTP/1.1 200 ")
    assert response.endswith(b"got http.disconnect")


# -- several receive() calls pending on one stream -----------------------------------------


async def two_receivers(scope: ASGIScope, receive: Any, send: Any) -> None:
    """Start a second ``receive()`` while the first one still waits; report what each got.

    For HTTP the answer lists ``<caller>:<type>:<body>``, for a WebSocket the texts.
    """
    if scope["type"] not in ("http", "websocket"):
        return
    if scope["type"] == "websocket":
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
    got: list[tuple[int, Message]] = []

    async def take(caller: int) -> None:
        got.append((caller, await receive()))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(take, 1)
            await anyio.sleep(0.05)  # the first caller is waiting before the second starts
            group.start_soon(take, 2)
    got.sort(key=lambda pair: pair[0])  # the order the calls were made
    if scope["type"] == "websocket":
        await send({"type": "websocket.send", "text": " ".join(m["text"] for _, m in got)})
        await send({"type": "websocket.close", "code": 1000})
        return
    answer = " ".join(f"{caller}:{m['type']}:{m.get('body', b'').decode()}" for caller, m in got)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": answer.encode()})


def test_two_pending_receives_http11(loop_name: str) -> None:
    with (
        run_server(two_receivers, make_config(), loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
    ):
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n")
        time.sleep(0.3)  # both receive() calls are waiting now
        sock.sendall(b"hello")
        time.sleep(0.1)
        sock.shutdown(socket.SHUT_WR)
        response = _read_until_eof(sock)
    assert response.startswith(b"HTTP/1.1 200 ")
    assert response.endswith(b"1:http.request:hello 2:http.disconnect:")


def test_two_pending_receives_http2(loop_name: str) -> None:
    with run_server(two_receivers, make_config(), loop_name) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        conn.initiate_connection()
        headers = [(b":method", b"POST"), (b":path", b"/"), (b":scheme", b"http")]
        conn.send_headers(1, [*headers, (b":authority", b"x")])
        sock.sendall(conn.data_to_send())
        time.sleep(0.3)
        conn.send_data(1, b"one")
        sock.sendall(conn.data_to_send())
        time.sleep(0.1)
        conn.send_data(1, b"two", end_stream=True)
        sock.sendall(conn.data_to_send())
        body = b""
        ended = False
        while not ended:
            data = sock.recv(65536)
            assert data, "connection closed before the response"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    body += event.data or b""
                ended = ended or isinstance(event, h2.events.StreamEnded)
            sock.sendall(conn.data_to_send())
        sock.close()
    assert body == b"1:http.request:one 2:http.request:two"


def test_two_pending_receives_websocket(loop_name: str) -> None:
    with run_server(two_receivers, make_config(), loop_name) as server:
        port = server.port
        with ws_connect(f"ws://127.0.0.1:{port}/", open_timeout=5) as ws:
            time.sleep(0.3)
            ws.send("first")
            time.sleep(0.1)
            ws.send("second")
            assert ws.recv(timeout=5) == "first second"


# -- Starlette ------------------------------------------------------------------------------


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def starlette_streaming_app(record: Path, *, middleware: bool) -> Any:
    """A StreamingResponse that streams until the client goes (server-sent events).

    After the first event nothing more is sent, so no failing write can reveal that the
    client left: only ``http.disconnect`` (Starlette listens for it) can.
    """

    async def forever(request: Request) -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            try:
                yield b"tick\n"
                while not await request.is_disconnected():
                    await anyio.sleep(0.02)
            finally:
                with record.open("a") as file:
                    file.write("generator closed\n")

        return StreamingResponse(events(), media_type="text/plain")

    async def status(request: Request) -> PlainTextResponse:
        return PlainTextResponse(_read(record))

    async def passthrough(request: Request, call_next: Any) -> Any:
        return await call_next(request)

    starlette = Starlette(
        routes=[Route("/forever", forever), Route("/status", status)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=passthrough)] if middleware else [],
    )

    async def app(scope: ASGIScope, receive: Any, send: Any) -> None:
        await starlette(scope, receive, send)
        if scope["type"] == "http" and scope["path"] == "/forever":
            with record.open("a") as file:
                file.write("app returned\n")

    return app


# Starlette's own request-stream generator, left unfinished when its task is cancelled,
# is collected with a ResourceWarning under trio on Python 3.10 (no asyncgen hooks there).
@pytest.mark.filterwarnings(
    "ignore:Async generator 'starlette.requests.Request.stream' was garbage collected"
)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("middleware", [False, True], ids=["plain", "base-http-middleware"])
def test_starlette_notices_the_client_going(
    loop_name: str, tmp_path: Path, middleware: bool
) -> None:
    record = tmp_path / "record.txt"
    app = starlette_streaming_app(record, middleware=middleware)
    with run_server(app, make_config(), loop_name) as server:
        with httpx.stream("GET", server.url + "/forever", timeout=5) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                assert line == "tick"
                break  # leaving the block closes the connection mid-stream
        deadline = time.monotonic() + 5
        seen = ""
        while time.monotonic() < deadline:
            seen = httpx.get(server.url + "/status", timeout=5).text
            if "app returned" in seen:
                break
            time.sleep(0.05)
    assert seen == "generator closed\napp returned\n"
