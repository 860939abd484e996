"""HTTP/1.1 deadlines and the body limit, on the sans-IO core with a fake clock."""

from __future__ import annotations

from typing import cast

import h11

from hypercorn_protocol import events as ev
from tests.helpers.events import app_messages, starts
from tests.helpers.protocol import Harness, Settings, get

_UPGRADE = (
    b"GET /ws HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: websocket\r\n"
    b"sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)


def closes(events: list[ev.Event]) -> list[ev.CloseConnection]:
    return [e for e in events if isinstance(e, ev.CloseConnection)]


def refusals(events: list[ev.Event]) -> list[ev.RequestRefused]:
    return [e for e in events if isinstance(e, ev.RequestRefused)]


def status_of(h: Harness) -> int:
    (response, *_) = [e for e in h.client_events() if isinstance(e, h11.Response)]
    return response.status_code


def waiting_post(h: Harness, body: bytes = b"ab", length: int = 10) -> None:
    h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: %d\r\n\r\n%s" % (length, body))
    h.conn.app_consumed(1)  # the first piece
    h.conn.app_receive_waiting(1, h.now)  # ... and the app waits for the rest
    h.drain()


# ------------------------------------------------------------ request_header_timeout
def test_a_head_trickled_past_the_header_timeout_gets_408_and_no_app() -> None:
    h = Harness(Settings(request_header_timeout=4, keep_alive_timeout=75))
    h.feed(b"GET / HTTP/1.1\r\n")
    assert h.conn.get_timer() == h.now + 4
    h.now += 3
    h.feed(b"host: a\r\n")  # progress does not move the deadline: the whole head counts
    assert h.conn.get_timer() == h.now + 1
    h.conn.handle_timer(h.now + 0.9)
    assert not closes(h.drain())
    h.conn.handle_timer(h.now + 1)
    got = h.drain()
    assert closes(got)
    assert not starts(h.events)
    assert status_of(h) == 408
    assert refusals(got) == [ev.RequestRefused("request_header_timeout", 408, 0)]


def test_the_header_deadline_is_per_request_and_starts_at_its_first_byte() -> None:
    h = Harness(Settings(request_header_timeout=4, keep_alive_timeout=75))
    h.send_request(get(), h11.EndOfMessage())
    h.respond(1)
    h.client_events()
    h.client.start_next_cycle()
    h.now += 30  # idle: only keep-alive runs
    assert h.conn.get_timer() == h.now - 30 + 75
    h.feed(b"GET /two HTTP/1.1\r\n")
    assert h.conn.get_timer() == h.now + 4
    h.now += 1
    (start,) = starts(h.feed(b"host: a\r\n\r\n"))
    assert start.scope["path"] == "/two"
    assert h.conn.get_timer() is None


def test_keep_alive_still_bounds_a_partial_head_and_answers_408() -> None:
    """A partial head does not extend keep-alive (slowloris); the refusal is a 408."""
    h = Harness(Settings(request_header_timeout=30, keep_alive_timeout=5))
    h.now += 3
    h.feed(b"GET / HTTP/1.1\r\n")
    assert h.conn.get_timer() == h.now - 3 + 5
    h.conn.handle_timer(h.now + 2)
    assert closes(h.drain())
    assert status_of(h) == 408


def test_an_idle_connection_still_closes_silently() -> None:
    h = Harness(Settings(request_header_timeout=4, keep_alive_timeout=5))
    h.conn.handle_timer(h.now + 5)
    got = h.drain()
    assert closes(got)
    assert not refusals(got)
    assert h.wire == b""


def test_header_timeout_off() -> None:
    h = Harness(Settings(request_header_timeout=None, keep_alive_timeout=75))
    h.feed(b"GET / HTTP/1.1\r\n")
    assert h.conn.get_timer() == h.now + 75


def test_the_websocket_handshake_head_has_the_same_deadline() -> None:
    h = Harness(Settings(request_header_timeout=2, keep_alive_timeout=75))
    h.feed(_UPGRADE[:40])
    h.conn.handle_timer(h.now + 2)
    assert closes(h.drain())
    assert not starts(h.events)
    assert status_of(h) == 408


# ------------------------------------------------------------ request_body_timeout
def test_a_stalled_body_while_the_app_waits_gets_408_and_disconnect() -> None:
    h = Harness(Settings(request_body_timeout=6))
    waiting_post(h)
    assert h.conn.get_timer() == h.now + 6
    h.now += 5
    h.feed(b"cd")  # progress moves the deadline
    h.conn.app_consumed(1)
    h.conn.app_receive_waiting(1, h.now)
    assert h.conn.get_timer() == h.now + 6
    h.conn.handle_timer(h.now + 6)
    got = h.drain()
    assert {"type": "http.disconnect"} in app_messages(got, 1)
    assert closes(got)
    assert status_of(h) == 408
    assert refusals(got) == [ev.RequestRefused("request_body_timeout", 408, 1)]
    completed = [e for e in got if isinstance(e, ev.RequestCompleted)]
    assert completed[0].response is not None and completed[0].response.status == 408
    # the app's late response goes nowhere, and is no error
    h.respond(1)
    assert h.wire == b""


def test_the_body_timeout_runs_only_while_the_app_waits() -> None:
    h = Harness(Settings(request_body_timeout=6))
    h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 10\r\n\r\nab")
    assert h.conn.get_timer() is None  # the app is busy, not the client's fault


def test_a_stalled_body_after_the_response_began_closes_the_connection() -> None:
    h = Harness(Settings(request_body_timeout=6))
    waiting_post(h)
    h.app_send(1, {"type": "http.response.start", "status": 200})
    h.app_send(1, {"type": "http.response.body", "body": b"part", "more_body": True})
    h.conn.app_receive_waiting(1, h.now)
    h.conn.handle_timer(h.now + 6)
    got = h.drain()
    assert closes(got)
    assert b"408" not in h.wire
    assert refusals(got) == [ev.RequestRefused("request_body_timeout", None, 1)]
    assert {"type": "http.disconnect"} in app_messages(got, 1)


def test_a_held_back_start_is_replaced_by_the_408() -> None:
    h = Harness(Settings(request_body_timeout=6))
    waiting_post(h)
    h.app_send(1, {"type": "http.response.start", "status": 200})  # head not written yet
    h.conn.handle_timer(h.now + 6)
    h.drain()
    assert status_of(h) == 408


# ---------------------------------------------------------- max_request_body_size
def test_content_length_over_the_limit_is_413_before_the_app() -> None:
    h = Harness(Settings(max_request_body_size=100))
    got = h.feed(
        b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 101\r\nexpect: 100-continue\r\n\r\n"
    )
    assert not starts(got)
    assert closes(got)
    assert status_of(h) == 413
    assert b"100 Continue" not in h.wire
    assert refusals(got) == [ev.RequestRefused("max_request_body_size", 413, 0)]


def test_content_length_at_the_limit_is_served() -> None:
    h = Harness(Settings(max_request_body_size=4))
    got = h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 4\r\n\r\nabcd")
    assert app_messages(got, 1) == [{"type": "http.request", "body": b"abcd", "more_body": False}]


def test_a_chunked_body_crossing_the_limit_is_413_and_no_byte_past_it() -> None:
    h = Harness(Settings(max_request_body_size=10))
    h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n6\r\nabcdef\r\n")
    got = h.feed(b"6\r\nghijkl\r\n")
    delivered = b"".join(cast(bytes, m.get("body", b"")) for m in app_messages(h.events, 1))
    assert delivered == b"abcdef"
    assert {"type": "http.disconnect"} in app_messages(got, 1)
    assert closes(got)
    assert status_of(h) == 413
    assert refusals(got) == [ev.RequestRefused("max_request_body_size", 413, 1)]


def test_a_chunked_body_crossing_the_limit_mid_response_cuts_the_connection() -> None:
    h = Harness(Settings(max_request_body_size=10))
    h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n6\r\nabcdef\r\n")
    h.app_send(1, {"type": "http.response.start", "status": 200})
    h.app_send(1, {"type": "http.response.body", "body": b"x", "more_body": True})
    got = h.feed(b"6\r\nghijkl\r\n")
    assert closes(got)
    assert b"413" not in h.wire
    assert refusals(got) == [ev.RequestRefused("max_request_body_size", None, 1)]


def test_no_limit_by_default() -> None:
    h = Harness()
    size = 32 * 1024 * 1024
    got = h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: %d\r\n\r\n" % size)
    assert starts(got)


# --------------------------------------------------------- response_write_timeout
def test_a_full_send_buffer_past_the_write_timeout_aborts_the_connection() -> None:
    h = Harness(Settings(response_write_timeout=8))
    h.send_request(get(), h11.EndOfMessage())
    h.app_send(1, {"type": "http.response.start", "status": 200})
    h.app_send(1, {"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
    h.conn.transport_blocked(h.now)
    assert h.conn.get_timer() == h.now + 8
    h.conn.transport_unblocked()  # the client read: the clock stops
    assert h.conn.get_timer() is None
    h.now += 20
    h.conn.transport_blocked(h.now)
    h.conn.transport_blocked(h.now + 5)  # already blocked: the first moment counts
    h.conn.handle_timer(h.now + 7.9)
    assert not closes(h.drain())
    h.conn.handle_timer(h.now + 8)
    got = h.drain()
    (close,) = closes(got)
    assert close.discard
    assert {"type": "http.disconnect"} in app_messages(got, 1)
    assert refusals(got) == [ev.RequestRefused("response_write_timeout", None, 1)]
    assert [e for e in got if isinstance(e, ev.RequestCompleted)]


def test_a_stalled_websocket_reader_is_cut_by_the_write_timeout() -> None:
    h = Harness(Settings(response_write_timeout=8))
    h.feed(_UPGRADE)
    h.app_send(1, {"type": "websocket.accept"})
    h.app_send(1, {"type": "websocket.send", "bytes": b"x" * 1000})
    h.conn.transport_blocked(h.now)
    assert h.conn.get_timer() == h.now + 8
    h.conn.handle_timer(h.now + 8)
    got = h.drain()
    (close,) = closes(got)
    assert close.discard
    assert {"type": "websocket.disconnect", "code": 1006} in [
        {"type": m["type"], "code": m.get("code")} for m in app_messages(got, 1)
    ]
    assert refusals(got) == [ev.RequestRefused("response_write_timeout", None, 1)]


# ------------------------------------------------------------- lingering closes
def test_a_refused_body_closes_with_linger() -> None:
    h = Harness(Settings(max_request_body_size=4))
    got = h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\n0123")
    got += h.drain()
    assert status_of(h) == 413
    assert [close.linger for close in closes(got)] == [True]  # the body may still come


def test_a_whole_response_before_the_whole_body_says_close_and_lingers() -> None:
    h = Harness(Settings())
    h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\n0123")
    h.drain()
    h.respond(1, status=200, body=b"early")  # the app answers without reading on
    assert b"connection: close\r\n" in h.wire.lower()  # so the client does not reuse it
    assert [close.linger for close in closes(h.events)] == [True]


def test_a_streamed_response_before_the_whole_body_keeps_the_connection() -> None:
    # the head goes out while the app may still read the body: nothing is decided yet
    h = Harness(Settings())
    h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 4\r\n\r\n01")
    h.drain()
    h.app_send(1, {"type": "http.response.start", "status": 200, "headers": []})
    h.app_send(1, {"type": "http.response.body", "body": b"a", "more_body": True})
    h.feed(b"23")
    h.app_send(1, {"type": "http.response.body", "body": b"b"})
    assert b"connection: close" not in h.wire.lower()
    assert not closes(h.events)
