"""WebSocket over HTTP/1.1 in the sans-IO core: a wsproto client as the peer, a fake clock."""

from __future__ import annotations

import tracemalloc
import zlib
from typing import Any

import h11
import pytest
from wsproto import WSConnection
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event as WSEvent,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason

from hypercorn_protocol import ServerConnection, events as ev
from hypercorn_protocol.config import Config, ConfigError
from hypercorn_protocol.errors import UnexpectedMessageError, WebSocketClosedError
from hypercorn_protocol.typing import Message
from hypercorn_protocol.websocket.deflate import BoundedDeflate
from tests.helpers.protocol import Harness, Settings

MiB = 1024 * 1024
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


# The websocket_* settings are part of every complete ProtocolSettings now.
WSSettings = Settings


class Peer:
    """A server connection with a wsproto client on the other end."""

    def __init__(self, settings: WSSettings | None = None, scheme: str = "http") -> None:
        self.h = Harness(settings or WSSettings())
        if scheme != "http":
            self.h.conn = ServerConnection(
                self.h.settings,
                client=("127.0.0.1", 5000),
                server=("127.0.0.1", 8000),
                scheme=scheme,
                now=self.h.now,
            )
        self.client = WSConnection(ConnectionType.CLIENT)

    # client side
    def connect(
        self,
        target: str = "/ws",
        subprotocols: list[str] | None = None,
        deflate: bool = False,
        extra: bytes = b"",
    ) -> list[ev.Event]:
        request = Request(
            host="example.com",
            target=target,
            subprotocols=subprotocols or [],
            extensions=[PerMessageDeflate()] if deflate else [],
        )
        return self.h.feed(self.client.send(request) + extra)

    def send(self, event: WSEvent) -> list[ev.Event]:
        return self.h.feed(self.client.send(event))

    def received(self) -> list[WSEvent]:
        """Everything the server wrote since last time, as wsproto client events."""
        data, self.h.wire = self.h.wire, b""
        if data:
            self.client.receive_data(data)
        return list(self.client.events())

    # app side
    def app(self, message: Message) -> list[ev.Event]:
        return self.h.app_send(1, message)

    def accept(self, **extra: Any) -> list[WSEvent]:
        self.app({"type": "websocket.accept", **extra})
        return self.received()

    def timer(self, now: float) -> list[ev.Event]:
        self.h.now = now
        self.h.conn.handle_timer(now)
        return self.h.drain()


def app_messages(events: list[ev.Event]) -> list[Message]:
    return [e.message for e in events if isinstance(e, ev.AppMessage)]


def closed(events: list[ev.Event]) -> bool:
    return any(isinstance(e, ev.CloseConnection) for e in events)


def assert_refused_too_big(peer: Peer, events: list[ev.Event]) -> list[ev.Event]:
    """The message never reached the app; the server closed with 1009, and the parser
    survived: the client's close reply completes the handshake. Returns its events."""
    assert app_messages(events) == []
    (close,) = peer.received()
    assert isinstance(close, CloseConnection) and close.code == 1009
    events = peer.send(close.response())
    assert app_messages(events) == [
        {"type": "websocket.disconnect", "code": 1009, "reason": "message too big"}
    ]
    return events


def open_socket(
    settings: WSSettings | None = None, deflate: bool = False
) -> tuple[Peer, list[WSEvent]]:
    peer = Peer(settings)
    peer.connect(deflate=deflate)
    return peer, peer.accept()


def raw_upgrade(*extra: tuple[str, str], method: str = "GET") -> h11.Request:
    headers = [
        ("host", "example.com"),
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        *extra,
    ]
    return h11.Request(method=method, target="/ws", headers=headers)


