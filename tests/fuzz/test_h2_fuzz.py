"""Fuzzing HTTP/2 through ``ServerConnection``: random frame sequences after the preface.

Frames are built with hyperframe (and raw, for what hyperframe refuses to build: frames
on the wrong stream, unknown types, bad lengths); header blocks are encoded with hpack
from valid and damaged requests, sometimes with their bytes mutated, sometimes split
over CONTINUATION frames. Invariants: nothing raises out of the core; nothing is written
after CloseConnection; every byte written parses as HTTP/2 frames whose header blocks
decode; a closed connection said GOAWAY; an open one still answers a new request (or
closes with GOAWAY when that request is itself a protocol error).
"""

from __future__ import annotations

import struct
from typing import Any

import h2.config
import h2.connection
import h2.settings
import hpack
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from hypothesis import event as hypothesis_event, given, strategies as st

from tests.fuzz._driver import AppPolicy, FuzzDriver, split
from tests.fuzz._settings import fuzz_settings

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Mostly valid choices, so that sequences get past their first frame.
SIDS = st.sampled_from([1, 1, 1, 1, 3, 3, 3, 5, 5, 7, 9, 0, 2, 2**31 - 1])
MOSTLY = st.sampled_from([True, True, True, False])


def sometimes(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """None three times in four."""
    return st.one_of(st.none(), st.none(), st.none(), strategy)


U31 = st.integers(0, 2**31 - 1)
U32 = st.integers(0, 2**32 - 1)

SETTING_VALUES = {
    SettingsFrame.HEADER_TABLE_SIZE: st.sampled_from([0, 100, 4096, 2**32 - 1]),
    SettingsFrame.ENABLE_PUSH: st.sampled_from([0, 1, 2]),
    SettingsFrame.MAX_CONCURRENT_STREAMS: st.sampled_from([0, 1, 100, 2**32 - 1]),
    SettingsFrame.INITIAL_WINDOW_SIZE: st.sampled_from([0, 1, 65535, 2**31 - 1, 2**31]),
    SettingsFrame.MAX_FRAME_SIZE: st.sampled_from([16383, 16384, 2**24 - 1, 2**24]),
    SettingsFrame.MAX_HEADER_LIST_SIZE: st.sampled_from([0, 100, 2**16]),
    SettingsFrame.ENABLE_CONNECT_PROTOCOL: st.sampled_from([0, 1, 2]),
    0x99: U32,  # unknown settings must be ignored
}


def request_fields(method: bytes = b"GET", path: bytes = b"/") -> list[tuple[bytes, bytes]]:
    return [
        (b":method", method),
        (b":scheme", b"https"),
        (b":path", path),
        (b":authority", b"example.com"),
    ]


@st.composite
def header_lists(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    method = draw(st.sampled_from([b"GET", b"POST", b"HEAD", b"CONNECT", b"OPTIONS"]))
    fields = request_fields(method, draw(st.sampled_from([b"/", b"/a?b", b"*", b"", b"x"])))
    if method == b"CONNECT" and draw(st.booleans()):
        fields.append((b":protocol", b"websocket"))
        fields.append((b"sec-websocket-version", b"13"))
    extras = [
        (b"user-agent", b"fuzz"),
        (b"content-length", b"3"),
        (b"content-length", b"x"),
        (b"te", b"trailers"),
        (b"te", b"gzip"),
        (b"connection", b"keep-alive"),
        (b"X-Upper", b"1"),
        (b":unknown", b"1"),
        (b":path", b"/again"),
        (b"bad\x00name", b"1"),
        (b"x-crlf", b"a\r\nb"),
        (b"x-space", b" padded "),
        (b"cookie", b"a=1"),
        (b"cookie", b"b=2"),
        (b"x-big", b"v" * 5000),
    ]
    fields += draw(st.lists(st.sampled_from(extras), max_size=3))
    if draw(st.integers(0, 4)) == 0 and len(fields) > 1:
        fields.pop(draw(st.integers(0, len(fields) - 1)))
    if draw(st.integers(0, 4)) == 0:
        fields = draw(st.permutations(fields))
    return fields


def header_block(
    encoder: hpack.Encoder | None, fields: list[tuple[bytes, bytes]], huffman: bool
) -> bytes:
    """Encode with ``encoder``, or, given None, without touching any dynamic table."""
    if encoder is None:
        fields = [hpack.NeverIndexedHeaderTuple(name, value) for name, value in fields]
        return hpack.Encoder().encode(fields, huffman=huffman)
    return encoder.encode(fields, huffman=huffman)


def raw(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    header = struct.pack("!L", len(payload))[1:] + bytes([kind, flags])
    return header + struct.pack("!L", stream_id) + payload


def with_stream(frame: Frame, stream_id: int) -> bytes:
    """hyperframe refuses frames on the wrong stream; patch the id in afterwards."""
    data = bytearray(frame.serialize())
    data[5:9] = struct.pack("!L", stream_id)
    return bytes(data)


# An action is a tuple; the test body turns it into bytes with a per-example encoder.
settings_action = st.tuples(
    st.dictionaries(st.sampled_from(list(SETTING_VALUES)), st.just(0), max_size=3),
    st.booleans(),
    st.data(),
).map(lambda t: ("settings", {k: t[2].draw(SETTING_VALUES[k]) for k in t[0]}, t[1]))
headers_action = st.tuples(
    st.just("headers"),
    SIDS,
    header_lists(),
    st.booleans(),  # END_STREAM
    st.sampled_from([0, 0, 1, 3]),  # CONTINUATION frames to split over
    MOSTLY,  # END_HEADERS on the last
    sometimes(st.integers(0, 255)),  # padding
    sometimes(st.tuples(st.integers(0, 9), st.integers(1, 256), st.booleans())),
    sometimes(st.tuples(st.integers(0, 200), st.binary(min_size=1, max_size=4))),
    st.booleans(),  # huffman
)
data_action = st.tuples(
    st.just("data"), SIDS, st.binary(max_size=200), st.booleans(), sometimes(st.integers(0, 255))
)
# An action is a tuple; the test body turns it into bytes with a per-example encoder.
actions = st.one_of(
    headers_action,
    headers_action,
    headers_action,
    data_action,
    data_action,
    settings_action,
    st.tuples(st.just("continuation"), SIDS, st.binary(max_size=30), st.booleans()),
    st.tuples(st.just("rst"), SIDS, st.integers(0, 20) | U32),
    st.tuples(
        st.just("window"), st.sampled_from([0, 1, 3]), st.sampled_from([0, 1, 65535, 2**31 - 1])
    ),
    st.tuples(
        st.just("ping"), st.sampled_from([0, 0, 1]), st.binary(min_size=8, max_size=8), MOSTLY
    ),
    st.tuples(st.just("priority"), SIDS, st.integers(0, 9), st.integers(1, 256), st.booleans()),
    st.tuples(st.just("goaway"), U31, st.integers(0, 13), st.binary(max_size=8)),
    st.tuples(
        st.just("raw"), st.integers(0, 0x20), st.integers(0, 255), SIDS, st.binary(max_size=40)
    ),
    st.just(("respond",)),
    st.just(("respond",)),
)


def encode(action: tuple[Any, ...], encoder: hpack.Encoder | None) -> bytes:
    kind = action[0]
    if kind == "settings":
        _, values, ack = action
        if ack:
            return SettingsFrame(0, flags=["ACK"]).serialize()
        payload = b"".join(struct.pack("!HL", key, value) for key, value in values.items())
        return raw(0x4, 0, 0, payload)
    if kind == "headers":
        _, sid, fields, end_stream, continuations, end_headers, pad, priority, mutation, huff = (
            action
        )
        block = header_block(encoder, fields, huff)
        if mutation is not None:
            at, junk = mutation
            at = min(at, len(block))
            block = block[:at] + junk + block[at + len(junk) :]
        size = max(1, len(block) // (continuations + 1))
        parts = [block[i : i + size] for i in range(0, len(block), size)] or [b""]
        first, rest = parts[0], parts[1:]
        flags = ["END_STREAM"] if end_stream else []
        if not rest and end_headers:
            flags.append("END_HEADERS")
        frame = HeadersFrame(1, data=first, flags=flags)
        if pad is not None:
            frame.flags.add("PADDED")
            frame.pad_length = pad
        if priority is not None:
            frame.flags.add("PRIORITY")
            frame.depends_on, frame.stream_weight, frame.exclusive = (
                priority[0],
                priority[1] - 1,
                priority[2],
            )
        out = with_stream(frame, sid)
        for index, part in enumerate(rest):
            last = index == len(rest) - 1
            cont = ContinuationFrame(
                1, data=part, flags=["END_HEADERS"] if last and end_headers else []
            )
            out += with_stream(cont, sid)
        return out
    if kind == "continuation":
        _, sid, data, end = action
        return with_stream(
            ContinuationFrame(1, data=data, flags=["END_HEADERS"] if end else []), sid
        )
    if kind == "data":
        _, sid, data, end, pad = action
        data_frame = DataFrame(1, data=data, flags=["END_STREAM"] if end else [])
        if pad is not None:
            data_frame.flags.add("PADDED")
            data_frame.pad_length = pad
        return with_stream(data_frame, sid)
    if kind == "rst":
        return with_stream(RstStreamFrame(1, error_code=action[2]), action[1])
    if kind == "window":
        if action[2] == 0:  # hyperframe will not build a zero increment (a protocol error)
            return raw(0x8, 0, action[1], struct.pack("!L", 0))
        return with_stream(WindowUpdateFrame(1, window_increment=action[2]), action[1])
    if kind == "ping":
        _, sid, opaque, ack = action
        return with_stream(PingFrame(0, opaque_data=opaque, flags=["ACK"] if ack else []), sid)
    if kind == "priority":
        _, sid, depends, weight, exclusive = action
        priority_frame = PriorityFrame(
            1, depends_on=depends, stream_weight=weight - 1, exclusive=exclusive
        )
        return with_stream(priority_frame, sid)
    if kind == "goaway":
        _, last, code, extra = action
        return GoAwayFrame(
            0, last_stream_id=last, error_code=code, additional_data=extra
        ).serialize()
    if kind == "raw":
        _, frame_type, flags, sid, payload = action
        return raw(frame_type, flags, sid, payload)
    raise AssertionError(kind)


class ServerView:
    """The server's output, parsed: frames in order, header blocks decoded."""

    def __init__(self) -> None:
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 20
        self.frames: list[Frame] = []
        self.responses: dict[int, list[tuple[bytes, bytes]]] = {}
        self._block = b""
        self._parsed = 0

    def update(self, output: bytes) -> None:
        data = memoryview(output)
        position = self._parsed
        while position < len(data):
            assert len(data) - position >= 9, "a partial frame header was written"
            frame, length = Frame.parse_frame_header(data[position : position + 9], strict=True)
            assert len(data) - position - 9 >= length, "a partial frame was written"
            frame.parse_body(data[position + 9 : position + 9 + length])
            position += 9 + length
            self.frames.append(frame)
            if isinstance(frame, HeadersFrame | ContinuationFrame):
                self._block += frame.data
                if "END_HEADERS" in frame.flags:
                    fields = self.decoder.decode(self._block, raw=True)
                    self.responses.setdefault(frame.stream_id, []).extend(fields)
                    self._block = b""
        self._parsed = position

    def goaway(self) -> GoAwayFrame | None:
        found = [f for f in self.frames if isinstance(f, GoAwayFrame)]
        return found[0] if found else None


def server_resets(view: ServerView, streams: set[int]) -> list[RstStreamFrame]:
    """The server's resets of these streams, but for NO_ERROR (a response that ended
    before its request body did, RFC 9113 section 8.1)."""
    return [
        f
        for f in view.frames
        if isinstance(f, RstStreamFrame) and f.stream_id in streams and f.error_code != 0
    ]


def stream_of(action: tuple[Any, ...]) -> int:
    if action[0] in ("headers", "continuation", "data", "rst", "window", "ping", "priority"):
        return int(action[1])
    if action[0] == "raw":
        return int(action[3])
    return 0


def is_goaway(action: tuple[Any, ...]) -> bool:
    """The client says GOAWAY (also as a raw frame of type 0x7)."""
    return bool(action[0] == "goaway" or (action[0] == "raw" and action[1] == 0x7))


def check_output(driver: FuzzDriver, view: ServerView, *, client_goaway: bool = False) -> None:
    view.update(bytes(driver.output))
    problems = driver.common_violations()
    assert not problems, problems
    assert view.frames and isinstance(view.frames[0], SettingsFrame)
    assert "ACK" not in view.frames[0].flags
    if driver.conn.closed and not driver.eof_fed and not client_goaway:
        # Closing on its own, the server says why (after the client's GOAWAY or EOF,
        # closing quietly is fine: RFC 9113 only says SHOULD).
        assert view.goaway() is not None, "closed without GOAWAY"


@fuzz_settings(max_examples=600)
@given(
    sequence=st.lists(actions, max_size=12),
    prior_knowledge=st.booleans(),
    lazy=st.booleans(),
    cuts=st.lists(st.integers(1, 300), max_size=4),
)
def test_random_frame_sequences(
    sequence: list[tuple[Any, ...]], prior_knowledge: bool, lazy: bool, cuts: list[int]
) -> None:
    driver = FuzzDriver(
        alpn=None if prior_knowledge else "h2", policy=AppPolicy(accept_websockets=True)
    )
    driver.lazy = lazy
    encoder = hpack.Encoder()
    view = ServerView()
    client_goaway = False
    highest = 1
    stream = PREFACE + SettingsFrame(0, settings={}).serialize()
    for action in sequence:
        if action[0] == "respond":
            driver.receive(stream)  # what was built so far, then the apps run
            stream = b""
            driver.run_apps()
            continue
        client_goaway = client_goaway or is_goaway(action)
        highest = max(highest, stream_of(action))
        stream += encode(action, encoder)
    for part in split(stream, cuts):
        driver.receive(part)
    driver.run_apps()
    check_output(driver, view, client_goaway=client_goaway)
    goaway = view.goaway()
    hypothesis_event(f"goaway: {None if goaway is None else goaway.error_code}")

    # Still open: a new request on a fresh stream is answered, or is a protocol error
    # (the sequence left a header block open) that ends the connection with GOAWAY.
    probe = highest + 2 if highest % 2 else highest + 1
    if not driver.conn.closed and not client_goaway and probe < 2**31:
        block = hpack.Encoder().encode(
            [hpack.NeverIndexedHeaderTuple(k, v) for k, v in request_fields(path=b"/probe")]
        )
        driver.receive(
            with_stream(HeadersFrame(1, data=block, flags=["END_STREAM", "END_HEADERS"]), probe)
        )
        driver.run_apps()
        check_output(driver, view)
        answered = (b":status", b"200") in view.responses.get(probe, [])
        hypothesis_event(f"probe answered: {answered}")
        assert answered or (driver.is_closed() and view.goaway() is not None), (
            view.frames[-5:],
            driver.conn.closed,
        )

    driver.eof()
    driver.finish_all_apps()
    driver.tick(3600)
    check_output(driver, view)
    assert driver.conn.closed


client_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("request"),
            st.sampled_from([b"GET", b"POST", b"HEAD"]),
            st.binary(max_size=300),
            MOSTLY,
        ),
        st.tuples(st.just("ping"), st.binary(min_size=8, max_size=8)),
        st.tuples(st.just("reset"), st.integers(0, 5)),
        st.tuples(st.just("window"), st.integers(1, 2**20)),
        st.tuples(st.just("priority"), st.integers(1, 256)),
        st.tuples(st.just("settings"), st.integers(0, 2**20), st.integers(1, 200)),
    ),
    min_size=1,
    max_size=8,
)


def client_frames(ops: list[tuple[Any, ...]], reset: set[int] | None = None) -> list[bytes]:
    """A valid client conversation from h2's own client: its writes (and, in ``reset``,
    the streams it resets)."""
    client = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    client.initiate_connection()
    writes = [client.data_to_send()]
    opened: list[int] = []
    for op in ops:
        if op[0] == "request":
            _, method, body, end = op
            stream_id = client.get_next_available_stream_id()
            opened.append(stream_id)
            client.send_headers(stream_id, request_fields(method), end_stream=not body and end)
            if body:
                client.send_data(stream_id, body, end_stream=end)
        elif op[0] == "ping":
            client.ping(op[1])
        elif op[0] == "reset" and opened:
            stream_id = opened[op[1] % len(opened)]
            if client.streams.get(stream_id) is not None and not client.streams[stream_id].closed:
                client.reset_stream(stream_id)
                if reset is not None:
                    reset.add(stream_id)
        elif op[0] == "window":
            client.increment_flow_control_window(op[1])
        elif op[0] == "priority" and opened:
            client.prioritize(opened[-1], weight=op[1])
        elif op[0] == "settings":
            client.update_settings(
                {
                    h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: op[1],
                    h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: op[2],
                }
            )
        writes.append(client.data_to_send())
    return [w for w in writes if w]


@fuzz_settings(max_examples=600)
@given(
    ops=client_ops,
    fault=st.one_of(st.none(), actions),
    position=st.integers(0, 20),
    lazy=st.booleans(),
    data=st.data(),
)
def test_valid_client_conversations_with_one_fault(
    ops: list[tuple[Any, ...]],
    fault: tuple[Any, ...] | None,
    position: int,
    lazy: bool,
    data: st.DataObject,
) -> None:
    reset: set[int] = set()
    writes = client_frames(ops, reset)
    if fault is not None and fault[0] != "respond":
        # No dynamic table entries: the fault must not desynchronise the client's HPACK.
        writes.insert(1 + position % len(writes), encode(fault, None))
    driver = FuzzDriver(alpn="h2", policy=AppPolicy(accept_websockets=True))
    driver.lazy = lazy
    view = ServerView()
    stream = b"".join(writes)
    cuts = data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=6))
    for part in split(stream, cuts):
        driver.receive(part)
        if lazy and data.draw(st.booleans()):
            driver.run_apps()
    driver.run_apps()
    client_goaway = fault is not None and is_goaway(fault)
    check_output(driver, view, client_goaway=client_goaway)
    if fault is None:
        # Undamaged: nothing is a connection error, and every request is answered.
        assert not driver.conn.closed
        answered = {sid for sid, fields in view.responses.items() if (b":status", b"200") in fields}
        assert set(driver.order) <= answered | {
            sid for sid, rec in driver.streams.items() if rec.disconnected
        }
    if fault is not None and fault[0] == "goaway" and fault[2] == 0:
        # A graceful GOAWAY from the client (RFC 9113 section 6.8): the streams it had
        # opened still get their responses (unless it reset them), the later ones none.
        answered = {sid for sid, fields in view.responses.items() if (b":status", b"200") in fields}
        assert set(driver.order) <= answered | reset, (driver.order, answered, reset)
        assert not server_resets(view, set(driver.order) - reset)
    goaway = view.goaway()
    hypothesis_event(
        f"fault {None if fault is None else fault[0]}: goaway {goaway and goaway.error_code}"
    )
    driver.eof()
    driver.finish_all_apps()
    driver.tick(3600)
    check_output(driver, view, client_goaway=client_goaway)
    assert driver.conn.closed


