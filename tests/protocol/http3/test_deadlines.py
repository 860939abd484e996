"""HTTP/3 deadlines and the body limit, per stream, with aioquic's client as the peer.

Each refusal costs its stream alone: the tests finish by serving another request on the
same connection.
"""

from __future__ import annotations

import pytest

pytest.importorskip("aioquic")

from aioquic.buffer import encode_uint_var

from hypercorn_protocol.events import RequestRefused
from hypercorn_protocol.http3.connection import HTTP3Connection
from hypercorn_protocol.typing import Message
from tests.protocol.http3.test_connection import (
    Harness,
    Response,
    close_code,
    echo_app,
    silent_app,
    status,
)
from tests.protocol.http3.test_endpoint import TLS

_CANCELLED = 0x10C
_REJECTED = 0x10B
_NO_ERROR = 0x100


def body_of(h: Harness, stream_id: int) -> bytes:
    return b"".join(m.get("body", b"") for m in h.streams[stream_id].messages)


def disconnected(h: Harness, stream_id: int) -> bool:
    return {"type": "http.disconnect"} in h.streams[stream_id].messages


def assert_still_serving(h: Harness) -> None:
    h.app = echo_app
    other = h.request("/after", method=b"POST", body=b"still here")
    h.run(lambda: h.done(other))
    assert status(h.responses[other]) == b"200"
    assert h.responses[other].body == b"still here"
    assert h.terminated is None


def waiting_app(h: Harness, conn: HTTP3Connection, stream_id: int, message: Message) -> None:
    """Waits in ``receive()`` for the rest of the body, as a reading app does."""
    if message["type"] == "http.request" and message.get("more_body", False):
        conn.app_receive_waiting(stream_id, h.now)


def advance_to(h: Harness, until: float) -> None:
    """Let time pass with the client still connected (it answers, sends no request bytes)."""
    while h.now < until:
        h.fire_timers(min(until, h.now + 0.5))
        h.settle()


def server_alone_until(h: Harness, until: float) -> None:
    """Let time pass on the server while nothing it sends reaches the client."""
    while h.now < until:
        h.now += 0.5
        h.endpoint.handle_timer(h.now)
        h.endpoint.datagrams_to_send(h.now)
        h.pump()


# ---------------------------------------------------------- max_request_body_size
def test_content_length_over_the_limit_is_413_before_the_app(tls: TLS) -> None:
    h = Harness(tls, silent_app, max_request_body_size=100)
    stream_id = h.request(
        "/", method=b"POST", headers=[(b"content-length", b"101")], body=b"x" * 10, end=False
    )
    h.run(lambda: h.done(stream_id))
    assert status(h.responses[stream_id]) == b"413"
    assert h.responses[stream_id].ended
    assert stream_id not in h.streams  # the app never ran
    h.run(lambda: h.responses[stream_id].stop_sending is not None)
    assert h.responses[stream_id].stop_sending == _NO_ERROR  # RFC 9114 4.1: stop, no error
    assert h.refused == [RequestRefused("max_request_body_size", 413, stream_id)]
    assert_still_serving(h)


def test_body_crossing_the_limit_is_413_and_no_byte_past_it(tls: TLS) -> None:
    h = Harness(tls, silent_app, max_request_body_size=10)
    stream_id = h.request("/", method=b"POST", body=b"abcdef", end=False)
    h.run(lambda: stream_id in h.streams and bool(h.streams[stream_id].messages))
    h.h3.send_data(stream_id, b"ghijkl", end_stream=False)
    h.run(lambda: h.done(stream_id))
    assert status(h.responses[stream_id]) == b"413"
    assert body_of(h, stream_id) == b"abcdef"
    assert disconnected(h, stream_id)
    h.run(lambda: h.responses[stream_id].stop_sending is not None)
    assert h.refused == [RequestRefused("max_request_body_size", 413, stream_id)]
    # the access log sees the answer
    assert [c.response.status for c in h.completed if c.response] == [413]
    assert_still_serving(h)


def test_body_crossing_the_limit_mid_response_resets_the_stream(tls: TLS) -> None:
    h = Harness(tls, silent_app, max_request_body_size=10)
    stream_id = h.request("/", method=b"POST", body=b"abcdef", end=False)
    h.run(lambda: stream_id in h.streams and bool(h.streams[stream_id].messages))
    h.send(h.conn, stream_id, {"type": "http.response.start", "status": 200})
    h.send(h.conn, stream_id, {"type": "http.response.body", "body": b"x", "more_body": True})
    h.h3.send_data(stream_id, b"ghijkl", end_stream=False)
    h.run(lambda: h.responses[stream_id].reset is not None)
    assert h.responses[stream_id].reset == _CANCELLED
    assert disconnected(h, stream_id)
    assert h.refused == [RequestRefused("max_request_body_size", None, stream_id)]
    assert_still_serving(h)


