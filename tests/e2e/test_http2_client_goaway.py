"""The client's GOAWAY over a real socket: the responses it still waits for arrive whole.

The h2 client library closes its own state machine when it sends GOAWAY (and would
then refuse the server's frames), so the GOAWAY is written to the socket as a raw
frame, behind its back: on the wire it is what a client that drains its streams sends.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
from hyperframe.frame import GoAwayFrame

from hypercorn_protocol.typing import ASGIScope
from tests.helpers.server import make_config, run_server, sleep

BODY = bytes(range(256)) * 4096  # 1 MiB: sixteen times the initial windows


class Gate:
    """The app's response waits for the test's go (the GOAWAY has been processed)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.go = threading.Event()

    async def app(self, scope: ASGIScope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body", False):
            pass
        self.started.set()
        deadline = time.monotonic() + 30
        while not self.go.is_set() and time.monotonic() < deadline:
            await sleep(0.01)
        await send({"type": "http.response.start", "status": 200})
        for start in range(0, len(BODY), 65536):
            chunk = BODY[start : start + 65536]
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def _connect(port: int) -> tuple[socket.socket, h2.connection.H2Connection]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def _get(conn: h2.connection.H2Connection, path: bytes) -> int:
    stream_id = conn.get_next_available_stream_id()
    pseudo = [(b":method", b"GET"), (b":path", path), (b":scheme", b"http"), (b":authority", b"x")]
    conn.send_headers(stream_id, pseudo, end_stream=True)
    return stream_id


def test_a_response_in_flight_survives_the_clients_goaway(loop_name: str) -> None:
    gate = Gate()
    with run_server(gate.app, make_config(), loop_name) as server:
        sock, conn = _connect(server.port)
        with sock:
            first = _get(conn, b"/first")
            sock.sendall(conn.data_to_send())
            assert gate.started.wait(10)
            # GOAWAY (NO_ERROR, no pushed stream processed), then a PING: its ACK
            # shows the server has taken the GOAWAY in before the response starts.
            sock.sendall(GoAwayFrame(0, error_code=0, last_stream_id=0).serialize())
            conn.ping(b"goaway!!")
            sock.sendall(conn.data_to_send())
            seen: list[h2.events.Event] = []
            while not any(isinstance(e, h2.events.PingAckReceived) for e in seen):
                data = sock.recv(65536)
                assert data, "the server closed on the client's GOAWAY"
                seen += conn.receive_data(data)
            # A stream opened after the GOAWAY (the client breaking its word) is refused.
            late = _get(conn, b"/late")
            sock.sendall(conn.data_to_send())
            gate.go.set()

            body = b""
            headers: dict[bytes, bytes] = {}
            ended = False
            while True:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    # The server closed with our last WINDOW_UPDATEs unread, so its kernel
                    # answered them with a reset: an end like EOF (the checks below say
                    # whether everything had arrived before it).
                    break
                if not data:
                    break
                for event in conn.receive_data(data):
                    seen.append(event)
                    if isinstance(event, h2.events.ResponseReceived):
                        headers = dict(event.headers or [])
                    elif isinstance(event, h2.events.DataReceived):
                        conn.acknowledge_received_data(
                            event.flow_controlled_length or 0, event.stream_id
                        )
                        body += event.data or b""
                    elif isinstance(event, h2.events.StreamEnded) and event.stream_id == first:
                        ended = True
                if outgoing := conn.data_to_send():  # the WINDOW_UPDATEs it needs
                    try:
                        sock.sendall(outgoing)
                    except OSError:
                        break  # the server closed after its GOAWAY: read what is left
        assert headers[b":status"] == b"200"
        assert len(body) == len(BODY) and body == BODY
        assert ended
        resets = {e.stream_id: e.error_code for e in seen if isinstance(e, h2.events.StreamReset)}
        assert resets == {late: h2.errors.ErrorCodes.REFUSED_STREAM}
        # and then the connection ends with the server's own GOAWAY, after the response
        (goaway,) = [e for e in seen if isinstance(e, h2.events.ConnectionTerminated)]
        assert goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
        assert seen.index(goaway) > max(
            i for i, e in enumerate(seen) if isinstance(e, h2.events.StreamEnded)
        )
