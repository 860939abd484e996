"""Both HTTP/1.1 wires answer alike: strictness, smuggling, limits, pipelining, upgrades.

Each test runs on every installed wire (the ``http1_wire`` fixture): h11, the
reference, and httptools (llhttp), whose leniencies our own checks close. The few
places where llhttp is stricter than h11 are pinned down per wire at the end (and
listed in docs/http1.md).
"""

from __future__ import annotations

import pytest

from hypercorn_protocol import events as ev
from tests.helpers.events import app_messages, starts
from tests.helpers.protocol import Harness, Settings

pytestmark = pytest.mark.usefixtures("http1_wire")

GET = b"GET / HTTP/1.1\r\nhost: a\r\n\r\n"


def body_of(got: list[ev.Event]) -> bytes:
    """The request body stream 1's app received."""
    return b"".join(bytes(m.get("body", b"")) for m in app_messages(got, 1))  # type: ignore[call-overload]


def refused(h: Harness, got: list[ev.Event], status: int) -> None:
    assert not starts(got), "the app must never see a request it cannot trust"
    assert h.wire.startswith(b"HTTP/1.1 %d " % status), h.wire[:60]
    assert any(isinstance(event, ev.CloseConnection) for event in got)


@pytest.mark.parametrize(
    ("head", "status"),
    [
        # framing that a proxy in front might read differently
        (b"transfer-encoding: gzip, chunked\r\n", 501),
        (b"transfer-encoding: chunked, identity\r\n", 501),
        (b"transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n", 501),
        (b"transfer-encoding: xchunked\r\n", 501),
        (b"transfer-encoding: chunked\r\ncontent-length: 3\r\n", 400),
        (b"content-length: 3\r\ncontent-length: 4\r\n", 400),
        (b"content-length: +3\r\n", 400),
        (b"content-length: -1\r\n", 400),
        (b"content-length: 3 3\r\n", 400),
        (b"content-length: 99999999999999999999999\r\n", 400),
        # field syntax
        (b"x-nul: a\x00b\r\n", 400),
        (b"x-nul\x00: a\r\n", 400),
        (b"bad name: 1\r\n", 400),
        (b"x-space : 1\r\n", 400),
        (b": empty-name\r\n", 400),
        (b"x-cr: 1\rx-cr2: 2\r\n", 400),
        (b"host: b\r\n", 400),  # a second Host
    ],
)
def test_smuggling_shapes_are_refused(head: bytes, status: int) -> None:
    h = Harness()
    got = h.feed(b"POST / HTTP/1.1\r\nhost: a\r\n" + head + b"\r\n0\r\n\r\n")
    refused(h, got, status)


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET / RTSP/1.0",
        b"OPTIONS * RTSP/1.0",
        b"DESCRIBE / RTSP/1.0",
        b"SOURCE / ICE/1.0",
        b"GET / HTTP/1.1 extra",
        b"GET /\xff HTTP/1.1",
        b"GET /a\x7fb HTTP/1.1",
        b"GET  / HTTP/1.1",
        b"GET / http/1.1",
    ],
)
def test_request_lines_that_are_not_http_are_refused(request_line: bytes) -> None:
    h = Harness()
    got = h.feed(request_line + b"\r\nhost: a\r\n\r\n")
    refused(h, got, 400)


def test_rtsp_request_line_split_across_reads_is_refused() -> None:
    h = Harness()
    h.feed(b"GET / RT")
    got = h.feed(b"SP/1.0\r\nhost: a\r\n\r\n")
    refused(h, got, 400)


def test_http10_needs_no_host_and_closes_after_the_response() -> None:
    h = Harness()
    (start,) = starts(h.feed(b"GET / HTTP/1.0\r\n\r\n"))
    assert start.scope["http_version"] == "1.0"
    h.respond(1)
    assert h.conn.closed


def test_field_values_lose_surrounding_whitespace_only() -> None:
    h = Harness()
    (start,) = starts(h.feed(b"GET / HTTP/1.1\r\nhost: a\r\nx-v: \t a  b \t \r\n\r\n"))
    assert start.scope["headers"] == [(b"host", b"a"), (b"x-v", b"a  b")]


def test_obs_text_in_field_values_is_passed_on() -> None:
    h = Harness()
    (start,) = starts(h.feed(b"GET / HTTP/1.1\r\nhost: a\r\nx-v: caf\xc3\xa9\xff\r\n\r\n"))
    assert (b"x-v", b"caf\xc3\xa9\xff") in start.scope["headers"]


def test_chunked_body_with_extensions_and_trailers() -> None:
    h = Harness()
    got = h.feed(
        b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-trailer: 1\r\netag: z\r\n\r\n"
    )
    assert len(starts(got)) == 1
    body = body_of(got)
    assert body == b"abcde"
    assert app_messages(got, 1)[-1]["more_body"] is False
    h.respond(1)
    assert not h.conn.closed  # trailers do not spoil keep-alive