# ------------------------------------------------------------------ handshake
def test_upgrade_starts_a_websocket_scope_and_sends_connect() -> None:
    peer = Peer(WSSettings(root_path="/root"))
    events = peer.connect("/chat%20room?token=1", subprotocols=["chat", "superchat"])
    (start,) = [e for e in events if isinstance(e, ev.StartApp)]
    scope = start.scope
    assert scope["type"] == "websocket"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/chat room"
    assert scope["raw_path"] == b"/chat%20room"
    assert scope["query_string"] == b"token=1"
    assert scope["root_path"] == "/root"
    assert scope["subprotocols"] == ["chat", "superchat"]
    assert scope["extensions"] == {"websocket.http.response": {}}
    assert scope["state"] == {"shared": 1}
    assert (b"upgrade", b"websocket") in scope["headers"]
    assert scope["client"] == ("127.0.0.1", 5000)
    assert app_messages(events) == [{"type": "websocket.connect"}]
    # Until the app answers, nothing more is read.
    assert any(isinstance(e, ev.PauseReading) for e in events)
    assert peer.h.wire == b""


def test_scheme_is_wss_over_tls() -> None:
    peer = Peer(scheme="https")
    (start,) = [e for e in peer.connect() if isinstance(e, ev.StartApp)]
    assert start.scope["scheme"] == "wss"


def test_accept_with_subprotocol_and_headers() -> None:
    peer = Peer()
    peer.connect(subprotocols=["chat", "superchat"])
    events = peer.app(
        {
            "type": "websocket.accept",
            "subprotocol": "superchat",
            "headers": [(b"x-session", b"abc")],
        }
    )
    (accepted,) = peer.received()
    assert isinstance(accepted, AcceptConnection)
    assert accepted.subprotocol == "superchat"
    assert (b"x-session", b"abc") in accepted.extra_headers
    assert peer.client.state is ConnectionState.OPEN
    (completed,) = [e for e in events if isinstance(e, ev.RequestCompleted)]
    assert completed.response is not None and completed.response.status == 101
    assert any(isinstance(e, ev.ResumeReading) for e in events)


def test_accept_writes_a_101_with_the_rfc_headers() -> None:
    h = Harness(WSSettings())
    h.send_request(
        raw_upgrade(("sec-websocket-key", KEY.decode()), ("sec-websocket-version", "13"))
    )
    h.app_send(1, {"type": "websocket.accept"})
    head = h.wire.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"HTTP/1.1 101 Switching Protocols"
    # RFC 6455 section 1.3's worked example.
    assert b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    assert b"upgrade: websocket" in head
    assert b"connection: Upgrade" in head


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"type": "websocket.accept", "subprotocol": "other"}, "not offered"),
        (
            {"type": "websocket.accept", "headers": [(b"sec-websocket-protocol", b"chat")]},
            "set by the server",
        ),
        (
            {"type": "websocket.accept", "headers": [(b"Sec-WebSocket-Extensions", b"x")]},
            "set by the server",
        ),
        ({"type": "websocket.accept", "headers": [(b":status", b"200")]}, "Invalid header"),
        (
            {"type": "websocket.accept", "headers": [(b"x-a", b"v\r\nx-b: injected")]},
            "Invalid header",
        ),
    ],
)
def test_accept_refuses_bad_subprotocol_and_headers(message: Message, error: str) -> None:
    peer = Peer()
    peer.connect(subprotocols=["chat"])
    with pytest.raises(ValueError, match=error):
        peer.app(message)
    assert peer.h.wire == b""  # nothing was written: the app may still answer


def test_messages_out_of_order_raise() -> None:
    peer = Peer()
    peer.connect()
    with pytest.raises(UnexpectedMessageError):
        peer.app({"type": "websocket.send", "text": "too early"})
    with pytest.raises(UnexpectedMessageError):
        peer.app({"type": "http.response.start", "status": 200})
    peer.accept()
    with pytest.raises(UnexpectedMessageError):
        peer.app({"type": "websocket.accept"})
    with pytest.raises(UnexpectedMessageError):
        peer.app({"type": "websocket.http.response.start", "status": 403})


