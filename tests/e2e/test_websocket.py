"""WebSocket end to end: real sockets on 127.0.0.1, the ``websockets`` client and raw wsproto.

Apps here only ``await receive()``, ``send()`` and the conftest's backend-neutral
``sleep``, so they run unchanged on every backend in ``loop_name``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event as WSEvent,
    Ping,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate

from hypercorn_protocol.typing import ASGIScope, Message
from tests.helpers.server import make_config, run_server, sleep

pytestmark = pytest.mark.usefixtures("http1_wire")  # every test on each HTTP/1.1 wire

Receive = Any
Send = Any
MiB = 1024 * 1024


class Recorder:
    """What the app saw, readable from the test thread."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.scopes: list[ASGIScope] = []
        self.done = threading.Event()

    def wait(self, timeout: float = 10) -> None:
        assert self.done.wait(timeout), f"the app did not finish; it saw {self.messages}"

    @property
    def disconnect(self) -> Message:
        (message,) = [m for m in self.messages if m["type"] == "websocket.disconnect"]
        return message


def make_app(recorder: Recorder) -> Callable[[ASGIScope, Receive, Send], Any]:
    """An echo app whose behaviour the path picks."""

    async def app(scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        recorder.scopes.append(scope)
        try:
            await serve_websocket(scope, receive, send, recorder)
        finally:
            recorder.done.set()

    return app


async def serve_websocket(
    scope: ASGIScope, receive: Receive, send: Send, recorder: Recorder
) -> None:
    path = scope["path"]
    connect_message = await receive()
    recorder.messages.append(connect_message)
    if path == "/forbidden":
        await send({"type": "websocket.close"})
        return
    if path == "/deny":
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "websocket.http.response.start", "status": 401, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"entry"})
        return
    if path == "/handshake-error":
        raise RuntimeError("refused by a bug")
    offered = scope["subprotocols"]
    await send(
        {
            "type": "websocket.accept",
            "subprotocol": offered[-1] if offered else None,
            "headers": [(b"x-app", b"yes")],
        }
    )
    if path == "/close":
        await send({"type": "websocket.close", "code": 4321, "reason": "app says bye"})
    elif path == "/return":
        return
    elif path == "/raise":
        raise RuntimeError("app failure")
    while True:
        message = await receive()
        recorder.messages.append(message)
        if message["type"] == "websocket.disconnect":
            return
        if message["type"] == "websocket.receive":
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message["bytes"]})


@contextmanager
def serving(loop_name: str, **options: Any) -> Iterator[tuple[str, Recorder, Any]]:
    recorder = Recorder()
    with run_server(make_app(recorder), make_config(**options), loop_name) as server:
        yield f"ws://127.0.0.1:{server.port}", recorder, server


def client(url: str, **options: Any) -> ClientConnection:
    """A ``websockets`` client; use it as a context manager."""
    options.setdefault("proxy", None)
    options.setdefault("open_timeout", 5)
    options.setdefault("close_timeout", 5)
    ws: ClientConnection = connect(url, **options)
    return ws


def refused(url: str) -> InvalidStatus:
    """The handshake response of a refused connection."""
    with pytest.raises(InvalidStatus) as info, client(url):
        pass
    return info.value


def closed_by_server(ws: ClientConnection, timeout: float = 10) -> ConnectionClosed:
    """Read until the server closes; what it said in its close frame."""
    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as closed:
        return closed


# ---------------------------------------------------------------- raw wsproto
class RawClient:
    """A wsproto client on a plain socket: for what ``websockets`` would hide."""

    def __init__(self, port: int, path: str = "/") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host="127.0.0.1", target=path)))
        self.backlog: list[WSEvent] = []
        accepted, *self.backlog = self.events_until(AcceptConnection)
        assert isinstance(accepted, AcceptConnection)

    def events_until(self, kind: type[WSEvent]) -> list[WSEvent]:
        """Read until an event of ``kind`` arrives (or EOF); return all events read."""
        seen, self.backlog = self.backlog, []
        if any(isinstance(event, kind) for event in seen):
            return seen
        while True:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            for event in self.ws.events():
                seen.append(event)
            if not data or any(isinstance(event, kind) for event in seen):
                return seen

    def at_eof(self) -> bool:
        return self.sock.recv(65536) == b""

    def close(self) -> None:
        self.sock.close()


