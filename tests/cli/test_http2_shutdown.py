"""SIGTERM to the real ``hypercorn`` command lets in-flight HTTP/2 streams finish."""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from pathlib import Path

import h2.config
import h2.connection
import h2.errors
import h2.events
import httpx
import pytest

from tests.cli._support import StartServer, console_script, free_port
from tests.helpers.backends import BACKENDS
from tests.helpers.lifespan import LIFESPAN_SOURCE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

#: ``/slow...`` answers after half a second, on whichever loop serves it.
SLOW_APP = (
    LIFESPAN_SOURCE
    + """
import pathlib
import sys

async def pause(seconds):
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            pass
        else:
            await trio.sleep(seconds)
            return
    import asyncio
    await asyncio.sleep(seconds)

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["path"].startswith("/slow"):
        # Tell the test this request is in the app (a loaded machine may be slow to get here).
        pathlib.Path(__file__).with_name("arrived" + scope["path"].replace("/", "-")).touch()
        await pause(0.5)
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": scope["path"].encode()})
"""
)


def _raw_request(port: int, path: bytes) -> tuple[socket.socket, h2.connection.H2Connection]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    conn.initiate_connection()
    conn.send_headers(
        1,
        [(b":method", b"GET"), (b":path", path), (b":scheme", b"http"), (b":authority", b"x")],
        end_stream=True,
    )
    sock.sendall(conn.data_to_send())
    return sock, conn


def _read_all(sock: socket.socket, conn: h2.connection.H2Connection) -> list[h2.events.Event]:
    """Every event until the server closes; h2 raises if a frame follows a GOAWAY."""
    seen: list[h2.events.Event] = []
    while data := sock.recv(65536):
        seen += conn.receive_data(data)
        if outgoing := conn.data_to_send():
            sock.sendall(outgoing)
    return seen


@pytest.mark.parametrize("workers", ["0", "1"])
@pytest.mark.parametrize("worker_class", BACKENDS)
def test_sigterm_lets_in_flight_http2_streams_finish(
    start_server: StartServer, app_dir: Path, worker_class: str, workers: str
) -> None:
    (app_dir / "slowapp.py").write_text(SLOW_APP)
    port = free_port()
    server = start_server(
        "slowapp:app",
        "-b",
        f"127.0.0.1:{port}",
        "-k",
        worker_class,
        "-w",
        workers,
        "--graceful-timeout",
        "5",
        command=[str(console_script())],
    )
    server.wait_for(f"Running on http://127.0.0.1:{port}")
    replies: list[httpx.Response | Exception] = []

    def get() -> None:
        with httpx.Client(http1=False, http2=True, timeout=10) as client:
            try:
                replies.append(client.get(f"http://127.0.0.1:{port}/slow-httpx"))
            except httpx.HTTPError as error:
                replies.append(error)

    sock, conn = _raw_request(port, b"/slow-raw")
    with sock:
        slow = threading.Thread(target=get)
        slow.start()
        deadline = time.monotonic() + 10
        while not all((app_dir / f"arrived-slow-{who}").exists() for who in ("raw", "httpx")):
            assert time.monotonic() < deadline, "the requests never reached the app"
            time.sleep(0.02)
        # both requests are in the app's sleep now
        server.process.send_signal(signal.SIGTERM)
        seen = _read_all(sock, conn)
    slow.join(10)

    body = b"".join(
        e.data or b"" for e in seen if isinstance(e, h2.events.DataReceived) and e.stream_id == 1
    )
    assert body == b"/slow-raw"
    assert any(isinstance(e, h2.events.StreamEnded) and e.stream_id == 1 for e in seen)
    goaway = seen[-1]
    assert isinstance(goaway, h2.events.ConnectionTerminated)
    assert goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
    assert goaway.last_stream_id == 1
    (reply,) = replies
    assert isinstance(reply, httpx.Response), reply
    assert reply.http_version == "HTTP/2"
    assert reply.content == b"/slow-httpx"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert server.wait(10) == 0