@pytest.mark.parametrize(
    ("extra", "method", "status"),
    [
        ((("sec-websocket-version", "13"),), "GET", 400),  # no key
        ((("sec-websocket-key", "short"), ("sec-websocket-version", "13")), "GET", 400),
        ((("sec-websocket-key", KEY.decode()), ("sec-websocket-version", "8")), "GET", 400),
        ((("sec-websocket-key", KEY.decode()),), "GET", 400),  # no version
        ((("sec-websocket-key", KEY.decode()), ("sec-websocket-version", "13")), "POST", 400),
    ],
)
def test_invalid_handshakes_are_refused(
    extra: tuple[tuple[str, str], ...], method: str, status: int
) -> None:
    h = Harness(WSSettings())
    events = h.send_request(raw_upgrade(*extra, method=method), h11.EndOfMessage())
    assert not [e for e in events if isinstance(e, ev.StartApp)]
    response = h.client_events()[0]
    assert isinstance(response, h11.Response)
    assert response.status_code == status
    assert closed(events)
    if ("sec-websocket-version", "8") in extra:
        assert (b"sec-websocket-version", b"13") in list(response.headers)


def test_upgrade_without_connection_upgrade_is_plain_http() -> None:
    h = Harness(WSSettings())
    request = h11.Request(
        method="GET", target="/", headers=[("host", "x"), ("upgrade", "websocket")]
    )
    (start,) = [
        e for e in h.send_request(request, h11.EndOfMessage()) if isinstance(e, ev.StartApp)
    ]
    assert start.scope["type"] == "http"


def test_frames_sent_with_the_handshake_reach_the_app_after_accept() -> None:
    peer = Peer()
    framer = Connection(ConnectionType.CLIENT)
    early = framer.send(TextMessage(data="early bird"))
    events = peer.connect(extra=early)
    assert app_messages(events) == [{"type": "websocket.connect"}]
    events = peer.app({"type": "websocket.accept"})
    assert app_messages(events) == [
        {"type": "websocket.receive", "bytes": None, "text": "early bird"}
    ]


# ----------------------------------------------------------------- refusals
def test_close_before_accept_is_403_and_disconnects() -> None:
    peer = Peer()
    peer.connect()
    events = peer.app({"type": "websocket.close"})
    (rejected,) = [e for e in peer.received() if isinstance(e, RejectConnection)]
    assert rejected.status_code == 403
    assert app_messages(events) == [{"type": "websocket.disconnect", "code": 1006, "reason": ""}]
    (completed,) = [e for e in events if isinstance(e, ev.RequestCompleted)]
    assert completed.response is not None and completed.response.status == 403
    assert closed(events)


def test_denial_response_is_streamed() -> None:
    peer = Peer()
    peer.connect()
    peer.app(
        {
            "type": "websocket.http.response.start",
            "status": 401,
            "headers": [(b"www-authenticate", b"Bearer")],
        }
    )
    peer.app({"type": "websocket.http.response.body", "body": b"who ", "more_body": True})
    assert not closed(peer.h.events)
    events = peer.app({"type": "websocket.http.response.body", "body": b"are you?"})
    received = peer.received()
    rejected = received[0]
    assert isinstance(rejected, RejectConnection)
    assert rejected.status_code == 401
    assert (b"www-authenticate", b"Bearer") in rejected.headers
    body = b"".join(e.data for e in received if isinstance(e, RejectData))
    assert body == b"who are you?"
    (completed,) = [e for e in events if isinstance(e, ev.RequestCompleted)]
    assert completed.response is not None and completed.response.status == 401
    assert closed(events)


def test_app_error_during_handshake_is_500() -> None:
    peer = Peer()
    peer.connect()
    peer.h.conn.app_finished(1, RuntimeError("boom"), peer.h.now)
    events = peer.h.drain()
    (rejected,) = [e for e in peer.received() if isinstance(e, RejectConnection)]
    assert rejected.status_code == 500
    assert closed(events)


def test_app_error_during_denial_body_cuts_the_connection() -> None:
    peer = Peer()
    peer.connect()
    peer.app({"type": "websocket.http.response.start", "status": 400})
    peer.app({"type": "websocket.http.response.body", "body": b"part", "more_body": True})
    peer.h.conn.app_finished(1, RuntimeError("boom"), peer.h.now)
    assert closed(peer.h.drain())
    assert not peer.h.wire.endswith(b"0\r\n\r\n")  # no terminating chunk: truncation shows