@pytest.mark.parametrize("chunk_size", [b"zz", b"-1", b"0x10", b"", b"5 5"])
def test_bad_chunk_sizes_are_refused(chunk_size: bytes) -> None:
    h = Harness()
    h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n")
    h.feed(chunk_size + b"\r\nabc\r\n0\r\n\r\n")
    assert h.wire.startswith(b"HTTP/1.1 400 ")
    assert h.conn.closed


# ------------------------------------------------------------------ head limits
def test_head_over_the_limit_in_one_read_is_431() -> None:
    h = Harness(Settings(h11_max_incomplete_size=1024))
    got = h.feed(b"GET / HTTP/1.1\r\nhost: a\r\nx-big: " + b"a" * 2048 + b"\r\n\r\n")
    refused(h, got, 431)


def test_head_over_the_limit_dribbled_in_is_431_before_it_ends() -> None:
    h = Harness(Settings(h11_max_incomplete_size=1024))
    h.feed(b"GET / HTTP/1.1\r\nhost: a\r\n")
    got: list[ev.Event] = []
    for _ in range(40):
        got += h.feed(b"x-h: " + b"b" * 40 + b"\r\n")
        if h.conn.closed:
            break
    refused(h, got, 431)


def test_one_endless_field_value_is_431() -> None:
    h = Harness(Settings(h11_max_incomplete_size=1024))
    h.feed(b"GET / HTTP/1.1\r\nhost: a\r\nx-endless: ")
    got: list[ev.Event] = []
    for _ in range(10):
        got += h.feed(b"c" * 500)
    refused(h, got, 431)


def test_head_just_under_the_limit_is_served() -> None:
    h = Harness(Settings(h11_max_incomplete_size=1024))
    head = b"GET / HTTP/1.1\r\nhost: a\r\nx-big: "
    head += b"a" * (900 - len(head)) + b"\r\n\r\n"
    assert starts(h.feed(head))


def test_long_targets_arrive_whole() -> None:
    target = b"/" + b"p" * 70_000 + b"?q=" + b"v" * 1000  # past llhttp's old 64 KiB field
    h = Harness(Settings(h11_max_incomplete_size=256 * 1024))
    (start,) = starts(h.feed(b"GET " + target + b" HTTP/1.1\r\nhost: a\r\n\r\n"))
    assert start.scope["raw_path"] == target.split(b"?")[0]
    assert start.scope["query_string"] == b"q=" + b"v" * 1000


def test_huge_body_in_one_read_is_not_a_head_problem() -> None:
    h = Harness(Settings(h11_max_incomplete_size=1024))
    got = h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5000\r\n\r\n" + b"z" * 5000)
    assert starts(got)
    assert body_of(got) == b"z" * 5000


# ------------------------------------------------------------------ pipelining
def test_pipelined_requests_wait_with_reading_paused() -> None:
    h = Harness()
    got = h.feed(GET * 3)
    assert len(starts(got)) == 1
    assert any(isinstance(event, ev.PauseReading) for event in got)
    got = h.feed(GET)  # a driver may still deliver one read while pausing
    assert not starts(got)
    for stream_id in (1, 2, 3):
        h.respond(stream_id, body=b"r%d" % stream_id)
    assert len(starts(h.events)) == 4
    h.respond(4, body=b"r4")
    assert [part for part in (b"r1", b"r2", b"r3", b"r4") if part in h.wire] == [
        b"r1",
        b"r2",
        b"r3",
        b"r4",
    ]
    assert not h.conn.closed


def test_pipelined_request_after_a_bad_one_is_never_started() -> None:
    h = Harness()
    got = h.feed(GET + b"GET / HTTP/1.1\r\nbad header\r\n\r\n" + GET)
    assert len(starts(got)) == 1
    h.respond(1)
    assert len(starts(h.events)) == 1
    assert b"HTTP/1.1 400 " in h.wire
    assert h.conn.closed