def test_body_within_the_limit_is_untouched(tls: TLS) -> None:
    h = Harness(tls, echo_app, max_request_body_size=10)
    stream_id = h.request(
        "/", method=b"POST", headers=[(b"content-length", b"10")], body=b"0123456789"
    )
    h.run(lambda: h.done(stream_id))
    assert status(h.responses[stream_id]) == b"200"
    assert h.responses[stream_id].body == b"0123456789"
    assert not h.refused


# ------------------------------------------------------------ request_body_timeout
def test_a_stalled_body_gets_408_on_that_stream_only(tls: TLS) -> None:
    h = Harness(tls, waiting_app, request_body_timeout=6, quic_idle_timeout=600)
    slow = h.request("/", method=b"POST", body=b"ab", end=False)
    h.run(lambda: slow in h.streams and bool(h.streams[slow].messages))
    start = h.now
    advance_to(h, start + 5)
    assert not h.done(slow)  # not yet
    advance_to(h, start + 6.5)
    assert h.done(slow)
    assert status(h.responses[slow]) == b"408"
    assert disconnected(h, slow)
    assert h.refused == [RequestRefused("request_body_timeout", 408, slow)]
    assert_still_serving(h)


def test_body_timeout_waits_for_the_app_not_the_client(tls: TLS) -> None:
    # an app that is busy (does not wait in receive()) is never timed out by the client
    h = Harness(tls, silent_app, request_body_timeout=2, quic_idle_timeout=600)
    stream_id = h.request("/", method=b"POST", body=b"ab", end=False)
    h.run(lambda: stream_id in h.streams)
    advance_to(h, h.now + 10)
    assert not h.done(stream_id)
    assert not h.refused


def test_a_stalled_body_after_the_response_began_is_reset(tls: TLS) -> None:
    h = Harness(tls, waiting_app, request_body_timeout=2, quic_idle_timeout=600)
    stream_id = h.request("/", method=b"POST", body=b"ab", end=False)
    h.run(lambda: stream_id in h.streams and bool(h.streams[stream_id].messages))
    h.send(h.conn, stream_id, {"type": "http.response.start", "status": 200})
    h.send(h.conn, stream_id, {"type": "http.response.body", "body": b"x", "more_body": True})
    advance_to(h, h.now + 3)
    assert h.responses[stream_id].reset == _CANCELLED
    assert h.refused == [RequestRefused("request_body_timeout", None, stream_id)]
    assert_still_serving(h)


# --------------------------------------------------------- request_header_timeout
def test_an_unfinished_head_is_refused_on_that_stream_only(tls: TLS) -> None:
    h = Harness(tls, echo_app, request_header_timeout=3, quic_idle_timeout=600)
    stream_id = h.quic.get_next_available_stream_id()
    # a HEADERS frame (type 1) announcing 100 bytes, of which 5 are sent
    h.quic.send_stream_data(stream_id, encode_uint_var(1) + encode_uint_var(100) + b"\x00" * 5)
    h.responses[stream_id] = Response()
    h.settle()
    start = h.now
    advance_to(h, start + 2.5)
    assert h.responses[stream_id].reset is None
    advance_to(h, start + 3.5)
    assert h.responses[stream_id].reset == _REJECTED  # the client may retry it
    assert h.refused == [RequestRefused("request_header_timeout", None, stream_id)]
    assert not h.streams
    assert_still_serving(h)


def test_a_whole_head_stops_the_header_clock(tls: TLS) -> None:
    h = Harness(tls, silent_app, request_header_timeout=3, quic_idle_timeout=600)
    stream_id = h.request("/", method=b"POST", body=b"a", end=False)
    h.run(lambda: stream_id in h.streams)
    advance_to(h, h.now + 10)
    assert h.responses[stream_id].reset is None
    assert not h.refused


# --------------------------------------------------------- response_write_timeout
def test_a_response_the_client_does_not_take_is_reset(tls: TLS) -> None:
    h = Harness(tls, silent_app, response_write_timeout=4, quic_idle_timeout=600)
    stalled = h.request("/")
    h.run(lambda: stalled in h.streams)
    h.send(h.conn, stalled, {"type": "http.response.start", "status": 200})
    chunk = b"z" * 65536
    # the client stops reading: nothing the server sends reaches it any more
    while h.send(h.conn, stalled, {"type": "http.response.body", "body": chunk, "more_body": True}):
        h.pump()
        for _ in h.endpoint.datagrams_to_send(h.now):
            pass
    assert not h.conn.writable(stalled)
    start = h.now
    server_alone_until(h, start + 3.5)
    assert not h.refused
    server_alone_until(h, start + 4.5)
    assert h.refused == [RequestRefused("response_write_timeout", None, stalled)]
    assert disconnected(h, stalled)
    assert h.streams[stalled].writable > 0  # the app's pending send returned
    # the client reads again: the stream was reset, the connection serves on
    h.run(lambda: h.responses[stalled].reset is not None)
    assert h.responses[stalled].reset == _CANCELLED
    assert close_code(h) is None
    assert_still_serving(h)