# ------------------------------------------------------------------ messages
def test_text_and_bytes_both_ways() -> None:
    peer, _ = open_socket()
    events = peer.send(TextMessage(data="héllo"))
    events += peer.send(BytesMessage(data=b"\x00\x01"))
    assert app_messages(events) == [
        {"type": "websocket.receive", "bytes": None, "text": "héllo"},
        {"type": "websocket.receive", "bytes": b"\x00\x01", "text": None},
    ]
    peer.app({"type": "websocket.send", "text": "out"})
    peer.app({"type": "websocket.send", "bytes": b"\xff"})
    received = peer.received()
    assert received == [TextMessage(data="out"), BytesMessage(data=b"\xff")]


def test_fragmented_message_is_reassembled() -> None:
    peer, _ = open_socket()
    events = peer.send(TextMessage(data="ab", message_finished=False))
    assert app_messages(events) == []
    events = peer.send(TextMessage(data="cd", message_finished=True))
    assert app_messages(events) == [{"type": "websocket.receive", "bytes": None, "text": "abcd"}]


def test_client_ping_gets_a_pong() -> None:
    peer, _ = open_socket()
    peer.send(Ping(b"are you there"))
    assert peer.received() == [Pong(b"are you there")]


def test_keep_alive_timeout_does_not_apply_once_upgraded() -> None:
    peer, _ = open_socket()
    assert peer.h.conn.get_timer() is None
    assert not closed(peer.timer(peer.h.now + 3600))


# ------------------------------------------------------------------- closing
def test_client_close_code_and_reason_reach_the_app() -> None:
    peer, _ = open_socket()
    events = peer.send(CloseConnection(code=4001, reason="bye now"))
    assert app_messages(events) == [
        {"type": "websocket.disconnect", "code": 4001, "reason": "bye now"}
    ]
    (echo,) = peer.received()
    assert isinstance(echo, CloseConnection) and echo.code == 4001
    assert closed(events)  # the server closes TCP once the handshake is complete
    with pytest.raises(WebSocketClosedError):
        peer.app({"type": "websocket.send", "text": "too late"})
    peer.app({"type": "websocket.close"})  # closing again is harmless


def test_client_close_without_code_is_1005() -> None:
    peer, _ = open_socket()
    events = peer.send(CloseConnection(code=CloseReason.NO_STATUS_RCVD))
    assert app_messages(events) == [{"type": "websocket.disconnect", "code": 1005, "reason": ""}]


def test_app_close_code_and_reason_reach_the_client() -> None:
    peer, _ = open_socket()
    events = peer.app({"type": "websocket.close", "code": 4002, "reason": "go away"})
    assert not closed(events)  # waiting for the client's reply
    (close,) = peer.received()
    assert isinstance(close, CloseConnection)
    assert (close.code, close.reason) == (4002, "go away")
    with pytest.raises(WebSocketClosedError):
        peer.app({"type": "websocket.send", "bytes": b"late"})
    events = peer.send(close.response())
    assert app_messages(events) == [
        {"type": "websocket.disconnect", "code": 4002, "reason": "go away"}
    ]
    assert closed(events)


def test_close_handshake_times_out_if_the_client_never_replies() -> None:
    peer, _ = open_socket()
    peer.app({"type": "websocket.close"})
    deadline = peer.h.conn.get_timer()
    assert deadline == peer.h.now + 5.0
    events = peer.timer(deadline)
    assert app_messages(events) == [{"type": "websocket.disconnect", "code": 1006, "reason": ""}]
    assert closed(events)


def test_abrupt_tcp_loss_is_1006() -> None:
    peer, _ = open_socket()
    events = peer.h.feed(b"")
    assert app_messages(events) == [{"type": "websocket.disconnect", "code": 1006, "reason": ""}]
    assert closed(events)
    peer2, _ = open_socket()
    peer2.h.conn.connection_lost(peer2.h.now)
    assert app_messages(peer2.h.drain()) == [
        {"type": "websocket.disconnect", "code": 1006, "reason": ""}
    ]


