"""Fuzzing HTTP/1.1 through ``ServerConnection``: random and mutated request streams.

Valid requests (every body framing, pipelined, 100-continue, HTTP/1.0) are damaged the
ways request smuggling and parser bugs are made of - inserted and deleted bytes,
truncation, duplicated headers, bad chunk sizes, Content-Length next to
Transfer-Encoding, obs-fold, NUL bytes, huge header lines, bare LF - and fed in random
chunks. Invariants: nothing raises out of the core; every StartApp gets at most one
response; nothing is written after CloseConnection; output stays proportional to the
responses; h11's client parses all of it; and after EOF the connection closes.
"""

from __future__ import annotations

from collections import deque

import h11
import pytest
from hypothesis import event as hypothesis_event, given, strategies as st

from tests.fuzz._driver import FuzzDriver, split
from tests.fuzz._settings import fuzz_settings

pytestmark = pytest.mark.usefixtures("http1_wire")  # every test on each HTTP/1.1 wire

TOKENS = [b"a", b"x-test", b"accept", b"user-agent", b"cookie", b"x_under", b"X-Mixed"]
VALUES = [b"", b"1", b"text/html", b"a b c", b"\t padded \t", b"caf\xc3\xa9", b"\xff\xfe"]


@st.composite
def header_lines(draw: st.DrawFn) -> list[bytes]:
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        lines.append(draw(st.sampled_from(TOKENS)) + b": " + draw(st.sampled_from(VALUES)))
    return lines


def chunked(body: bytes, cuts: list[int], trailers: list[bytes]) -> bytes:
    out = b""
    for part in split(body, cuts):
        if part:
            out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n" + b"".join(t + b"\r\n" for t in trailers) + b"\r\n"