@fuzz_settings(max_examples=300)
@given(
    ops=client_ops,
    position=st.integers(0, 20),
    last_stream_id=st.sampled_from([0, 2, 2**31 - 1]),
    lazy=st.booleans(),
    data=st.data(),
)
def test_valid_client_conversations_with_a_graceful_goaway(
    ops: list[tuple[Any, ...]],
    position: int,
    last_stream_id: int,
    lazy: bool,
    data: st.DataObject,
) -> None:
    """RFC 9113 section 6.8: the streams opened before the client's GOAWAY finish."""
    reset: set[int] = set()
    writes = client_frames(ops, reset)
    goaway = GoAwayFrame(0, last_stream_id=last_stream_id, error_code=0).serialize()
    writes.insert(1 + position % len(writes), goaway)
    driver = FuzzDriver(alpn="h2", policy=AppPolicy(accept_websockets=True))
    driver.lazy = lazy
    view = ServerView()
    stream = b"".join(writes)
    cuts = data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=6))
    for part in split(stream, cuts):
        driver.receive(part)
        if lazy and data.draw(st.booleans()):
            driver.run_apps()
    driver.run_apps()
    check_output(driver, view, client_goaway=True)
    answered = {sid for sid, fields in view.responses.items() if (b":status", b"200") in fields}
    assert set(driver.order) <= answered | reset, (driver.order, answered, reset)
    assert not server_resets(view, set(driver.order) - reset)
    goaways = [f for f in view.frames if isinstance(f, GoAwayFrame)]
    assert all(f.error_code == 0 for f in goaways), goaways
    hypothesis_event(f"streams {len(driver.order)}, closed {driver.conn.closed}")
    driver.eof()
    driver.finish_all_apps()
    driver.tick(3600)
    check_output(driver, view, client_goaway=True)
    assert driver.conn.closed