def test_data_after_a_request_that_closes_is_refused() -> None:
    h = Harness()
    got = h.feed(b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n" + GET)
    assert len(starts(got)) == 1
    assert h.conn.closed


def test_eof_inside_a_head_closes() -> None:
    h = Harness()
    h.feed(b"GET / HTTP/1.1\r\nhost: a\r\n")
    h.feed(b"")
    assert h.conn.closed


# -------------------------------------------------------------------- upgrades
def test_websocket_frames_in_the_handshake_read_reach_the_websocket() -> None:
    h = Harness()
    frame = b"\x81\x82abcd" + bytes(a ^ b for a, b in zip(b"hi", b"ab", strict=True))
    got = h.feed(
        b"GET /ws HTTP/1.1\r\nhost: a\r\nconnection: Upgrade\r\nupgrade: websocket\r\n"
        b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n" + frame
    )
    (start,) = starts(got)
    assert start.scope["type"] == "websocket"
    h.app_send(1, {"type": "websocket.accept"})
    assert h.wire.startswith(b"HTTP/1.1 101 ")
    received = [m for m in app_messages(h.events, 1) if m["type"] == "websocket.receive"]
    assert [m["text"] for m in received] == ["hi"]


def test_unknown_upgrade_is_served_as_http_with_its_body() -> None:
    h = Harness()
    got = h.feed(
        b"POST / HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: foo\r\n"
        b"content-length: 3\r\n\r\nabc"
    )
    (start,) = starts(got)
    assert start.scope["type"] == "http"
    assert body_of(got) == b"abc"
    h.respond(1)
    assert h.wire.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("method", [b"PATCH", b"PROPFIND", b"PURGE", b"OPTIONS", b"TRACE"])
def test_registered_methods_are_served(method: bytes) -> None:
    h = Harness()
    (start,) = starts(h.feed(method + b" / HTTP/1.1\r\nhost: a\r\n\r\n"))
    assert start.scope["method"] == method.decode()


@pytest.mark.parametrize(
    "method", [b"FROB", b"PoST", b"get", b"M-SEARCH-X", b"BREW", b"X!#$%&'*+.^_`|~1"]
)
def test_extension_methods_are_served(method: bytes) -> None:
    """Any token is a method (RFC 9110 section 9.1); llhttp knows a fixed list, in
    upper case, so the httptools wire hands such a request to h11."""
    h = Harness()
    got = h.feed(method + b" /x?q=1 HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\n\r\nhi")
    (start,) = starts(got)
    assert start.scope["method"] == method.decode()
    assert start.scope["path"] == "/x"
    assert body_of(got) == b"hi"
    h.respond(1)
    assert h.wire.startswith(b"HTTP/1.1 200 ")


def test_extension_method_later_on_a_connection_and_after_it() -> None:
    """The switch happens at the request that needs it; the connection goes on."""
    h = Harness()
    assert len(starts(h.feed(GET))) == 1
    h.respond(1)
    h.wire = b""
    (second,) = starts(h.feed(b"FROB /f HTTP/1.1\r\nhost: a\r\n\r\n"))
    assert (second.stream_id, second.scope["method"]) == (2, "FROB")
    h.respond(2, body=b"frob")
    assert h.wire.startswith(b"HTTP/1.1 200 ") and h.wire.endswith(b"frob")
    h.wire = b""
    (third,) = starts(h.feed(b"POST /p HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\n\r\nz"))
    assert (third.stream_id, third.scope["method"]) == (3, "POST")
    assert b"".join(bytes(m.get("body", b"")) for m in app_messages(h.events, 3)) == b"z"  # type: ignore[call-overload]


def test_extension_method_split_across_reads() -> None:
    h = Harness()
    assert not starts(h.feed(b"PRO"))
    assert not starts(h.feed(b"PFOO /a HTTP/1"))
    (start,) = starts(h.feed(b".1\r\nhost: a\r\n\r\n"))
    assert start.scope["method"] == "PROPFOO"


def test_extension_method_with_peer_closing_after_it() -> None:
    h = Harness()
    (start,) = starts(h.feed(b"FROB / HTTP/1.1\r\nhost: a\r\n\r\n"))
    assert start.scope["method"] == "FROB"
    h.feed(b"")
    h.respond(1)
    assert h.wire.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    "request_bytes",
    [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"FR\x00B / HTTP/1.1\r\nhost: a\r\n\r\n"],
)
def test_garbage_instead_of_a_method_is_refused(request_bytes: bytes) -> None:
    h = Harness()
    got = h.feed(request_bytes)
    got += h.feed(b"")
    refused(h, got, 400)


# ---------------------------------------------------------- where they differ
def test_wire_differences(http1_wire: str) -> None:
    """h11 takes these; llhttp refuses them (documented in docs/http1.md)."""
    for request in (
        b"GET / HTTP/1.1\nhost: a\n\n",  # bare LF line ends
        b"GET / HTTP/1.1\r\nhost: a\r\nx: a\x7fb\r\n\r\n",  # DEL in a field value
        b"GET / HTTP/1.1\r\nhost: a\r\nx: a\r\n  b\r\n\r\n",  # obs-fold (h11 unfolds it)
    ):
        h = Harness()
        got = h.feed(request)
        if http1_wire == "h11":
            assert starts(got), request
        else:
            refused(h, got, 400)


def test_pipelined_extension_method(http1_wire: str) -> None:
    """Behind another request in the same read, llhttp's refusal cannot be handed to
    h11 (where the request begins is not known): httptools answers it 400."""
    h = Harness()
    got = h.feed(GET + b"FROB / HTTP/1.1\r\nhost: a\r\n\r\n")
    assert len(starts(got)) == 1
    h.respond(1)
    if http1_wire == "h11":
        (_, start) = starts(h.events)
        assert start.scope["method"] == "FROB"
    else:
        assert len(starts(h.events)) == 1
        assert h.wire.startswith(b"HTTP/1.1 200 ")
        assert b"HTTP/1.1 400 " in h.wire
