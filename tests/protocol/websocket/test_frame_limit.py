"""``websocket_max_message_size`` applied to frame headers: 1009 before the payload.

Frames are written by hand (masked, as from a client) so that a header can be fed
without its payload, or cut anywhere; a wsproto client reads what the server says.
"""

from __future__ import annotations

import tracemalloc

import pytest
from wsproto.events import BytesMessage, CloseConnection, Pong, TextMessage

from tests.protocol.websocket.test_stream import (
    MiB,
    WSSettings,
    app_messages,
    closed,
    open_socket,
)

MASK = b"\x00\x00\x00\x00"  # an all-zero key: the payload goes out as it is


def header(length: int, opcode: int = 0x2, fin: bool = True) -> bytes:
    first = bytes([(0x80 if fin else 0) | opcode])
    if length < 126:
        size = bytes([0x80 | length])
    elif length < 65536:
        size = bytes([0x80 | 126]) + length.to_bytes(2, "big")
    else:
        size = bytes([0x80 | 127]) + length.to_bytes(8, "big")
    return first + size + MASK


def test_a_frame_announcing_more_than_the_limit_is_refused_from_its_header() -> None:
    peer, _ = open_socket(WSSettings(websocket_max_message_size=1000))
    events = peer.h.feed(header(16 * MiB + 1))  # the header alone, no payload yet
    assert app_messages(events) == []
    (close,) = peer.received()
    assert isinstance(close, CloseConnection) and close.code == 1009
    assert close.reason == "message too big"
    # The payload still coming is read and dropped (nothing buffered, nothing
    # delivered) and the peer's close reply, after it, is understood.
    tracemalloc.start()
    try:
        chunk = b"\x00" * 65536  # as a driver reads
        for _ in range(256):
            peer.h.feed(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MiB, f"peak {peak / MiB:.1f} MiB while dropping 16 MiB"
    events = peer.h.feed(b"\x00" + header(2, opcode=0x8) + b"\x03\xf1")  # close 1009
    assert app_messages(peer.h.events)[1:] == [
        {"type": "websocket.disconnect", "code": 1009, "reason": ""}
    ]
    assert closed(events)


def test_a_frame_exactly_at_the_limit_passes() -> None:
    peer, _ = open_socket(WSSettings(websocket_max_message_size=1000))
    events = peer.h.feed(header(1000) + b"x" * 1000)
    assert app_messages(events) == [
        {"type": "websocket.receive", "bytes": b"x" * 1000, "text": None}
    ]
    assert peer.received() == []


def test_a_continuation_taking_the_total_past_the_limit_is_refused_from_its_header() -> None:
    peer, _ = open_socket(WSSettings(websocket_max_message_size=1000))
    peer.h.feed(header(600, fin=False) + b"a" * 600)
    assert peer.received() == []
    peer.h.feed(header(401, opcode=0x0))  # 1001 in all: refused before its payload
    (close,) = peer.received()
    assert isinstance(close, CloseConnection) and close.code == 1009
    assert [m["type"] for m in app_messages(peer.h.events)] == ["websocket.connect"]


def test_headers_cut_anywhere_are_counted_once() -> None:
    """wsproto rereads a header whose masking key is incomplete: no double count."""
    peer, _ = open_socket(WSSettings(websocket_max_message_size=1000))
    first = header(600, fin=False) + b"a" * 600
    second = header(400, opcode=0x0) + b"b" * 400
    for index in range(8):  # each header (with its key) byte by byte
        peer.h.feed(first[index : index + 1])
    peer.h.feed(first[8:])
    for index in range(8):
        peer.h.feed(second[index : index + 1])
    events = peer.h.feed(second[8:])
    assert app_messages(events) == [
        {"type": "websocket.receive", "bytes": b"a" * 600 + b"b" * 400, "text": None}
    ]
    assert peer.received() == []


def test_control_frames_between_fragments_do_not_count() -> None:
    peer, _ = open_socket(WSSettings(websocket_max_message_size=1000))
    peer.h.feed(header(600, fin=False) + b"a" * 600)
    peer.h.feed(header(100, opcode=0x9) + b"p" * 100)  # a ping of 100 bytes
    events = peer.h.feed(header(400, opcode=0x0) + b"b" * 400)
    assert app_messages(events) == [
        {"type": "websocket.receive", "bytes": b"a" * 600 + b"b" * 400, "text": None}
    ]
    (pong,) = peer.received()
    assert not isinstance(pong, CloseConnection)


def test_each_message_starts_its_own_count() -> None:
    peer, _ = open_socket(WSSettings(websocket_max_message_size=1000))
    for _ in range(5):
        peer.send(BytesMessage(data=b"x" * 1000))
    peer.send(TextMessage(data="t" * 1000))
    assert len(app_messages(peer.h.events)) == 7  # connect, then six messages
    assert peer.received() == []


@pytest.mark.parametrize("queued", [1, 3])
def test_messages_before_the_oversized_one_are_still_delivered(queued: int) -> None:
    """The header check runs as wsproto reaches the frame, in order, not as bytes land."""
    peer, _ = open_socket(WSSettings(websocket_max_message_size=1000, max_app_queue_size=2))
    small = b"".join(header(5) + b"small" for _ in range(queued))
    peer.h.feed(small + header(5000))
    # a full app queue holds the rest unparsed; taking messages lets parsing go on
    for _ in range(queued + 1):
        peer.h.conn.app_consumed(1)
        peer.h.drain()
    delivered = [m for m in app_messages(peer.h.events) if m["type"] == "websocket.receive"]
    assert [m["bytes"] for m in delivered] == [b"small"] * queued
    (close,) = peer.received()
    assert isinstance(close, CloseConnection) and close.code == 1009


def test_a_ping_still_gets_its_pong_before_an_oversized_frame() -> None:
    peer, _ = open_socket(WSSettings(websocket_max_message_size=1000))
    peer.h.feed(header(4, opcode=0x9) + b"ping" + header(2000))
    pong, close = peer.received()
    assert isinstance(pong, Pong) and pong.payload == b"ping"
    assert isinstance(close, CloseConnection) and close.code == 1009


def test_over_http2_the_header_alone_is_refused_and_the_window_is_not_spent() -> None:
    """RFC 8441: the same check on a stream; the client needs no more window to learn it."""
    from wsproto.connection import Connection, ConnectionType

    from tests.helpers.h2client import H2Harness
    from tests.protocol.http2.test_websocket import open_websocket, stream_data

    h = H2Harness(WSSettings(websocket_max_message_size=1000))
    stream_id = open_websocket(h)
    h.conn.app_consumed(stream_id)
    h.app_send(stream_id, {"type": "websocket.accept"})
    h.client_events.clear()
    h.client.send_data(stream_id, header(16 * MiB))
    h.exchange()
    client_ws = Connection(ConnectionType.CLIENT)
    client_ws.receive_data(stream_data(h, stream_id))
    (close,) = list(client_ws.events())
    assert isinstance(close, CloseConnection) and close.code == 1009
