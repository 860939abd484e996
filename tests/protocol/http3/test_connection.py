"""Tests for hypercorn_protocol.http3.connection: HTTP/3 requests on the shared stream model.

The peer is aioquic's client ``QuicConnection`` + ``H3Connection``; the server is a
``QuicEndpoint`` whose handlers are ``HTTP3Connection``. The "app" is played by the test:
it reads the connection's events (StartApp, AppMessage, ...) and answers through
``app_send``, as a driver would. A fake clock, no sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

pytest.importorskip("aioquic")

from aioquic.h3.connection import H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived, PushPromiseReceived
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    StopSendingReceived,
    StreamReset,
)

from hypercorn_protocol.asgi.scope import ScopeBuilder
from hypercorn_protocol.asgi.stream import ConnectionContext
from hypercorn_protocol.events import (
    AppMessage,
    RequestCompleted,
    RequestRefused,
    StartApp,
    StreamWritable,
)
from hypercorn_protocol.headers import DateCache
from hypercorn_protocol.http3.connection import (
    HTTP3Connection,
    interim_responses_supported,
    paced_connection_class,
)
from hypercorn_protocol.http3.endpoint import EndpointConnection, QuicEndpoint
from hypercorn_protocol.server.quic import build_quic_configuration
from hypercorn_protocol.typing import ASGIScope, Message
from tests.protocol.http3.test_endpoint import SERVER, START, TLS

CLIENT_ADDR = ("198.51.100.7", 5000)


@dataclass
class Response:
    headers: list[list[tuple[bytes, bytes]]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False
    reset: int | None = None
    stop_sending: int | None = None  # the server's STOP_SENDING code
    pushes: list[list[tuple[bytes, bytes]]] = field(default_factory=list)


@dataclass
class AppStream:
    scope: ASGIScope
    messages: list[Message] = field(default_factory=list)
    writable: int = 0


# An app reacts to one message of its stream: (harness, conn, stream_id, message).
App = Callable[["Harness", HTTP3Connection, int, Message], None]


class Harness:
    """An endpoint of HTTP3Connections, an aioquic client, and a synchronous 'app'."""

    def __init__(self, tls: TLS, app: App, *, consume: bool = True, **options: Any) -> None:
        self.config = tls.config(**options)
        self.app = app
        self.consume = consume  # the app takes each message as it arrives
        self.conns: list[HTTP3Connection] = []
        self.streams: dict[int, AppStream] = {}
        self.completed: list[RequestCompleted] = []
        self.refused: list[RequestRefused] = []
        self.endpoint = QuicEndpoint(
            build_quic_configuration(self.config),
            self._factory,
            self.config,
            quic_class=paced_connection_class(),
        )
        self.now = START
        client_configuration = tls.client_configuration()
        self.quic = QuicConnection(configuration=client_configuration)
        self.h3 = H3Connection(self.quic)
        self.responses: dict[int, Response] = {}
        self.handshake = False
        self.terminated: ConnectionTerminated | None = None
        self.quic.connect(SERVER, self.now)
        self.run(lambda: self.handshake)

    def _factory(self, connection: EndpointConnection) -> HTTP3Connection:
        scopes = ScopeBuilder(client=None, server=SERVER, scheme="https", root_path="", state=None)
        conn = HTTP3Connection(ConnectionContext(self.config, scopes, DateCache()), connection)
        self.conns.append(conn)
        return conn

    @property
    def conn(self) -> HTTP3Connection:
        return self.conns[0]

    # -- the app's side ---------------------------------------------------------------
    def pump(self) -> None:
        for conn in self.conns:
            while (event := conn.next_event()) is not None:
                if type(event) is StartApp:
                    self.streams[event.stream_id] = AppStream(event.scope)
                elif type(event) is AppMessage:
                    stream = self.streams[event.stream_id]
                    stream.messages.append(event.message)
                    if self.consume:
                        conn.app_consumed(event.stream_id)
                    self.app(self, conn, event.stream_id, event.message)
                elif type(event) is RequestCompleted:
                    self.completed.append(event)
                elif type(event) is RequestRefused:
                    self.refused.append(event)
                elif type(event) is StreamWritable:
                    self.streams[event.stream_id].writable += 1
            conn.data_to_send()  # what a driver's flush does: wakes the connection

    def send(self, conn: HTTP3Connection, stream_id: int, message: Message) -> bool:
        result = conn.app_send(stream_id, message, self.now)
        return result

    # -- the network ------------------------------------------------------------------
    def step(self) -> bool:
        moved = False
        for data, _ in self.quic.datagrams_to_send(self.now):
            moved = True
            self.endpoint.receive_datagram(data, CLIENT_ADDR, self.now)
        self.pump()
        for data, _ in self.endpoint.datagrams_to_send(self.now):
            moved = True
            self.quic.receive_datagram(data, SERVER, self.now)
            self._client_events()
        for conn in self.conns:
            conn.check_writable()
        self.pump()
        return moved

    def _client_events(self) -> None:
        while (event := self.quic.next_event()) is not None:
            if isinstance(event, HandshakeCompleted):
                self.handshake = True
            elif isinstance(event, ConnectionTerminated):
                self.terminated = event
            elif isinstance(event, StreamReset):
                self.responses.setdefault(event.stream_id, Response()).reset = event.error_code
            elif isinstance(event, StopSendingReceived):
                response = self.responses.setdefault(event.stream_id, Response())
                response.stop_sending = event.error_code
            for h3_event in self.h3.handle_event(event):
                if isinstance(h3_event, PushPromiseReceived):
                    response = self.responses.setdefault(h3_event.stream_id, Response())
                    response.pushes.append(list(h3_event.headers))
                    continue
                if not isinstance(h3_event, (HeadersReceived, DataReceived)):
                    continue
                key = h3_event.stream_id
                if h3_event.push_id is not None:
                    key = -1 - h3_event.push_id  # pushed responses, by push id
                response = self.responses.setdefault(key, Response())
                if isinstance(h3_event, HeadersReceived):
                    response.headers.append(list(h3_event.headers))
                else:
                    response.body.extend(h3_event.data)
                response.ended = response.ended or h3_event.stream_ended

    def advance(self) -> bool:
        timers = [t for t in (self.quic.get_timer(), self.endpoint.get_timer()) if t is not None]
        if not timers:
            return False
        self.fire_timers(max(self.now, min(timers)))
        return True

    def fire_timers(self, now: float) -> None:
        """Move the clock to ``now`` and run what is due, on both sides."""
        self.now = now
        self.endpoint.handle_timer(now)
        self.pump()
        timer = self.quic.get_timer()
        if timer is not None and timer <= now:
            self.quic.handle_timer(now)
            self._client_events()

    def run(self, until: Callable[[], bool], max_time: float = 30.0) -> None:
        for _ in range(20000):
            if until():
                return
            if not self.step() and not self.advance():
                break
            if self.now > START + max_time:
                break
        assert until(), "the network went quiet before the condition held"

    def settle(self) -> None:
        for _ in range(50):
            if not self.step():
                return

    # -- the client's side ------------------------------------------------------------
    def request(
        self,
        path: str = "/",
        *,
        method: bytes = b"GET",
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes | None = None,
        end: bool = True,
        extra_pseudo: list[tuple[bytes, bytes]] | None = None,
    ) -> int:
        stream_id = self.quic.get_next_available_stream_id()
        fields = [
            (b":method", method),
            (b":scheme", b"https"),
            (b":authority", b"localhost"),
            (b":path", path.encode()),
            *(extra_pseudo or []),
            *(headers or []),
        ]
        self.h3.send_headers(stream_id, fields, end_stream=end and body is None)
        if body is not None:
            self.h3.send_data(stream_id, body, end_stream=end)
        self.responses[stream_id] = Response()
        return stream_id

    def done(self, stream_id: int) -> bool:
        response = self.responses[stream_id]
        return response.ended or response.reset is not None


def close_code(h: Harness) -> int | None:
    return None if h.terminated is None else h.terminated.error_code


def status(response: Response) -> bytes:
    return dict(response.headers[-1])[b":status"] if response.headers else b""


def final_headers(response: Response) -> dict[bytes, bytes]:
    for block in response.headers:
        fields = dict(block)
        if not fields.get(b":status", b"1").startswith(b"1"):
            return fields
    raise AssertionError("no final response")


# -- apps ------------------------------------------------------------------------------


def echo_app(h: Harness, conn: HTTP3Connection, stream_id: int, message: Message) -> None:
    """200 with the request body, once the body is complete."""
    if message["type"] == "http.request" and not message.get("more_body", False):
        body = b"".join(m.get("body", b"") for m in h.streams[stream_id].messages)
        h.send(conn, stream_id, {"type": "http.response.start", "status": 200, "headers": []})
        h.send(conn, stream_id, {"type": "http.response.body", "body": body})
        conn.app_finished(stream_id, None, h.now)


def silent_app(h: Harness, conn: HTTP3Connection, stream_id: int, message: Message) -> None:
    pass


# -- tests -----------------------------------------------------------------------------


def test_get_scope_and_response(tls: TLS) -> None:
    h = Harness(tls, echo_app)
    stream_id = h.request("/path%20x?q=1")
    h.run(lambda: h.done(stream_id))
    response = h.responses[stream_id]
    assert status(response) == b"200"
    assert response.body == b""
    scope = h.streams[stream_id].scope
    assert scope["http_version"] == "3"
    assert scope["scheme"] == "https"
    assert scope["method"] == "GET"
    assert scope["path"] == "/path x"
    assert scope["query_string"] == b"q=1"
    assert scope["client"] == CLIENT_ADDR
    assert scope["server"] == SERVER
    assert (b"host", b"localhost") in scope["headers"]
    assert "http.response.trailers" in scope["extensions"]
    headers = final_headers(response)
    assert headers[b"server"] == b"hypercorn-h3"
    (completed,) = h.completed
    assert completed.response is not None and completed.response.status == 200


def test_post_body_echoed(tls: TLS) -> None:
    h = Harness(tls, echo_app)
    body = bytes(range(256)) * 1000
    stream_id = h.request("/", method=b"POST", body=body)
    h.run(lambda: h.done(stream_id))
    assert status(h.responses[stream_id]) == b"200"
    assert bytes(h.responses[stream_id].body) == body


def test_request_trailers_end_the_body_not_a_new_request(tls: TLS) -> None:
    h = Harness(tls, echo_app)
    stream_id = h.request(
        "/", method=b"POST", body=b"abc", end=False, headers=[(b"te", b"trailers")]
    )
    h.h3.send_headers(stream_id, [(b"x-checksum", b"1")], end_stream=True)
    h.run(lambda: h.done(stream_id))
    assert status(h.responses[stream_id]) == b"200"
    assert h.responses[stream_id].body == b"abc"
    assert len(h.streams) == 1
    messages = h.streams[stream_id].messages
    assert {"type": "http.request", "body": b"", "more_body": False} in messages
    assert [m for m in messages if m["type"] == "http.request"][-1]["more_body"] is False


def trailers_app(h: Harness, conn: HTTP3Connection, stream_id: int, message: Message) -> None:
    if message["type"] == "http.request" and not message.get("more_body", False):
        h.send(conn, stream_id, {"type": "http.response.start", "status": 200, "trailers": True})
        h.send(conn, stream_id, {"type": "http.response.body", "body": b"data"})
        h.send(
            conn,
            stream_id,
            {"type": "http.response.trailers", "headers": [(b"x-trailer", b"yes")]},
        )


def test_response_trailers(tls: TLS) -> None:
    h = Harness(tls, trailers_app)
    stream_id = h.request("/", headers=[(b"te", b"trailers")])
    h.run(lambda: h.done(stream_id))
    response = h.responses[stream_id]
    assert response.body == b"data"
    assert response.headers[-1] == [(b"x-trailer", b"yes")]


def test_response_trailers_dropped_without_te(tls: TLS) -> None:
    h = Harness(tls, trailers_app)
    stream_id = h.request("/")
    h.run(lambda: h.done(stream_id))
    response = h.responses[stream_id]
    assert response.body == b"data"
    assert len(response.headers) == 1


def hints_app(h: Harness, conn: HTTP3Connection, stream_id: int, message: Message) -> None:
    if message["type"] == "http.request":
        h.send(
            conn,
            stream_id,
            {"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload"]},
        )
        h.send(conn, stream_id, {"type": "http.response.start", "status": 204})
        h.send(conn, stream_id, {"type": "http.response.body"})


def test_early_hints(tls: TLS) -> None:
    h = Harness(tls, hints_app)
    stream_id = h.request("/")
    h.run(lambda: h.done(stream_id))
    response = h.responses[stream_id]
    extensions = h.streams[stream_id].scope["extensions"]
    if interim_responses_supported():
        assert "http.response.early_hint" in extensions
        assert dict(response.headers[0])[b":status"] == b"103"
        assert (b"link", b"</style.css>; rel=preload") in response.headers[0]
    else:  # aioquic 1.3 (Python 3.10): not offered, and a hint sent anyway is dropped
        assert "http.response.early_hint" not in extensions
        assert len(response.headers) == 1
    assert status(response) == b"204"


def push_app(h: Harness, conn: HTTP3Connection, stream_id: int, message: Message) -> None:
    scope = h.streams[stream_id].scope
    if message["type"] != "http.request":
        return
    if scope["path"] == "/":
        assert "http.response.push" in scope["extensions"]
        h.send(conn, stream_id, {"type": "http.response.push", "path": "/pushed", "headers": []})
    h.send(conn, stream_id, {"type": "http.response.start", "status": 200})
    h.send(conn, stream_id, {"type": "http.response.body", "body": scope["path"].encode()})


def test_server_push(tls: TLS) -> None:
    h = Harness(tls, push_app)
    stream_id = h.request("/")
    h.run(lambda: h.done(stream_id) and -1 in h.responses and h.responses[-1].ended)
    (promise,) = h.responses[stream_id].pushes
    assert (b":path", b"/pushed") in promise
    assert h.responses[-1].body == b"/pushed"
    assert h.responses[stream_id].body == b"/"


def test_client_reset_disconnects_that_stream_only(tls: TLS) -> None:
    h = Harness(tls, silent_app)
    first = h.request("/", method=b"POST", body=b"x", end=False)
    second = h.request("/", method=b"POST", body=b"y", end=False)
    h.run(lambda: len(h.streams) == 2)
    h.quic.reset_stream(first, 0x10C)
    h.run(lambda: {"type": "http.disconnect"} in h.streams[first].messages)
    assert {"type": "http.disconnect"} not in h.streams[second].messages
    h.send(h.conn, second, {"type": "http.response.start", "status": 200})
    h.send(h.conn, second, {"type": "http.response.body", "body": b"ok"})
    h.run(lambda: h.done(second))
    assert h.responses[second].body == b"ok"


def test_client_stop_sending_disconnects(tls: TLS) -> None:
    h = Harness(tls, silent_app)
    stream_id = h.request("/")
    h.run(lambda: stream_id in h.streams)
    h.quic.stop_stream(stream_id, 0x10C)
    h.run(lambda: {"type": "http.disconnect"} in h.streams[stream_id].messages)
    # a later send is harmless: the stream is over
    assert h.send(h.conn, stream_id, {"type": "http.response.start", "status": 200})


def test_request_window_opens_only_as_the_app_consumes(tls: TLS) -> None:
    h = Harness(tls, silent_app, consume=False)
    window = build_quic_configuration(h.config).max_stream_data
    body = b"x" * (4 * window)
    stream_id = h.request("/", method=b"POST", body=body)
    h.settle()
    for _ in range(20):
        h.advance()
        h.settle()
    received = sum(len(m.get("body", b"")) for m in h.streams[stream_id].messages)
    assert 0 < received <= window
    # a second stream is not blocked by the first one's stall
    other = h.request("/", method=b"POST", body=b"small")
    h.run(lambda: other in h.streams and not h.streams[other].messages[-1].get("more_body"))
    # the app takes what it has: the window opens and the rest arrives
    h.consume = True
    for _ in h.streams[stream_id].messages:
        h.conn.app_consumed(stream_id)
    h.run(
        lambda: (
            not h.streams[stream_id].messages[-1].get("more_body", True)
            if h.streams[stream_id].messages
            else False
        )
    )
    received = sum(len(m.get("body", b"")) for m in h.streams[stream_id].messages)
    assert received == len(body)


def big_app(h: Harness, conn: HTTP3Connection, stream_id: int, message: Message) -> None:
    if message["type"] == "http.request":
        h.send(conn, stream_id, {"type": "http.response.start", "status": 200})
        h.streams[stream_id].writable = 0


def test_send_waits_for_window(tls: TLS) -> None:
    h = Harness(tls, big_app)
    stream_id = h.request("/")
    h.run(lambda: stream_id in h.streams)
    chunk = b"z" * 65536
    sent = 0
    while h.send(
        h.conn, stream_id, {"type": "http.response.body", "body": chunk, "more_body": True}
    ):
        sent += 1
        assert sent < 100, "send never asked to wait"
    assert not h.conn.writable(stream_id)
    h.run(lambda: h.streams[stream_id].writable > 0)
    assert h.conn.writable(stream_id)
    h.send(h.conn, stream_id, {"type": "http.response.body", "body": b"", "more_body": False})
    h.run(lambda: h.done(stream_id))
    assert len(h.responses[stream_id].body) == (sent + 1) * len(chunk)


def test_concurrent_stream_limit_rejects_extra_streams(tls: TLS) -> None:
    h = Harness(tls, silent_app, h2_max_concurrent_streams=2)
    ids = [h.request("/") for _ in range(3)]
    h.run(lambda: h.responses[ids[2]].reset is not None)
    assert h.responses[ids[2]].reset == 0x10B
    assert len(h.streams) == 2


def test_header_list_size_limit(tls: TLS) -> None:
    h = Harness(tls, silent_app, h2_max_header_list_size=200)
    stream_id = h.request("/", headers=[(b"x-big", b"v" * 300)])
    h.run(lambda: h.done(stream_id))
    assert status(h.responses[stream_id]) == b"431"
    assert not h.streams


def test_keep_alive_max_requests_then_goaway(tls: TLS) -> None:
    h = Harness(tls, echo_app, keep_alive_max_requests=2)
    first, second, third = (h.request("/") for _ in range(3))
    h.run(lambda: h.done(first) and h.done(second) and h.done(third))
    assert status(h.responses[first]) == b"200"
    assert status(h.responses[second]) == b"200"
    assert h.responses[third].reset == 0x10B
    h.run(lambda: h.terminated is not None)


def test_graceful_shutdown_finishes_open_streams(tls: TLS) -> None:
    h = Harness(tls, silent_app)
    stream_id = h.request("/")
    h.run(lambda: stream_id in h.streams)
    h.conn.start_shutdown(h.now)
    h.settle()
    later = h.request("/")
    h.run(lambda: h.done(later))
    assert h.responses[later].reset == 0x10B
    assert h.terminated is None
    h.send(h.conn, stream_id, {"type": "http.response.start", "status": 200})
    h.send(h.conn, stream_id, {"type": "http.response.body", "body": b"last"})
    h.run(lambda: h.done(stream_id) and h.terminated is not None)
    assert h.responses[stream_id].body == b"last"
    assert close_code(h) == 0x100


def failing_app(h: Harness, conn: HTTP3Connection, stream_id: int, message: Message) -> None:
    if message["type"] == "http.request":
        conn.app_finished(stream_id, RuntimeError("boom"), h.now)


def test_app_error_before_response_is_a_500(tls: TLS) -> None:
    h = Harness(tls, failing_app)
    stream_id = h.request("/")
    h.run(lambda: h.done(stream_id))
    assert status(h.responses[stream_id]) == b"500"


def test_app_error_mid_body_resets_the_stream(tls: TLS) -> None:
    def app(h: Harness, conn: HTTP3Connection, stream_id: int, message: Message) -> None:
        if message["type"] == "http.request":
            h.send(conn, stream_id, {"type": "http.response.start", "status": 200})
            h.send(conn, stream_id, {"type": "http.response.body", "body": b"a", "more_body": True})
            conn.app_finished(stream_id, RuntimeError("boom"), h.now)

    h = Harness(tls, app)
    stream_id = h.request("/")
    h.run(lambda: h.done(stream_id))
    assert h.responses[stream_id].reset == 0x102


def test_hundred_streams_on_one_connection(tls: TLS) -> None:
    h = Harness(tls, echo_app)
    ids = [h.request(f"/{n}", method=b"POST", body=b"%d" % n) for n in range(100)]
    h.run(lambda: all(h.done(i) for i in ids))
    for n, stream_id in enumerate(ids):
        assert h.responses[stream_id].body == b"%d" % n


# -- WebSocket over HTTP/3 (RFC 9220) --------------------------------------------------


def ws_echo_app(h: Harness, conn: HTTP3Connection, stream_id: int, message: Message) -> None:
    if message["type"] == "websocket.connect":
        h.send(conn, stream_id, {"type": "websocket.accept"})
    elif message["type"] == "websocket.receive":
        h.send(conn, stream_id, {"type": "websocket.send", "text": "echo:" + message["text"]})


def ws_request(h: Harness, protocol: bytes = b"websocket") -> int:
    return h.request(
        "/ws",
        method=b"CONNECT",
        extra_pseudo=[(b":protocol", protocol)],
        headers=[(b"sec-websocket-version", b"13")],
        end=False,
    )


def test_settings_enable_connect_protocol(tls: TLS) -> None:
    h = Harness(tls, ws_echo_app)
    h.settle()
    settings = h.h3.received_settings
    assert settings is not None and settings.get(0x8) == 1


def test_websocket_echo(tls: TLS) -> None:
    from wsproto.frame_protocol import FrameProtocol, Opcode

    h = Harness(tls, ws_echo_app)
    stream_id = ws_request(h)
    h.run(lambda: bool(h.responses[stream_id].headers))
    assert status(h.responses[stream_id]) == b"200"
    scope = h.streams[stream_id].scope
    assert scope["type"] == "websocket"
    assert scope["http_version"] == "3"
    assert scope["scheme"] == "wss"
    assert scope["path"] == "/ws"

    frames = FrameProtocol(client=True, extensions=[])
    h.h3.send_data(stream_id, bytes(frames.send_data("hello", fin=True)), end_stream=False)
    h.run(lambda: len(h.responses[stream_id].body) > 0)
    frames.receive_bytes(bytes(h.responses[stream_id].body))
    (frame,) = list(frames.received_frames())
    assert frame.opcode is Opcode.TEXT and frame.payload == "echo:hello"
    received = [m for m in h.streams[stream_id].messages if m["type"] == "websocket.receive"]
    assert [m.get("text") for m in received] == ["hello"]

    # a close from the client: the app hears websocket.disconnect with its code
    h.h3.send_data(stream_id, bytes(frames.close(1000, "bye")), end_stream=False)
    h.run(lambda: h.streams[stream_id].messages[-1]["type"] == "websocket.disconnect")
    assert h.streams[stream_id].messages[-1]["code"] == 1000


def test_websocket_other_protocol_is_refused(tls: TLS) -> None:
    h = Harness(tls, ws_echo_app)
    stream_id = ws_request(h, b"webtransport")
    h.run(lambda: h.done(stream_id))
    assert status(h.responses[stream_id]) == b"501"
    assert not h.streams


def test_websocket_denial_response(tls: TLS) -> None:
    def deny(h: Harness, conn: HTTP3Connection, stream_id: int, message: Message) -> None:
        if message["type"] == "websocket.connect":
            h.send(conn, stream_id, {"type": "websocket.close", "code": 1000})

    h = Harness(tls, deny)
    stream_id = ws_request(h)
    h.run(lambda: h.done(stream_id))
    assert status(h.responses[stream_id]) == b"403"
