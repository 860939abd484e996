"""The small-message fast path beside wsproto (``hypercorn_protocol.websocket.frames``).

The reference is wsproto itself: any client byte stream, cut anywhere, must give the
same messages, pings and closes through the splitter (fast messages, the rest handed
to wsproto) as through wsproto alone, and what wsproto is handed must be exactly the
frames the fast path did not take.
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.frame_protocol import FrameProtocol, Opcode, XorMaskerSimple

from hypercorn_protocol.websocket.frames import (
    BINARY,
    FAST_FRAME_LIMIT,
    TEXT,
    CompressedMessage,
    FastMessage,
    FrameSplitter,
    encode_frame,
    unmask,
)

MASK = b"\x37\xfa\x21\x3d"


def _client_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """A masked frame as a client sends it (built by hand: some are deliberately odd)."""
    size = len(payload)
    if size < 126:
        head = bytes((fin << 7 | rsv << 4 | opcode, 0x80 | size))
    elif size < 0x10000:
        head = bytes((fin << 7 | rsv << 4 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((fin << 7 | rsv << 4 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    return head + MASK + unmask(payload, MASK)


def _split(data: bytes, splitter: FrameSplitter, fast: bool = True) -> list[Any]:
    splitter.feed(data)
    out: list[Any] = []
    while (item := splitter.next(fast)) is not None:
        out.append(item)
    return out


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 126, 1000, 65536, 70001])
def test_unmask_is_wsprotos_xor(size: int) -> None:
    payload = os.urandom(size)
    assert unmask(payload, MASK) == XorMaskerSimple(MASK).process(bytearray(payload))


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 100_000])
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_encoded_frames_parse_as_one_final_frame_in_wsproto(size: int, opcode: int) -> None:
    payload = b"x" * size
    client = FrameProtocol(client=True, extensions=[])
    client.receive_bytes(encode_frame(opcode, payload))
    (frame,) = list(client.received_frames())
    assert frame.opcode is Opcode(opcode)
    assert frame.frame_finished and frame.message_finished
    received = frame.payload
    assert (received.encode() if isinstance(received, str) else received) == payload


def test_a_whole_small_message_is_taken_once_its_last_byte_arrives() -> None:
    frame = _client_frame(TEXT, "héllo".encode())
    splitter = FrameSplitter(1 << 20)
    for byte in frame[:-1]:
        assert _split(bytes((byte,)), splitter) == []
    (message,) = _split(frame[-1:], splitter)
    assert isinstance(message, FastMessage)
    assert (message.text, message.data) == ("héllo", None)
    assert splitter.next(True) is None  # nothing left over


@pytest.mark.parametrize(
    "frame",
    [
        _client_frame(0x9, b"ping"),  # control frame
        _client_frame(TEXT, b"part", fin=False),  # a fragment
        _client_frame(BINARY, b"x", rsv=4),  # a reserved bit
        _client_frame(TEXT, b"\xff\xfe"),  # invalid UTF-8: wsproto fails it (1007)
        bytes((0x82, 126)) + (5).to_bytes(2, "big") + MASK + unmask(b"12345", MASK),  # not minimal
        bytes((0x82, 3)) + b"abc",  # not masked
        _client_frame(0x3, b"?"),  # a reserved opcode
    ],
    ids=["ping", "fragment", "rsv", "bad-utf8", "long-length", "unmasked", "opcode"],
)
def test_every_other_frame_goes_to_wsproto_byte_for_byte(frame: bytes) -> None:
    assert b"".join(_split(frame, FrameSplitter(1 << 20))) == frame


def test_fragments_and_what_interleaves_them_go_to_wsproto_then_the_fast_path_resumes() -> None:
    stream = [
        _client_frame(TEXT, b"one ", fin=False),
        _client_frame(0x9, b""),
        _client_frame(TEXT, b"no: a new message inside a fragmented one"),
        _client_frame(0x0, b"two", fin=True),
        _client_frame(TEXT, b"fast again"),
    ]
    items = _split(b"".join(stream), FrameSplitter(1 << 20))
    assert items[:4] == stream[:4]
    assert isinstance(items[4], FastMessage) and items[4].text == "fast again"


def test_a_frame_over_the_limit_is_streamed_to_wsproto_as_it_arrives() -> None:
    frame = _client_frame(BINARY, b"z" * (FAST_FRAME_LIMIT + 1))
    splitter = FrameSplitter(1 << 30)
    chunks = _split(frame[:1000], splitter) + _split(frame[1000:], splitter)
    assert [len(chunk) for chunk in chunks] == [1000, len(frame) - 1000]
    small = _client_frame(BINARY, b"small")
    assert b"".join(_split(small, FrameSplitter(4))) == small  # over a lower message limit


def test_with_compression_on_a_whole_rsv1_frame_comes_unmasked_and_still_compressed() -> None:
    frame = _client_frame(TEXT, b"deflated bytes", rsv=4)
    splitter = FrameSplitter(1 << 20)
    splitter.feed(frame)
    message = splitter.next(True, compressed=True)
    assert isinstance(message, CompressedMessage)
    assert (message.text, message.payload) == (True, b"deflated bytes")
    for odd in (_client_frame(BINARY, b"x", rsv=2), _client_frame(BINARY, b"x", rsv=6)):
        splitter.feed(odd)  # RSV2 / RSV3 mean nothing here: wsproto fails them
        assert splitter.next(True, compressed=True) == odd


def test_nothing_is_taken_fast_when_the_caller_says_not_now() -> None:
    frame = _client_frame(BINARY, b"closing")
    assert _split(frame, FrameSplitter(1 << 20), fast=False) == [frame]


def _messages_of(events: list[Any], parts: list[Any], out: list[Any]) -> None:
    for event in events:
        if isinstance(event, (TextMessage, BytesMessage)):
            parts.append(event.data)
            if event.message_finished:
                joined = "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)
                out.append(("text" if isinstance(event, TextMessage) else "bytes", joined))
                parts.clear()
        elif isinstance(event, Ping):
            out.append(("ping", event.payload))
        elif isinstance(event, CloseConnection):
            out.append(("close", event.code))


def _random_stream(rng: random.Random) -> bytes:
    frames = []
    for _ in range(rng.randrange(1, 30)):
        kind = rng.random()
        size = rng.choice([0, 1, 5, 125, 126, 300, 70_000])
        if kind < 0.4:
            frames.append(_client_frame(TEXT, ("é" * size)[:size].encode()))
        elif kind < 0.7:
            frames.append(_client_frame(BINARY, os.urandom(size)))
        elif kind < 0.8:
            frames.append(_client_frame(0x9, os.urandom(min(size, 125))))
        else:
            frames.append(_client_frame(BINARY, b"a" * size, fin=False))
            frames.append(_client_frame(0x9, b"between"))
            frames.append(_client_frame(0x0, b"b" * size, fin=True))
    if rng.random() < 0.3:
        frames.append(_client_frame(TEXT, b"\xc3\x28"))  # invalid: the connection fails
    frames.append(_client_frame(0x8, (1000).to_bytes(2, "big")))
    return b"".join(frames)


@pytest.mark.parametrize("seed", range(40))
def test_any_stream_cut_anywhere_means_what_it_means_to_wsproto(seed: int) -> None:
    rng = random.Random(seed)
    data = _random_stream(rng)

    reference: list[Any] = []
    alone = Connection(ConnectionType.SERVER)
    alone.receive_data(data)
    _messages_of(list(alone.events()), [], reference)

    got: list[Any] = []
    parts: list[Any] = []
    behind = Connection(ConnectionType.SERVER)
    splitter = FrameSplitter(1 << 20)
    at = 0
    while at < len(data):
        step = rng.choice([1, 2, 7, 100, 5000, 100_000])
        for item in _split(data[at : at + step], splitter):
            if isinstance(item, FastMessage):
                got.append(("text", item.text) if item.text is not None else ("bytes", item.data))
            elif behind.state.name != "CLOSED":
                behind.receive_data(item)
                _messages_of(list(behind.events()), parts, got)
        at += step

    assert got == reference