@st.composite
def request(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from([b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS"]))
    target = draw(
        st.sampled_from([b"/", b"/a/b?x=1&y", b"/%20sp%zz", b"*", b"http://example.com/p", b"//"])
    )
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"]))
    lines = [b"Host: example.com", *draw(header_lines())]
    body = draw(st.binary(max_size=64))
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    if framing == "none":
        body = b""
    elif framing == "length":
        lines.append(b"Content-Length: %d" % len(body))
    else:
        lines.append(b"Transfer-Encoding: chunked")
        trailers = draw(st.lists(st.sampled_from([b"x-trailer: 1", b"etag: abc"]), max_size=2))
        body = chunked(body, draw(st.lists(st.integers(1, 64), max_size=4)), trailers)
    if draw(st.integers(0, 5)) == 0:
        lines.append(b"Expect: 100-continue")
    if draw(st.integers(0, 5)) == 0:
        lines.append(draw(st.sampled_from([b"Connection: close", b"Connection: keep-alive"])))
    if draw(st.integers(0, 8)) == 0:
        lines += [
            b"Connection: Upgrade",
            b"Upgrade: websocket",
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            b"Sec-WebSocket-Version: 13",
        ]
    lines = draw(st.permutations(lines))
    return (
        method + b" " + target + b" " + version + b"\r\n" + b"\r\n".join(lines) + b"\r\n\r\n" + body
    )


# Structural damage: each takes the stream and a draw, returns the damaged stream.
HEADER_INSERTS = [
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
    b"Content-Length: 3\r\nContent-Length: 4\r\n",
    b"Content-Length: +5\r\n",
    b"Content-Length: -1\r\n",
    b"Content-Length: 99999999999999999999999\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Transfer-Encoding: chunked, identity\r\n",
    b"Transfer-Encoding: xchunked\r\n",
    b"X-Folded: a\r\n  continued\r\n",
    b" leading-space: 1\r\n",
    b"X-Nul: a\x00b\r\n",
    b"X-Nul\x00: a\r\n",
    b"Host: other.example\r\n",
    b"Bad Name: 1\r\n",
    b": empty-name\r\n",
    b"no-colon\r\n",
    b"X-Lf: 1\nX-Lf2: 2\r\n",
    b"X-Cr: 1\rX-Cr2: 2\r\n",
    b"X-Big: " + b"a" * 20_000 + b"\r\n",
    b"X-Medium: " + b"b" * 8_000 + b"\r\n",
]
CHUNK_SIZES = [
    b"zz",
    b"-1",
    b"ffffffffffffffffffff",
    b"1;ext=1",
    b"0x10",
    b" 5",
    b"5 ",
    b"",
    b"\x00",
]
BYTES = [b"\x00", b"\r", b"\n", b" ", b"\t", b":", b"\r\n", b"\r\n\r\n", b"\x80", b"\xff"]


@st.composite
def damaged(draw: st.DrawFn, stream: bytes) -> bytes:
    data = stream
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(
            st.sampled_from(
                ["insert", "delete", "truncate", "dup-line", "header", "chunk-size", "bare-lf"]
            )
        )
        if kind == "insert":
            at = draw(st.integers(0, len(data)))
            extra = draw(st.one_of(st.sampled_from(BYTES), st.binary(min_size=1, max_size=16)))
            data = data[:at] + extra + data[at:]
        elif kind == "delete" and data:
            at = draw(st.integers(0, len(data) - 1))
            data = data[:at] + data[at + draw(st.integers(1, 16)) :]
        elif kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "dup-line":
            lines = data.split(b"\r\n")
            if len(lines) > 2:
                index = draw(st.integers(1, len(lines) - 2))
                lines.insert(index, lines[index])
                data = b"\r\n".join(lines)
        elif kind == "header":
            first = data.find(b"\r\n")
            if first != -1:
                extra = draw(st.sampled_from(HEADER_INSERTS))
                data = data[: first + 2] + extra + data[first + 2 :]
        elif kind == "chunk-size":
            # Replace what sits after the blank line ending a head: a chunk-size line.
            head_end = data.find(b"\r\n\r\n")
            if head_end != -1:
                start = head_end + 4
                end = data.find(b"\r\n", start)
                end = len(data) if end == -1 else end
                data = data[:start] + draw(st.sampled_from(CHUNK_SIZES)) + data[end:]
        elif kind == "bare-lf":
            data = data.replace(b"\r\n", b"\n", draw(st.integers(1, 4)))
    return data


@st.composite
def request_streams(draw: st.DrawFn) -> bytes:
    stream = b"".join(draw(st.lists(request(), min_size=1, max_size=3)))
    return draw(damaged(stream))


def parse_responses(driver: FuzzDriver) -> int:
    """Parse everything written with h11's client; return the final responses counted.

    h11 only reads a response after its client sent a request, so one request is
    "sent" (never transmitted) per response expected: with the method and version of
    each started request in order, then GET for an error answer to an unparsable one.
    """
    client = h11.Connection(h11.CLIENT, max_incomplete_event_size=1 << 20)
    started = deque(
        (record.scope.get("method", "GET"), record.scope.get("http_version", "1.1"))
        for record in (driver.streams[sid] for sid in driver.order)
    )
    client.receive_data(bytes(driver.output))
    if driver.close_seen:
        client.receive_data(b"")
    finals = 0
    statuses: list[int] = []
    while True:
        idle = client.our_state is h11.IDLE and client.their_state is h11.IDLE
        if idle and client.trailing_data[0]:
            method, version = started.popleft() if started else ("GET", "1.1")
            headers = [("host", "example.com")]
            if version == "1.0":  # h11 sends only 1.1; a 1.0 exchange is one per connection
                headers.append(("connection", "close"))
            client.send(h11.Request(method=method, target="/", headers=headers))
            client.send(h11.EndOfMessage())
        event = client.next_event()  # raises RemoteProtocolError on invalid output
        if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
            hypothesis_event(f"answers: {sorted(set(statuses))}")
            return finals
        if isinstance(event, h11.Response):
            finals += 1
            statuses.append(event.status_code)
        if client.our_state is h11.DONE and client.their_state is h11.DONE:
            client.start_next_cycle()


def run(stream: bytes, cuts: list[int], *, lazy: bool) -> FuzzDriver:
    driver = FuzzDriver()
    driver.lazy = lazy
    for part in split(stream, cuts):
        driver.receive(part)
        driver.tick(0.1)
        if lazy:
            driver.run_apps()
    driver.run_apps()
    return driver


def check(driver: FuzzDriver, stream: bytes) -> int:
    """Close the peer's side, finish the apps, check every invariant; return the answers."""
    # The peer goes away: the connection must close, not hang.
    driver.eof()
    driver.finish_all_apps()
    driver.tick(3600)
    assert driver.conn.closed, (driver.paused, len(driver.backlog), stream[:200])
    problems = driver.common_violations()
    assert not problems, problems
    if driver.conn.http_version == "2":
        # The bytes began with the HTTP/2 preface (prior knowledge): test_h2_fuzz's job.
        hypothesis_event("switched to HTTP/2")
        return 0
    finals = parse_responses(driver)
    http_starts = len(driver.order)
    # One answer per request started, plus at most one error for an unparsable one.
    assert finals <= http_starts + 1, (finals, http_starts)
    # Output is answers only: small per request, never an echo of a huge input.
    assert len(driver.output) <= 600 * (http_starts + 1), len(driver.output)
    return finals


@fuzz_settings(max_examples=800)
@given(stream=request_streams(), cuts=st.lists(st.integers(1, 400), max_size=8), lazy=st.booleans())
def test_mutated_request_streams(stream: bytes, cuts: list[int], lazy: bool) -> None:
    check(run(stream, cuts, lazy=lazy), stream)


@fuzz_settings(max_examples=400)
@given(
    stream=st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=200).map(lambda tail: b"GET / HTTP/1.1\r\n" + tail),
        st.binary(max_size=200).map(
            lambda tail: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + tail
        ),
    ),
    cuts=st.lists(st.integers(1, 300), max_size=6),
)
def test_random_bytes(stream: bytes, cuts: list[int]) -> None:
    check(run(stream, cuts, lazy=False), stream)


@fuzz_settings(max_examples=200)
@given(requests=st.lists(request(), min_size=1, max_size=4))
def test_valid_requests_byte_by_byte(requests: list[bytes]) -> None:
    # Undamaged requests fed one byte at a time: the first is always answered.
    stream = b"".join(requests)
    driver = FuzzDriver()
    for index in range(len(stream)):
        driver.receive(stream[index : index + 1])
    driver.run_apps()
    assert check(driver, stream) >= 1
