"""Fuzzing WebSocket over HTTP/1.1 through ``ServerConnection``: frames after a handshake.

A wsproto client upgrades and the app accepts (``websocket.accept``); then come frames
built by hand - masked and unmasked, unknown opcodes, RSV bits, fragmented and oversized
control frames, continuation without a start, oversize and non-minimal lengths, invalid
UTF-8 text, bad close codes and reasons - or wsproto-made frames with bytes mutated, in
random chunks. The app echoes every message. Invariants: nothing raises out of the core;
every byte after the 101 parses as server frames (unmasked, known opcodes, control frames
short and unfragmented); a close frame, when sent, is the last frame and carries a code
a server may send; a connection the server closes by itself was closed with a close
frame; nothing is written after CloseConnection.
"""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import event as hypothesis_event, given, strategies as st
from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import Request
from wsproto.frame_protocol import FrameProtocol

from hypercorn_protocol.config import Config
from tests.fuzz._driver import AppPolicy, FuzzDriver, split
from tests.fuzz._settings import fuzz_settings

pytestmark = pytest.mark.usefixtures("http1_wire")  # every test on each HTTP/1.1 wire

#: Codes a server may put in a close frame (RFC 6455 section 7.4, IANA registry).
SENDABLE = set(range(1000, 1004)) | set(range(1007, 1015)) | set(range(3000, 5000))
CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 1012, 3000, 4999]
BAD_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    length: int | None = None,
    wide: bool = False,
) -> bytes:
    """One client frame; ``length`` lies about the payload, ``wide`` is non-minimal."""
    size = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    if size < 126 and not wide:
        head += bytes([mask_bit | size])
    elif size < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size % (1 << 64))
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


texts = st.one_of(
    st.text(max_size=40).map(lambda t: t.encode()),
    st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"a\xc3\x28"]),
)
close_payloads = st.one_of(
    st.just(b""),
    st.just(b"\x03"),  # a one-byte close body is invalid
    st.tuples(st.sampled_from(CLOSE_CODES + BAD_CLOSE_CODES), texts).map(
        lambda t: struct.pack("!H", t[0]) + t[1]
    ),
)
MOSTLY = st.sampled_from([True, True, True, False])

frames = st.one_of(
    st.tuples(st.just(0x1), texts, MOSTLY, MOSTLY).map(
        lambda t: frame(t[0], t[1], fin=t[2], masked=t[3])
    ),
    st.tuples(st.just(0x2), st.binary(max_size=200), MOSTLY, MOSTLY).map(
        lambda t: frame(t[0], t[1], fin=t[2], masked=t[3])
    ),
    st.tuples(st.just(0x0), st.binary(max_size=50), st.booleans()).map(
        lambda t: frame(t[0], t[1], fin=t[2])
    ),
    st.tuples(st.sampled_from([0x9, 0xA]), st.binary(max_size=130), MOSTLY).map(
        lambda t: frame(t[0], t[1], fin=t[2])  # over 125 bytes or unfinished: invalid
    ),
    close_payloads.map(lambda p: frame(0x8, p)),
    st.tuples(st.sampled_from([0x3, 0x7, 0xB, 0xF]), st.binary(max_size=10)).map(
        lambda t: frame(t[0], t[1])
    ),
    st.tuples(st.integers(1, 7), st.binary(max_size=10)).map(lambda t: frame(0x2, t[1], rsv=t[0])),
    st.sampled_from([17 * 1024 * 1024, 1 << 40, (1 << 63) + 5]).map(
        lambda n: frame(0x2, b"x", length=n)  # declares more than the size limit
    ),
    st.binary(max_size=20).map(lambda p: frame(0x2, p, wide=True)),
    st.binary(max_size=30),  # noise
)


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    """A frame made by wsproto's client framing, with a few bytes changed."""
    protocol = FrameProtocol(client=True, extensions=[])
    kind = draw(st.sampled_from(["text", "bytes", "ping", "close"]))
    if kind == "text":
        data = protocol.send_data(draw(st.text(max_size=30)), fin=draw(MOSTLY))
    elif kind == "bytes":
        data = protocol.send_data(draw(st.binary(max_size=60)), fin=draw(MOSTLY))
    elif kind == "ping":
        data = protocol.ping(draw(st.binary(max_size=20)))
    else:
        data = protocol.close(draw(st.sampled_from(CLOSE_CODES)), draw(st.text(max_size=10)))
    damaged = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(damaged) - 1))
        damaged[position] ^= draw(st.integers(1, 255))
    return bytes(damaged)