# ---------------------------------------------------------------------- tests
def test_echo_text_and_bytes_with_subprotocol_and_headers(loop_name: str) -> None:
    with serving(loop_name) as (url, recorder, _):
        with client(url + "/chat?room=1", subprotocols=["v1", "v2"]) as ws:
            assert ws.subprotocol == "v2"
            assert ws.response is not None
            assert ws.response.headers["x-app"] == "yes"
            ws.send("héllo")
            assert ws.recv(timeout=5) == "héllo"
            ws.send(b"\x00\xff")
            assert ws.recv(timeout=5) == b"\x00\xff"
            big = "x" * 200_000
            ws.send(big)
            assert ws.recv(timeout=5) == big
        recorder.wait()
    (scope,) = recorder.scopes
    assert scope["type"] == "websocket"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/chat"
    assert scope["query_string"] == b"room=1"
    assert scope["subprotocols"] == ["v1", "v2"]
    assert recorder.messages[0] == {"type": "websocket.connect"}
    received = [m for m in recorder.messages if m["type"] == "websocket.receive"]
    assert received[0] == {"type": "websocket.receive", "bytes": None, "text": "héllo"}
    assert received[1] == {"type": "websocket.receive", "bytes": b"\x00\xff", "text": None}


def test_permessage_deflate_is_negotiated_unless_disabled(loop_name: str) -> None:
    with serving(loop_name) as (url, _, _), client(url) as ws:
        assert ws.response is not None
        assert ws.response.headers["sec-websocket-extensions"].startswith("permessage-deflate")
        ws.send("compressible " * 1000)
        assert ws.recv(timeout=5) == "compressible " * 1000
    with serving(loop_name, websocket_compression=False) as (url, _, _), client(url) as ws:
        assert ws.response is not None
        assert "sec-websocket-extensions" not in ws.response.headers
        ws.send("plain")
        assert ws.recv(timeout=5) == "plain"


def test_client_close_code_and_reason_reach_the_app(loop_name: str) -> None:
    with serving(loop_name) as (url, recorder, _):
        with client(url) as ws:
            ws.close(code=4000, reason="client leaving")
        recorder.wait()
    assert recorder.disconnect == {
        "type": "websocket.disconnect",
        "code": 4000,
        "reason": "client leaving",
    }


def test_app_close_code_and_reason_reach_the_client(loop_name: str) -> None:
    with serving(loop_name) as (url, _, _), client(url + "/close") as ws:
        closed = closed_by_server(ws)
        assert closed.rcvd is not None
        assert (closed.rcvd.code, closed.rcvd.reason) == (4321, "app says bye")


@pytest.mark.parametrize(("path", "code"), [("/return", 1000), ("/raise", 1011)])
def test_app_ending_while_open_closes_the_socket(loop_name: str, path: str, code: int) -> None:
    with serving(loop_name) as (url, _, _), client(url + path) as ws:
        closed = closed_by_server(ws)
        assert closed.rcvd is not None and closed.rcvd.code == code


def test_close_before_accept_is_403(loop_name: str) -> None:
    with serving(loop_name) as (url, recorder, _):
        assert refused(url + "/forbidden").response.status_code == 403
        recorder.wait()


def test_denial_response(loop_name: str) -> None:
    with serving(loop_name) as (url, _, _), pytest.raises(InvalidStatus) as info:
        client(url + "/deny")
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["content-type"] == "text/plain"
    assert response.body == b"no entry"


def test_app_error_during_handshake_is_500(loop_name: str) -> None:
    with serving(loop_name) as (url, _, _), pytest.raises(InvalidStatus) as info:
        client(url + "/handshake-error")
    assert info.value.response.status_code == 500


def test_message_over_the_limit_closes_1009(loop_name: str) -> None:
    with serving(loop_name, websocket_max_message_size=64 * 1024) as (url, recorder, _):
        with client(url, compression=None) as ws:
            ws.send(b"a" * (64 * 1024))
            assert ws.recv(timeout=5) == b"a" * (64 * 1024)
            ws.send(b"a" * (64 * 1024 + 1))
            closed = closed_by_server(ws)
            assert closed.rcvd is not None and closed.rcvd.code == 1009
        recorder.wait()
    assert recorder.disconnect["code"] == 1009


def test_compressed_bomb_closes_1009(loop_name: str) -> None:
    with serving(loop_name, websocket_max_message_size=MiB) as (url, recorder, _):
        with client(url, max_size=None) as ws:
            # 64 MiB of zeros deflate to about 64 KiB on the wire.
            ws.send(b"\x00" * (64 * MiB))
            closed = closed_by_server(ws)
            assert closed.rcvd is not None and closed.rcvd.code == 1009
        recorder.wait()
    assert recorder.disconnect["code"] == 1009