def test_disconnect_while_handshaking() -> None:
    peer = Peer()
    peer.connect()
    peer.h.conn.connection_lost(peer.h.now)
    assert app_messages(peer.h.drain()) == [
        {"type": "websocket.disconnect", "code": 1006, "reason": ""}
    ]
    with pytest.raises(WebSocketClosedError):
        peer.app({"type": "websocket.accept"})


@pytest.mark.parametrize(("exc", "code"), [(None, 1000), (RuntimeError("boom"), 1011)])
def test_app_ending_while_open_closes(exc: BaseException | None, code: int) -> None:
    peer, _ = open_socket()
    peer.h.conn.app_finished(1, exc, peer.h.now)
    events = peer.h.drain()
    (close,) = peer.received()
    assert isinstance(close, CloseConnection) and close.code == code
    assert app_messages(events) == []  # the app is gone: nothing more is queued for it
    events = peer.send(close.response())
    assert closed(events)
    assert app_messages(events) == []


def test_protocol_error_fails_the_connection() -> None:
    peer, _ = open_socket()
    # An unmasked frame from a client is a protocol error (RFC 6455 5.1).
    events = peer.h.feed(b"\x81\x02hi")
    (close,) = peer.received()
    assert isinstance(close, CloseConnection) and close.code == 1002
    assert app_messages(events)[0]["code"] == 1006
    assert closed(events)


# -------------------------------------------------------------- message size
def test_message_over_the_limit_closes_1009() -> None:
    peer, _ = open_socket(WSSettings(websocket_max_message_size=1000))
    events = peer.send(BytesMessage(data=b"x" * 1000))
    assert app_messages(events) == [
        {"type": "websocket.receive", "bytes": b"x" * 1000, "text": None}
    ]
    events = peer.send(TextMessage(data="é" * 501))  # 1002 bytes of UTF-8
    assert closed(assert_refused_too_big(peer, events))


def test_limit_is_enforced_while_fragments_arrive() -> None:
    peer, _ = open_socket(WSSettings(websocket_max_message_size=1000))
    for _ in range(3):
        peer.send(BytesMessage(data=b"x" * 400, message_finished=False))
    # Frames still arriving are dropped; the client's close reply is still understood.
    peer.send(BytesMessage(data=b"x" * 400, message_finished=True))
    (close,) = peer.received()
    assert isinstance(close, CloseConnection) and close.code == 1009
    events = peer.send(close.response())
    assert closed(events)
    assert [m["type"] for m in app_messages(peer.h.events)] == [
        "websocket.connect",
        "websocket.disconnect",
    ]


# -------------------------------------------------------- permessage-deflate
def test_permessage_deflate_is_negotiated_and_used() -> None:
    peer, received = open_socket(deflate=True)
    (accepted,) = received
    assert isinstance(accepted, AcceptConnection)
    assert [ext.name for ext in accepted.extensions] == ["permessage-deflate"]
    text = "compress me " * 200
    wire_before = len(peer.client.send(TextMessage(data="x")))
    events = peer.send(TextMessage(data=text))
    assert app_messages(events) == [{"type": "websocket.receive", "bytes": None, "text": text}]
    peer.app({"type": "websocket.send", "text": text})
    sent = peer.h.wire
    assert len(sent) < len(text) // 10  # it really was compressed
    (echo,) = peer.received()
    assert isinstance(echo, TextMessage) and echo.data == text
    assert wire_before > 0


def test_compression_can_be_turned_off() -> None:
    peer, received = open_socket(WSSettings(websocket_compression=False), deflate=True)
    (accepted,) = received
    assert isinstance(accepted, AcceptConnection)
    assert accepted.extensions == []
    peer.app({"type": "websocket.send", "text": "a" * 1000})
    assert len(peer.h.wire) > 1000


def test_new_options_in_config() -> None:
    config = Config()
    assert config.websocket_compression is True
    assert config.websocket_pong_timeout == 20.0
    loaded = Config.from_mapping({"websocket_compression": False, "websocket_pong_timeout": None})
    assert loaded.websocket_compression is False
    assert loaded.websocket_pong_timeout is None
    with pytest.raises(ConfigError, match="websocket_compression"):
        Config.from_mapping({"websocket_compression": "yes"})


