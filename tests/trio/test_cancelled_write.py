"""A write cut short by the cancellation of the task that happened to flush.

Under trio any task may be cancelled at a checkpoint, and frameworks do it routinely
(anyio task groups: Starlette cancels its disconnect listener as soon as a streaming
response ends). The task that flushes the connection can be such a task, so a write
cancelled half-way would leave part of a frame on the wire: the rest of the response
is garbage, and a TLS stream is broken for every request on the connection.
"""

from __future__ import annotations

import socket
import time

import trio
from hypercorn_protocol.typing import ASGIReceive, ASGIScope, ASGISend
from tests.helpers.server import make_config, run_server

CHUNK = bytes(range(256)) * (64 * 1024)  # 16 MiB: more than the socket buffers hold
TAIL = b"the end"


async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    length = str(len(CHUNK) + len(TAIL)).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
    )
    # The client is not reading, so this send waits for the socket; the app gives up on
    # it. Whether or not it is cancelled, the bytes on the wire must stay a valid body.
    with trio.move_on_after(0.3):
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": TAIL})


def test_cancelled_app_send_leaves_a_whole_response() -> None:
    with run_server(app, make_config(), "trio") as server, socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        client.settimeout(5)
        client.connect(("127.0.0.1", server.port))
        request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
        client.sendall(request)
        time.sleep(0.8)  # past the app's deadline, still not reading
        received = bytearray()
        head_end = -1
        expected = len(CHUNK) + len(TAIL)
        try:
            while head_end < 0 or len(received) - head_end - 4 < expected:
                data = client.recv(1 << 20)
                if not data:
                    break
                received += data
                if head_end < 0:
                    head_end = received.find(b"\r\n\r\n")
        except TimeoutError:
            pass
        body = bytes(received[head_end + 4 :])
        assert len(body) == expected
        assert body == CHUNK + TAIL
        # and the connection still serves the next request
        client.sendall(request)
        client.settimeout(10)
        time.sleep(0.8)
        again = bytearray()
        while len(again) < expected:
            data = client.recv(1 << 20)
            if not data:
                break
            again += data
        assert again.startswith(b"HTTP/1.1 200")


def test_a_stuck_write_does_not_outlive_the_graceful_timeout() -> None:
    # The client never reads: the shielded write cannot finish, and shutdown must
    # still end it once graceful_timeout has passed.
    config = make_config(graceful_timeout=0.5)
    with run_server(app, config, "trio") as server, socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        client.connect(("127.0.0.1", server.port))
        client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.5)  # the app's own deadline passed; its write is still stuck
        started = time.monotonic()
        server.stop()
        assert not server.thread.is_alive()
        assert time.monotonic() - started < 5