def parse_server_frames(data: bytes) -> tuple[list[tuple[int, bytes, bool]], bytes]:
    """Server frames: (opcode, payload, fin); the bytes of a partial frame are returned."""
    out: list[tuple[int, bytes, bool]] = []
    position = 0
    while position + 2 <= len(data):
        first, second = data[position], data[position + 1]
        assert first & 0x70 == 0, "RSV bits set without an extension"
        assert not second & 0x80, "a server frame was masked"
        size = second & 0x7F
        start = position + 2
        if size == 126:
            if start + 2 > len(data):
                break
            size = struct.unpack("!H", data[start : start + 2])[0]
            start += 2
        elif size == 127:
            if start + 8 > len(data):
                break
            size = struct.unpack("!Q", data[start : start + 8])[0]
            start += 8
        if start + size > len(data):
            break
        opcode, fin = first & 0x0F, bool(first & 0x80)
        assert opcode in (0x0, 0x1, 0x2, 0x8, 0x9, 0xA), f"opcode {opcode:#x}"
        if opcode >= 0x8:
            assert fin and size <= 125, "invalid control frame"
        out.append((opcode, bytes(data[start : start + size]), fin))
        position = start + size
    return out, bytes(data[position:])


def check_frames(written: bytes, closed_by_server: bool) -> None:
    frames_out, partial = parse_server_frames(written)
    assert partial == b"", "a partial frame was written"
    closes = [i for i, (opcode, _, _) in enumerate(frames_out) if opcode == 0x8]
    if closes:
        assert closes[0] == len(frames_out) - 1, "frames after the close frame"
        body = frames_out[closes[0]][1]
        assert len(body) != 1
        if body:
            code = struct.unpack("!H", body[:2])[0]
            assert code in SENDABLE, f"close code {code}"
            body[2:].decode("utf-8")
            hypothesis_event(f"server closed with {code}")
    if closed_by_server:
        assert closes, "the server closed without a close frame"


def open_websocket(config: Config | None = None) -> tuple[FuzzDriver, int]:
    driver = FuzzDriver(config=config, policy=AppPolicy(accept_websockets=True))
    client = WSConnection(ConnectionType.CLIENT)
    driver.receive(client.send(Request(host="example.com", target="/ws")))
    driver.run_apps()
    head_end = bytes(driver.output).find(b"\r\n\r\n")
    assert bytes(driver.output).startswith(b"HTTP/1.1 101 "), bytes(driver.output[:100])
    return driver, head_end + 4


def run_frames(stream: bytes, cuts: list[int], config: Config | None = None) -> None:
    driver, after_handshake = open_websocket(config)
    for part in split(stream, cuts):
        driver.receive(part)
        driver.run_apps()
    closed_by_server = driver.conn.closed
    problems = driver.common_violations()
    assert not problems, problems
    check_frames(bytes(driver.output[after_handshake:]), closed_by_server)
    hypothesis_event(f"closed by server: {closed_by_server}")
    # Then the peer goes away: the connection closes, the app hears disconnect.
    driver.eof()
    driver.finish_all_apps()
    driver.tick(3600)
    assert driver.conn.closed
    assert not driver.common_violations()
    check_frames(bytes(driver.output[after_handshake:]), False)
    messages = [m["type"] for r in driver.streams.values() for m in r.messages]
    assert messages.count("websocket.disconnect") == 1, messages


@fuzz_settings(max_examples=600)
@given(parts=st.lists(frames, max_size=8), cuts=st.lists(st.integers(1, 400), max_size=6))
def test_random_frames(parts: list[bytes], cuts: list[int]) -> None:
    run_frames(b"".join(parts), cuts)


@fuzz_settings(max_examples=300)
@given(
    parts=st.lists(st.one_of(mutated_messages(), frames), min_size=1, max_size=5),
    cuts=st.lists(st.integers(1, 200), max_size=4),
)
def test_mutated_wsproto_frames(parts: list[bytes], cuts: list[int]) -> None:
    run_frames(b"".join(parts), cuts)


@fuzz_settings(max_examples=200)
@given(parts=st.lists(frames, max_size=6), size=st.sampled_from([0, 1, 10, 125, 126]))
def test_small_message_limit(parts: list[bytes], size: int) -> None:
    # A tight websocket_max_message_size: oversize messages close with 1009, never raise.
    config = Config()
    config.websocket_max_message_size = size
    run_frames(b"".join(parts), [], config)