def test_a_config_serves_websockets_with_its_options() -> None:
    config = Config()
    config.websocket_compression = False
    config.websocket_ping_interval = 3.0
    conn = ServerConnection(config, client=None, server=None, scheme="http", now=100.0)
    client = WSConnection(ConnectionType.CLIENT)
    request = Request(host="x", target="/", extensions=[PerMessageDeflate()])
    conn.receive_data(client.send(request), 100.0)
    conn.app_send(1, {"type": "websocket.accept"}, 100.0)
    client.receive_data(conn.data_to_send())
    (accepted,) = client.events()
    assert isinstance(accepted, AcceptConnection) and accepted.extensions == []
    assert conn.get_timer() == 103.0


@pytest.mark.parametrize(
    ("offer", "response"),
    [
        ("permessage-deflate", "permessage-deflate"),
        (
            "permessage-deflate; client_max_window_bits; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10",
        ),
        ("permessage-deflate; server_max_window_bits=8", None),
        ("permessage-deflate; unknown_param", None),
        ("permessage-deflate; client_no_context_takeover; client_no_context_takeover", None),
        ("x-webkit-deflate-frame", None),
    ],
)
def test_deflate_negotiation_follows_rfc_7692(offer: str, response: str | None) -> None:
    assert BoundedDeflate(MiB).negotiate(offer) == response