def test_abrupt_tcp_loss_is_1006(loop_name: str) -> None:
    with serving(loop_name) as (_, recorder, server):
        raw = RawClient(server.port)
        raw.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        raw.close()  # RST, no close frame
        recorder.wait()
    assert recorder.disconnect["code"] == 1006


def test_server_pings_and_drops_a_peer_that_never_pongs(loop_name: str) -> None:
    options = {"websocket_ping_interval": 0.2, "websocket_pong_timeout": 0.3}
    with serving(loop_name, **options) as (url, recorder, server):
        # The websockets client answers pings: it stays connected well past the timeout.
        with client(url) as ws:
            time.sleep(1.0)
            ws.send("still here")
            assert ws.recv(timeout=5) == "still here"
        recorder.wait()
        recorder.done.clear()
        # A raw client that reads but never answers pings is dropped.
        raw = RawClient(server.port)
        started = time.monotonic()
        seen = raw.events_until(CloseConnection)
        assert any(isinstance(event, Ping) for event in seen)
        (close,) = [event for event in seen if isinstance(event, CloseConnection)]
        assert close.code == 1011
        assert raw.at_eof()
        assert time.monotonic() - started < 5
        raw.close()
        recorder.wait()
    assert recorder.messages[-1] == {"type": "websocket.disconnect", "code": 1006, "reason": ""}


def test_shutdown_closes_open_websockets_with_1001(loop_name: str) -> None:
    recorder = Recorder()
    with run_server(make_app(recorder), make_config(), loop_name) as server:
        with client(f"ws://127.0.0.1:{server.port}/") as ws:
            ws.send("hi")
            assert ws.recv(timeout=5) == "hi"
            stopper = threading.Thread(target=server.stop)
            stopper.start()
            closed = closed_by_server(ws)
            assert closed.rcvd is not None and closed.rcvd.code == 1001
        stopper.join(30)
    recorder.wait()
    assert recorder.disconnect["code"] == 1001


def test_upgrade_is_logged_as_101(loop_name: str) -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("tests.e2e.websocket.access")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = Collect()
    logger.addHandler(handler)
    try:
        with serving(loop_name, accesslog=logger) as (url, _, _):
            with client(url + "/logged") as ws:
                ws.send("x")
                ws.recv(timeout=5)
            refused(url + "/forbidden")
            deadline = time.monotonic() + 5
            while len(records) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        logger.removeHandler(handler)
    lines = [record.getMessage() for record in records]
    assert any("/logged" in line and " 101 " in line for line in lines), lines
    assert any("/forbidden" in line and " 403 " in line for line in lines), lines


def test_raw_client_sees_the_handshake_and_a_clean_close(loop_name: str) -> None:
    with serving(loop_name) as (_, _, server):
        raw = RawClient(server.port, "/close")
        (close,) = [e for e in raw.events_until(CloseConnection) if isinstance(e, CloseConnection)]
        assert (close.code, close.reason) == (4321, "app says bye")
        raw.sock.sendall(raw.ws.send(close.response()))
        assert raw.at_eof()  # the server closes TCP once the handshake completed
        raw.close()


def test_slow_app_with_many_messages_keeps_order(loop_name: str) -> None:
    received: list[str] = []
    done = threading.Event()

    async def slow_app(scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                done.set()
                return
            received.append(message["text"])
            if len(received) % 50 == 0:
                await sleep(0.01)  # fall behind: reading pauses and resumes

    with run_server(slow_app, make_config(max_app_queue_size=4), loop_name) as server:
        with client(f"ws://127.0.0.1:{server.port}/") as ws:
            for i in range(500):
                ws.send(str(i))
        assert done.wait(10)
    assert received == [str(i) for i in range(500)]


def test_deflate_round_trip_is_really_compressed(loop_name: str) -> None:
    # The server's frames on the wire are smaller than the text they carry.
    with (
        serving(loop_name) as (_, _, server),
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        ws = WSConnection(ConnectionType.CLIENT)
        sock.sendall(ws.send(Request(host="x", target="/", extensions=[PerMessageDeflate()])))
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        ws.receive_data(data)
        assert any(isinstance(e, AcceptConnection) for e in ws.events())
        text = "abc" * 10_000
        sock.sendall(ws.send(TextMessage(data=text)))
        wire = b""
        got = ""
        while len(got) < len(text):
            chunk = sock.recv(65536)
            assert chunk
            wire += chunk
            ws.receive_data(chunk)
            got += "".join(e.data for e in ws.events() if isinstance(e, TextMessage))
        assert got == text
        assert len(wire) < len(text) // 20
