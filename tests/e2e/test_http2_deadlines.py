"""HTTP/2 deadlines over real sockets, per stream, with the h2 library as the client.

``request_body_timeout``: a stream whose body stalls gets 408 (then RST_STREAM
NO_ERROR) while a stream on the same connection that trickles its body, slower in
total than the deadline but never silent for that long, is served, and so is a
stream opened afterwards. ``response_write_timeout``: a stream whose flow-control
window the client keeps shut is reset (CANCEL) and its app's pending ``send`` ends,
the connection's other streams carry on; a client that stops reading the socket
altogether (with windows wide open) has the connection aborted, and every app's
pending ``send`` ends. See docs/limits.md.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings

from hypercorn_protocol.typing import ASGIScope, Message
from tests.helpers.server import make_config, run_server

MiB = 1 << 20


class Apps:
    """Per path: what the app received, and when its last ``send`` returned."""

    def __init__(self) -> None:
        self.received: dict[str, list[Message]] = {}
        self.ended: dict[str, float] = {}
        self.sends: dict[str, int] = {}  # body sends that returned
        self.done: dict[str, threading.Event] = {}

    def event(self, path: str) -> threading.Event:
        return self.done.setdefault(path, threading.Event())

    async def __call__(self, scope: ASGIScope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        seen = self.received.setdefault(path, [])
        done = self.event(path)
        try:
            if path.startswith("/stream"):
                seen.append(await receive())
                await send({"type": "http.response.start", "status": 200})
                chunk = b"s" * MiB
                count = 64 if path.startswith("/stream-few") else 2048
                for _ in range(count):  # far more than any window or buffer takes
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    self.sends[path] = self.sends.get(path, 0) + 1
                self.ended[path] = time.monotonic()
                seen.append(await receive())  # what the app hears once its send ended
                return
            body = b""
            while True:
                message = await receive()
                seen.append(message)
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": body or path.encode()})
        finally:
            done.set()


class Client:
    """The h2 client on a socket, collecting events per stream."""

    def __init__(self, port: int, *, wide_open: bool = False, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket()
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        if wide_open:  # every window as large as HTTP/2 allows: only TCP holds bytes back
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
            self.conn.increment_flow_control_window(2**31 - 1 - 65535)
        self.events: list[h2.events.Event] = []
        self.bodies: dict[int, bytes] = {}
        self.shut: set[int] = set()  # streams whose stream window we never give back
        self.flush()

    def flush(self) -> None:
        if data := self.conn.data_to_send():
            self.sock.sendall(data)

    def request(self, path: str, method: str = "GET", end: bool = True, flush: bool = True) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        headers = [
            (b":method", method.encode()),
            (b":path", path.encode()),
            (b":scheme", b"http"),
            (b":authority", b"x"),
        ]
        self.conn.send_headers(stream_id, headers, end_stream=end)
        if flush:
            self.flush()
        return stream_id

    def pump(self, timeout: float) -> None:
        """Read what arrives within ``timeout`` (at most one read) and answer it."""
        readable, _, _ = select.select([self.sock], [], [], timeout)
        if not readable:
            return
        data = self.sock.recv(65536)
        assert data, "the server closed the connection"
        for event in self.conn.receive_data(data):
            self.events.append(event)
            if isinstance(event, h2.events.DataReceived):
                size = event.flow_controlled_length or 0
                stream_id = event.stream_id or 0
                self.bodies[stream_id] = self.bodies.get(stream_id, b"") + (event.data or b"")
                if stream_id in self.shut:
                    # the connection's window back only: this stream's stays shut
                    self.conn.increment_flow_control_window(size)
                else:
                    self.conn.acknowledge_received_data(size, stream_id)
        self.flush()

    def status(self, stream_id: int) -> bytes | None:
        for event in self.events:
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream_id:
                return dict(event.headers or [])[b":status"]
        return None

    def ended(self, stream_id: int) -> bool:
        return any(
            isinstance(event, h2.events.StreamEnded | h2.events.StreamReset)
            and event.stream_id == stream_id
            for event in self.events
        )

    def reset_code(self, stream_id: int) -> int | None:
        for event in self.events:
            if isinstance(event, h2.events.StreamReset) and event.stream_id == stream_id:
                return event.error_code
        return None

    def wait_until_ended(self, *stream_ids: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not all(self.ended(s) for s in stream_ids):
            assert time.monotonic() < deadline, f"streams {stream_ids} never ended"
            self.pump(0.2)

    def goaways(self) -> list[h2.events.ConnectionTerminated]:
        return [e for e in self.events if isinstance(e, h2.events.ConnectionTerminated)]


def test_a_stalled_body_costs_only_its_stream(loop_name: str) -> None:
    apps = Apps()
    with run_server(apps, make_config(request_body_timeout=1.0), loop_name) as server:
        client = Client(server.port)
        with client.sock:
            stalled = client.request("/stalled", "POST", end=False)
            client.conn.send_data(stalled, b"part")
            trickle = client.request("/trickle", "POST", end=False)
            client.flush()
            started = time.monotonic()
            sent = b""
            # Two and a half deadlines of trickling: one byte every 0.2 s is progress.
            while time.monotonic() < started + 2.5:
                if not client.ended(trickle):
                    client.conn.send_data(trickle, b"t")
                    sent += b"t"
                client.flush()
                client.pump(0.2)
            refused_at = time.monotonic()
            client.conn.end_stream(trickle)
            client.flush()
            client.wait_until_ended(stalled, trickle)
            after = client.request("/after")
            client.wait_until_ended(after)
        assert apps.event("/stalled").wait(10) and apps.event("/trickle").wait(10)
    assert client.status(stalled) == b"408"
    assert client.reset_code(stalled) == h2.errors.ErrorCodes.NO_ERROR  # stop sending
    assert apps.received["/stalled"][-1] == {"type": "http.disconnect"}
    assert refused_at - started >= 0.9  # not before its deadline
    assert client.status(trickle) == b"200"
    assert client.bodies[trickle] == sent and len(sent) >= 5
    assert client.reset_code(trickle) is None
    assert client.status(after) == b"200"
    assert client.goaways() == []


def test_a_stream_behind_a_shut_window_is_reset_and_its_send_ends(loop_name: str) -> None:
    apps = Apps()
    config = make_config(response_write_timeout=1.0)  # h2_stall_timeout stays at 60 s
    with run_server(apps, config, loop_name) as server:
        client = Client(server.port)
        with client.sock:
            stuck = client.request("/stream-stuck")
            client.shut.add(stuck)
            while stuck not in client.bodies or len(client.bodies[stuck]) < 65535:
                client.pump(0.5)  # the initial window's worth arrives, then nothing
            started = time.monotonic()
            fine = client.request("/fine")  # meanwhile, another stream is served
            client.wait_until_ended(fine)
            client.wait_until_ended(stuck)
            reset_at = time.monotonic()
            after = client.request("/after")
            client.wait_until_ended(after)
        assert apps.event("/stream-stuck").wait(10), "the app's send never ended"
    assert client.reset_code(stuck) == h2.errors.ErrorCodes.CANCEL
    assert len(client.bodies[stuck]) == 65535  # nothing past the window it was given
    assert reset_at - started >= 0.5  # the stall, not the request, started the clock
    assert apps.received["/stream-stuck"][-1] == {"type": "http.disconnect"}
    assert client.status(fine) == b"200" and client.bodies[fine] == b"/fine"
    assert client.status(after) == b"200"
    assert client.goaways() == []


def test_a_client_that_stops_reading_has_the_connection_aborted(loop_name: str) -> None:
    apps = Apps()
    with run_server(apps, make_config(response_write_timeout=1.0), loop_name) as server:
        client = Client(server.port, wide_open=True, rcvbuf=4096)
        with client.sock:
            # Windows wide open, so only TCP stops the server: it fills the socket.
            # Both in one write: once the socket is full the server reads nothing more.
            first = client.request("/stream-one", flush=False)
            second = client.request("/stream-two", flush=False)
            client.flush()
            started = time.monotonic()
            for path in ("/stream-one", "/stream-two"):
                assert apps.event(path).wait(15), f"the pending send of {path} never ended"
            ended = max(apps.ended.values())
            # the connection is gone: reading ends (reset or EOF) instead of blocking
            client.sock.settimeout(10)
            try:
                while client.sock.recv(1 << 20):
                    pass
            except ConnectionResetError:
                pass
    assert {first, second}  # both opened on the one connection
    assert ended - started >= 0.9  # not before the write deadline
    for path in ("/stream-one", "/stream-two"):
        assert apps.received[path][-1] == {"type": "http.disconnect"}


def test_wide_open_windows_do_not_let_a_streaming_app_buffer_without_bound(
    loop_name: str,
) -> None:
    """Flow control allows 2 GiB, the client reads nothing: TCP alone must stop the app.

    Its ``send`` has to wait once the socket and a buffer's worth are full (a few MiB),
    not take all 64 MiB into memory; and the worker keeps serving meanwhile.
    """
    apps = Apps()
    with run_server(apps, make_config(response_write_timeout=None), loop_name) as server:
        client = Client(server.port, wide_open=True, rcvbuf=4096)
        with client.sock:
            client.request("/stream-few")
            deadline = time.monotonic() + 10
            while apps.sends.get("/stream-few", 0) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            other = Client(server.port)  # another connection is served meanwhile
            with other.sock:
                answered = other.request("/other")
                other.wait_until_ended(answered)
            assert other.status(answered) == b"200"
            time.sleep(0.5)  # more time to take more, if it would
            returned = apps.sends.get("/stream-few", 0)
            assert returned < 32, f"{returned} MiB taken for a client that reads nothing"


def test_an_unfinished_header_block_gets_goaway_at_the_header_deadline(loop_name: str) -> None:
    # HTTP/2 allows no frame inside a header block: the connection reads nothing more,
    # names the last stream it processed in GOAWAY (the unfinished one may be retried)
    apps = Apps()
    config = make_config(request_header_timeout=1.0, keep_alive_timeout=30)
    with run_server(apps, config, loop_name) as server:
        client = Client(server.port)
        first = client.request("/first")
        client.wait_until_ended(first)
        assert client.status(first) == b"200"
        started = time.monotonic()
        # a HEADERS frame (END_HEADERS) on stream 3 announcing 100 bytes, of which 5 come
        client.sock.sendall((100).to_bytes(3, "big") + b"\x01\x04" + (3).to_bytes(4, "big"))
        client.sock.sendall(b"\x82\x86\x84\x41\x01")
        data = b""
        while chunk := client.sock.recv(65536):
            data += chunk
        elapsed = time.monotonic() - started
        client.events.extend(client.conn.receive_data(data))
        client.sock.close()
    goaways = client.goaways()
    assert len(goaways) == 1
    assert goaways[0].error_code == h2.errors.ErrorCodes.NO_ERROR
    assert goaways[0].last_stream_id == first
    assert 0.9 <= elapsed < 4.0
    assert "/first" in apps.received and len(apps.received) == 1  # the app never saw stream 3