def _compressed_frame(payload: bytes, opcode: int) -> bytes:
    """One masked, compressed, final frame: what a client sends for ``payload``."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    body = body[:-4]
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(body))
    header = bytes([0x80 | 0x40 | opcode])
    if len(body) < 126:
        header += bytes([0x80 | len(body)])
    elif len(body) < 65536:
        header += bytes([0x80 | 126]) + len(body).to_bytes(2, "big")
    else:
        header += bytes([0x80 | 127]) + len(body).to_bytes(8, "big")
    return header + mask + masked


@pytest.mark.parametrize("opcode", [0x2, 0x1])
def test_deflate_bomb_is_refused_without_inflating_it(opcode: int) -> None:
    peer, _ = open_socket(WSSettings(websocket_max_message_size=MiB), deflate=True)
    # 100 MiB of one character: about 100 KiB compressed (deflate's ratio tops out
    # near 1000:1). For text, "é" makes the cut fall inside a character.
    plain = b"\x00" * (100 * MiB) if opcode == 0x2 else "é".encode() * (50 * MiB)
    frame = _compressed_frame(plain, opcode)
    del plain
    assert len(frame) < 200 * 1024
    tracemalloc.start()
    try:
        events = peer.h.feed(frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB while refusing a 100 MiB bomb"
    assert closed(assert_refused_too_big(peer, events))


def test_compressed_messages_up_to_the_limit_pass() -> None:
    peer, _ = open_socket(WSSettings(websocket_max_message_size=100_000), deflate=True)
    events = peer.send(BytesMessage(data=b"z" * 100_000))
    assert app_messages(events) == [
        {"type": "websocket.receive", "bytes": b"z" * 100_000, "text": None}
    ]
    events = peer.send(BytesMessage(data=b"z" * 100_001))
    (close,) = peer.received()
    assert isinstance(close, CloseConnection) and close.code == 1009


def test_a_small_compressed_frame_inflating_past_the_limit_closes_1009() -> None:
    # about 200 bytes on the wire: the fast path takes the frame whole, and inflating
    # stops at the limit
    peer, _ = open_socket(WSSettings(websocket_max_message_size=100_000), deflate=True)
    frame = _compressed_frame(b"z" * 1_000_000, 0x2)
    assert len(frame) < 2000
    events = peer.h.feed(frame)
    assert_refused_too_big(peer, events)


@pytest.mark.parametrize(
    "frame",
    [
        _compressed_frame(b"\xff\xfe not UTF-8", 0x1),
        b"\xc1\x84\x01\x02\x03\x04" + bytes((0xFE, 0xFD, 0xFC, 0xFB)),  # ff ff ff ff, masked
    ],
    ids=["text-not-utf8", "not-deflate"],
)
def test_a_compressed_frame_that_is_not_valid_fails_the_connection_1007(frame: bytes) -> None:
    peer, _ = open_socket(deflate=True)
    events = peer.h.feed(frame)
    (message,) = app_messages(events)
    assert message["type"] == "websocket.disconnect" and message["code"] == 1006
    (close,) = peer.received()
    assert isinstance(close, CloseConnection) and close.code == 1007
    assert closed(events)


@pytest.mark.parametrize(
    "offer", [PerMessageDeflate(), PerMessageDeflate(client_no_context_takeover=True)]
)
def test_compressed_messages_whole_and_fragmented_share_one_context(
    offer: PerMessageDeflate,
) -> None:
    # whole frames go the fast path, fragments through wsproto: both inflate with the
    # same context, and the client's context takeover spans them
    peer = Peer()
    peer.h.feed(peer.client.send(Request(host="example.com", target="/ws", extensions=[offer])))
    peer.accept()
    sent: list[Message] = []
    got: list[Message] = []

    def taken(events: list[ev.Event]) -> list[Message]:
        messages = app_messages(events)
        for _ in messages:
            peer.h.conn.app_consumed(1)  # the app keeps up: its queue never fills
        return messages

    for number in range(30):
        text = f"message {number} " * (number % 7 + 1)
        if number % 5 == 4:
            half = len(text) // 2
            got += taken(peer.send(TextMessage(data=text[:half], message_finished=False)))
            got += taken(peer.send(TextMessage(data=text[half:], message_finished=True)))
        elif number % 3 == 0:
            got += taken(peer.send(BytesMessage(data=text.encode())))
            sent.append({"type": "websocket.receive", "bytes": text.encode(), "text": None})
            continue
        else:
            got += taken(peer.send(TextMessage(data=text)))
        sent.append({"type": "websocket.receive", "bytes": None, "text": text})
    assert got == sent
    for message in sent:  # and back, compressed by the server, read by wsproto
        peer.app({"type": "websocket.send", **{k: v for k, v in message.items() if k != "type"}})
    echoed = peer.received()
    assert [e.data for e in echoed] == [m["text"] or m["bytes"] for m in sent]  # type: ignore[attr-defined]


# ------------------------------------------------------------------ keepalive
def test_ping_interval_and_pong_timeout() -> None:
    settings = WSSettings(websocket_ping_interval=10.0, websocket_pong_timeout=5.0)
    peer, _ = open_socket(settings)
    start = peer.h.now
    assert peer.h.conn.get_timer() == start + 10.0
    peer.timer(start + 10.0)
    (ping,) = peer.received()
    assert isinstance(ping, Ping)
    assert peer.h.conn.get_timer() == start + 15.0  # the pong deadline comes first
    # wsproto's client answers pings by itself when told to.
    peer.send(ping.response())
    assert peer.h.conn.get_timer() == start + 20.0
    assert not closed(peer.timer(start + 15.0))
    peer.timer(start + 20.0)
    (ping,) = peer.received()
    assert isinstance(ping, Ping)
    # No pong this time: the peer counts as dead.
    events = peer.timer(start + 25.0)
    (close,) = peer.received()
    assert isinstance(close, CloseConnection) and close.code == 1011
    assert app_messages(events) == [{"type": "websocket.disconnect", "code": 1006, "reason": ""}]
    assert closed(events)


def test_no_pings_by_default() -> None:
    peer, _ = open_socket()
    assert peer.h.conn.get_timer() is None


# ------------------------------------------------------------------ shutdown
def test_shutdown_closes_open_websockets_with_1001() -> None:
    peer, _ = open_socket()
    peer.h.conn.start_shutdown(peer.h.now)
    events = peer.h.drain()
    assert not closed(events)
    (close,) = peer.received()
    assert isinstance(close, CloseConnection) and close.code == 1001
    events = peer.send(close.response())
    assert app_messages(events) == [{"type": "websocket.disconnect", "code": 1001, "reason": ""}]
    assert closed(events)


def test_shutdown_during_handshake_closes_right_after_accept() -> None:
    peer = Peer()
    peer.connect()
    peer.h.conn.start_shutdown(peer.h.now)
    assert not closed(peer.h.drain())
    accepted, close = peer.accept()
    assert isinstance(accepted, AcceptConnection)
    assert isinstance(close, CloseConnection) and close.code == 1001


# --------------------------------------------------------------- backpressure
def test_a_slow_app_pauses_reading_and_frames_wait_unparsed() -> None:
    peer, _ = open_socket(WSSettings(max_app_queue_size=2))
    peer.h.conn.app_consumed(1)  # websocket.connect
    framer = b"".join(peer.client.send(TextMessage(data=str(i))) for i in range(5))
    events = peer.h.feed(framer)
    assert [m["text"] for m in app_messages(events)] == ["0", "1"]
    assert any(isinstance(e, ev.PauseReading) for e in events)
    peer.h.conn.app_consumed(1)
    events = peer.h.drain()
    assert [m["text"] for m in app_messages(events)] == ["2"]
    peer.h.conn.app_consumed(1)
    peer.h.conn.app_consumed(1)
    events = peer.h.drain()
    assert [m["text"] for m in app_messages(events)] == ["3", "4"]
    peer.h.conn.app_consumed(1)
    peer.h.conn.app_consumed(1)
    assert any(isinstance(e, ev.ResumeReading) for e in peer.h.drain())


# --------------------------------------------------------------- odds and ends
def test_send_needs_bytes_or_text_and_close_a_valid_code() -> None:
    peer, _ = open_socket()
    with pytest.raises(ValueError, match="'bytes' or 'text'"):
        peer.app({"type": "websocket.send"})
    with pytest.raises(ValueError, match="close code"):
        peer.app({"type": "websocket.close", "code": 999})
    events = peer.send(TextMessage(data="still open"))
    assert app_messages(events)[0]["text"] == "still open"


def test_websocket_after_a_pipelined_http_request() -> None:
    peer = Peer()
    plain = b"GET /first HTTP/1.1\r\nhost: example.com\r\n\r\n"
    upgrade = peer.client.send(Request(host="example.com", target="/second"))
    framer = Connection(ConnectionType.CLIENT)
    events = peer.h.feed(plain + upgrade + framer.send(TextMessage(data="early")))
    (first,) = [e for e in events if isinstance(e, ev.StartApp)]
    assert first.scope["type"] == "http"
    peer.h.respond(1)
    second = [e for e in peer.h.drain() if isinstance(e, ev.StartApp)]
    peer.h.events.extend(second)
    (start,) = [e for e in peer.h.events if isinstance(e, ev.StartApp) and e.stream_id == 2]
    assert start.scope["type"] == "websocket"
    assert start.scope["path"] == "/second"
    peer.h.wire = peer.h.wire[peer.h.wire.index(b"HTTP/1.1 200") :]
    peer.h.wire = peer.h.wire[peer.h.wire.index(b"\r\n\r\n") + 4 + 2 :]  # skip "hi"
    events = peer.h.app_send(2, {"type": "websocket.accept"})
    assert {"type": "websocket.receive", "bytes": None, "text": "early"} in app_messages(events)
    assert isinstance(peer.received()[0], AcceptConnection)


def test_raw_header_names_and_server_names_apply() -> None:
    peer = Peer(WSSettings(h11_pass_raw_headers=True))
    (start,) = [e for e in peer.connect() if isinstance(e, ev.StartApp)]
    assert any(name == b"Sec-WebSocket-Key" for name, _ in start.scope["headers"])
    refused = Peer(WSSettings(server_names=["other.example"]))
    events = refused.connect()
    assert not [e for e in events if isinstance(e, ev.StartApp)]
    (rejected,) = [e for e in refused.received() if isinstance(e, RejectConnection)]
    assert rejected.status_code == 404


def test_peer_gone_before_the_app_answered() -> None:
    peer = Peer()
    events = peer.connect()
    events = peer.h.feed(b"")  # EOF arrives before reading paused
    assert app_messages(events) == [{"type": "websocket.disconnect", "code": 1006, "reason": ""}]
    assert closed(events)
