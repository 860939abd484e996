"""The HTTP/1.1 core driven by an h11 client and a fake clock: no loop, no sockets."""

from __future__ import annotations

import h11
import pytest

from hypercorn_protocol import events as ev
from hypercorn_protocol.errors import UnexpectedMessageError
from tests.helpers.events import app_messages, starts
from tests.helpers.protocol import Harness, Settings, get

pytestmark = pytest.mark.usefixtures("http1_wire")  # every test on each HTTP/1.1 wire


def closes(events: list[ev.Event]) -> list[ev.CloseConnection]:
    return [e for e in events if isinstance(e, ev.CloseConnection)]


def test_get_scope_is_exact_asgi() -> None:
    h = Harness(Settings(root_path="/root"))
    (start,) = starts(h.send_request(get("/a%20b/%E2%9C%93?x=1&y=%20"), h11.EndOfMessage()))
    scope = start.scope
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/a b/\u2713"
    assert scope["raw_path"] == b"/a%20b/%E2%9C%93"
    assert scope["query_string"] == b"x=1&y=%20"
    assert scope["root_path"] == "/root"
    assert scope["headers"] == [(b"host", b"example.com")]
    assert scope["client"] == ("127.0.0.1", 5000)
    assert scope["server"] == ("127.0.0.1", 8000)
    assert scope["state"] == {"shared": 1}
    assert app_messages(h.events, 1) == [{"type": "http.request", "body": b"", "more_body": False}]


def test_state_is_a_shallow_copy_per_request() -> None:
    h = Harness()
    (first,) = starts(h.send_request(get(), h11.EndOfMessage()))
    first.scope["state"]["shared"] = 2
    h.respond(1)
    h.client_events()
    h.client.start_next_cycle()
    (second,) = starts(h.send_request(get(), h11.EndOfMessage()))
    assert second.scope["state"] == {"shared": 1}


def test_header_names_lowercase_unless_raw_requested() -> None:
    request = h11.Request(method="GET", target="/", headers=[("Host", "x"), ("X-Thing", "A")])
    lower = Harness()
    (start,) = starts(lower.send_request(request, h11.EndOfMessage()))
    assert start.scope["headers"] == [(b"host", b"x"), (b"x-thing", b"A")]
    raw = Harness(Settings(h11_pass_raw_headers=True))
    (start,) = starts(raw.send_request(request, h11.EndOfMessage()))
    assert start.scope["headers"] == [(b"Host", b"x"), (b"X-Thing", b"A")]


def test_response_with_default_headers_and_content_length() -> None:
    h = Harness()
    h.send_request(get(), h11.EndOfMessage())
    h.respond(1, headers=[(b"X-Custom", b"v")], body=b"hello")
    response, data, end = h.client_events()
    assert isinstance(response, h11.Response)
    assert response.status_code == 200
    assert response.reason == b"OK"
    names = [name for name, _ in response.headers.raw_items()]
    # app headers first (casing kept), then date and server (Hypercorn's order)
    assert names == [b"X-Custom", b"content-length", b"date", b"server"]
    assert dict(response.headers)[b"server"] == b"hypercorn-h11"
    assert dict(response.headers)[b"date"] == b"Mon, 12 Jan 1970 13:46:40 GMT"
    assert isinstance(data, h11.Data) and data.data == b"hello"
    assert isinstance(end, h11.EndOfMessage)
    completed = [e for e in h.events if isinstance(e, ev.RequestCompleted)]
    assert len(completed) == 1
    assert completed[0].response is not None and completed[0].response.status == 200
    assert completed[0].response.body_bytes == 5


def test_default_headers_can_be_turned_off() -> None:
    h = Harness(Settings(include_date_header=False, include_server_header=False))
    h.send_request(get(), h11.EndOfMessage())
    h.respond(1)
    response = h.client_events()[0]
    assert isinstance(response, h11.Response)
    assert [name for name, _ in response.headers] == [b"content-length"]


def test_date_header_follows_the_clock_per_second() -> None:
    h = Harness(now=0.2)
    h.send_request(get(), h11.EndOfMessage())
    h.respond(1)
    first = h.client_events()[0]
    h.client.start_next_cycle()
    h.now = 86400.9
    h.send_request(get(), h11.EndOfMessage())
    h.respond(2)
    second = h.client_events()[0]
    assert isinstance(first, h11.Response) and isinstance(second, h11.Response)
    assert dict(first.headers)[b"date"] == b"Thu, 01 Jan 1970 00:00:00 GMT"
    assert dict(second.headers)[b"date"] == b"Fri, 02 Jan 1970 00:00:00 GMT"


def test_streamed_response_is_chunked_and_request_body_streams_in() -> None:
    h = Harness()
    h.send_request(
        h11.Request(
            method="POST", target="/", headers=[("host", "x"), ("transfer-encoding", "chunked")]
        )
    )
    h.send_request(h11.Data(data=b"ab"))
    h.send_request(h11.Data(data=b"cd"), h11.EndOfMessage())
    assert app_messages(h.events, 1) == [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    ]
    h.app_send(1, {"type": "http.response.start", "status": 200})
    h.app_send(1, {"type": "http.response.body", "body": b"x", "more_body": True})
    h.app_send(1, {"type": "http.response.body", "body": b"y", "more_body": True})
    h.app_send(1, {"type": "http.response.body", "body": b"", "more_body": False})
    assert b"transfer-encoding: chunked" in h.wire.lower()
    got = h.client_events()
    assert b"".join(bytes(e.data) for e in got if isinstance(e, h11.Data)) == b"xy"
    assert isinstance(got[-1], h11.EndOfMessage)


def test_keep_alive_serves_requests_in_sequence() -> None:
    h = Harness()
    for stream_id in (1, 2, 3):
        (start,) = starts(h.send_request(get(), h11.EndOfMessage()))
        assert start.stream_id == stream_id
        h.respond(stream_id)
        assert isinstance(h.client_events()[-1], h11.EndOfMessage)
        h.client.start_next_cycle()
    assert not h.conn.closed


def test_pipelined_requests_answered_in_order() -> None:
    h = Harness()
    wire = b"GET /one HTTP/1.1\r\nhost: x\r\n\r\nGET /two HTTP/1.1\r\nhost: x\r\n\r\n"
    first = h.feed(wire)
    assert [s.scope["path"] for s in starts(first)] == ["/one"]
    assert any(isinstance(e, ev.PauseReading) for e in first)
    h.respond(1, body=b"one")
    second = h.events[len(first) :]
    assert [s.scope["path"] for s in starts(second)] == ["/two"]
    assert any(isinstance(e, ev.ResumeReading) for e in second)
    h.respond(2, body=b"two")
    first_end = h.wire.index(b"\r\n\r\none")
    assert h.wire.index(b"\r\n\r\ntwo") > first_end
    assert h.wire.count(b"HTTP/1.1 200 OK") == 2


def test_expect_100_continue_sent_when_app_waits_for_body() -> None:
    h = Harness()
    request = h11.Request(
        method="POST",
        target="/",
        headers=[("host", "x"), ("content-length", "3"), ("expect", "100-continue")],
    )
    h.send_request(request)
    assert h.wire == b""  # not before the app asks for the body
    h.conn.app_receive_waiting(1, h.now)
    h.drain()
    (informational,) = h.client_events()
    assert isinstance(informational, h11.InformationalResponse)
    assert informational.status_code == 100
    h.send_request(h11.Data(data=b"abc"), h11.EndOfMessage())
    assert app_messages(h.events, 1)[-1] == {
        "type": "http.request",
        "body": b"abc",
        "more_body": False,
    }


def test_no_100_continue_once_the_app_has_answered() -> None:
    h = Harness()
    h.send_request(
        h11.Request(
            method="POST",
            target="/",
            headers=[("host", "x"), ("content-length", "3"), ("expect", "100-continue")],
        )
    )
    h.app_send(1, {"type": "http.response.start", "status": 417})
    h.conn.app_receive_waiting(1, h.now)
    h.app_send(1, {"type": "http.response.body", "body": b""})
    assert b"100 Continue" not in h.wire
    assert h.wire.startswith(b"HTTP/1.1 417 ")


def test_the_other_request_target_forms_are_served() -> None:
    h = Harness()
    h.feed(b"OPTIONS * HTTP/1.1\r\nhost: a\r\n\r\n")
    h.respond(1, body=b"")
    h.feed(b"GET http://a/x?q=1 HTTP/1.1\r\nhost: a\r\n\r\n")
    first, second = starts(h.events)
    assert first.scope["method"] == "OPTIONS"
    assert second.scope["query_string"] == b"q=1"


def test_http10_response_closes_connection() -> None:
    h = Harness()
    h.feed(b"GET / HTTP/1.0\r\n\r\n")
    (start,) = starts(h.events)
    assert start.scope["http_version"] == "1.0"
    h.respond(1, body=b"old")
    assert h.wire.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 3" in h.wire
    assert closes(h.events)


@pytest.mark.parametrize(("method", "status"), [("HEAD", 200), ("GET", 204), ("GET", 304)])
def test_body_suppressed_for_head_204_304(method: str, status: int) -> None:
    h = Harness()
    h.send_request(
        h11.Request(method=method, target="/", headers=[("host", "x")]), h11.EndOfMessage()
    )
    h.app_send(
        1,
        {"type": "http.response.start", "status": status, "headers": [(b"content-length", b"5")]},
    )
    h.app_send(1, {"type": "http.response.body", "body": b"hello"})
    assert b"hello" not in h.wire
    if method == "HEAD":
        assert b"content-length: 5" in h.wire
    assert not h.conn.closed  # keep-alive survives a suppressed body


def test_oversized_head_gets_431_and_close() -> None:
    h = Harness(Settings(h11_max_incomplete_size=1024))
    got = h.feed(b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 2048)
    assert h.wire.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"connection: close" in h.wire
    assert closes(got) and not starts(got)


@pytest.mark.parametrize(
    ("wire", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\ncontent-length: 3\r\n\r\nabc", 400),
        (
            b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\n"
            b"transfer-encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (b"CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n", 405),
        (b"GET / HTTP/1.1\r\nhost: a\r\nbad header\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nhost: a\r\n\r\n", 505),  # h11 takes any HTTP/d.d
        (b"GET / HTTP/1.2\r\nhost: a\r\n\r\n", 505),
        (b"GET ! HTTP/1.1\r\nhost: a\r\n\r\n", 400),  # not a request-target form
        (b"GET * HTTP/1.1\r\nhost: a\r\n\r\n", 400),  # asterisk-form is OPTIONS only
    ],
)
def test_malformed_requests_are_refused_and_closed(wire: bytes, status: int) -> None:
    h = Harness()
    got = h.feed(wire)
    assert not starts(got), "the app must never see a request it cannot trust"
    assert h.wire.startswith(b"HTTP/1.1 %d " % status)
    assert b"connection: close" in h.wire and b"content-length: 0" in h.wire
    (close,) = closes(got)
    assert close.error is not None


def test_bad_chunk_framing_mid_body_answers_400_and_disconnects_app() -> None:
    h = Harness()
    h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
    got = h.feed(b"zz\r\n")
    assert {"type": "http.disconnect"} in app_messages(got, 1)
    assert h.wire.startswith(b"HTTP/1.1 400 ")
    assert closes(got)


def test_keep_alive_timeout_closes_idle_connection_only() -> None:
    h = Harness(Settings(keep_alive_timeout=5))
    assert h.conn.get_timer() == h.now + 5
    h.now += 1
    h.send_request(get(), h11.EndOfMessage())
    assert h.conn.get_timer() is None  # never while a request is in flight
    h.now += 60
    h.respond(1)
    assert h.conn.get_timer() == h.now + 5
    h.conn.handle_timer(h.now + 4.9)
    assert not closes(h.drain())
    h.conn.handle_timer(h.now + 5)
    assert closes(h.drain())


def test_partial_head_does_not_extend_keep_alive() -> None:
    h = Harness(Settings(keep_alive_timeout=5))
    deadline = h.conn.get_timer()
    h.now += 3
    h.feed(b"GET / HTTP/1.1\r\n")
    assert h.conn.get_timer() == deadline


def test_read_timeout_bounds_a_stalled_body() -> None:
    h = Harness(Settings(read_timeout=2))
    h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 10\r\n\r\nabc")
    assert h.conn.get_timer() == h.now + 2
    h.conn.handle_timer(h.now + 2)
    got = h.drain()
    assert {"type": "http.disconnect"} in app_messages(got, 1)
    assert closes(got)


def test_keep_alive_max_requests_closes_after_the_last() -> None:
    h = Harness(Settings(keep_alive_max_requests=2))
    h.send_request(get(), h11.EndOfMessage())
    h.respond(1)
    assert b"connection: close" not in h.wire
    h.client_events()
    h.client.start_next_cycle()
    h.send_request(get(), h11.EndOfMessage())
    h.respond(2)
    assert b"connection: close" in h.wire
    assert closes(h.events)


def test_server_names_mismatch_is_404_without_the_app() -> None:
    h = Harness(Settings(server_names=["good.example:8000"]))
    got = h.feed(b"GET / HTTP/1.1\r\nhost: evil.example\r\n\r\n")
    assert not starts(got)
    assert h.wire.startswith(b"HTTP/1.1 404 ")
    ok = Harness(Settings(server_names=["good.example:8000"]))
    assert starts(ok.feed(b"GET / HTTP/1.1\r\nhost: good.example:8000\r\n\r\n"))


def test_disconnect_delivered_exactly_once_after_response() -> None:
    h = Harness()
    h.send_request(get(), h11.EndOfMessage())
    h.respond(1)
    h.conn.connection_lost(h.now)
    h.drain()
    assert app_messages(h.events, 1).count({"type": "http.disconnect"}) == 1


def test_client_eof_mid_body_disconnects_the_app() -> None:
    h = Harness()
    h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 10\r\n\r\nabc")
    got = h.feed(b"")
    assert {"type": "http.disconnect"} in app_messages(got, 1)
    assert closes(got)


def test_half_close_after_full_request_still_gets_response() -> None:
    h = Harness()
    h.feed(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
    got = h.feed(b"")
    assert not closes(got)
    # The app waiting in receive() (long polling, SSE) learns the client is gone ...
    assert app_messages(got, 1) == [{"type": "http.disconnect"}]
    h.respond(1, body=b"late")
    # ... and what it still sends is written: a half-closed client can read it.
    assert b"late" in h.wire
    assert closes(h.events)
    assert app_messages(h.events, 1).count({"type": "http.disconnect"}) == 1


def test_half_close_behind_pipelined_requests_disconnects_the_current_app() -> None:
    h = Harness()
    h.feed(b"GET /one HTTP/1.1\r\nhost: a\r\n\r\nGET /two HTTP/1.1\r\nhost: a\r\n\r\n")
    got = h.feed(b"")
    assert app_messages(got, 1) == [{"type": "http.disconnect"}]
    assert not closes(got)
    h.respond(1, body=b"one")
    assert [s.scope["path"] for s in starts(h.events)] == ["/one", "/two"]
    assert app_messages(h.events, 2) == [
        {"type": "http.request", "body": b"", "more_body": False},
        {"type": "http.disconnect"},
    ]
    h.respond(2, body=b"two")
    assert b"one" in h.wire and b"two" in h.wire
    assert closes(h.events)


@pytest.mark.parametrize("exc", [RuntimeError("boom"), None])
def test_app_failing_before_response_gives_500(exc: Exception | None) -> None:
    h = Harness()
    h.send_request(get(), h11.EndOfMessage())
    h.conn.app_finished(1, exc, h.now)
    h.drain()
    response = h.client_events()[0]
    assert isinstance(response, h11.Response)
    assert response.status_code == 500
    assert dict(response.headers)[b"content-length"] == b"0"
    assert not h.conn.closed


def test_app_failing_mid_body_cuts_the_connection() -> None:
    h = Harness()
    h.send_request(get(), h11.EndOfMessage())
    h.app_send(1, {"type": "http.response.start", "status": 200})
    h.app_send(1, {"type": "http.response.body", "body": b"part", "more_body": True})
    h.conn.app_finished(1, RuntimeError("boom"), h.now)
    h.drain()
    assert closes(h.events)
    assert not h.wire.endswith(b"0\r\n\r\n"), "a truncated body must not look complete"
    got = h.client_events()
    assert not any(isinstance(e, h11.EndOfMessage) for e in got)


def test_unread_body_backpressure_pauses_and_resumes() -> None:
    h = Harness(Settings(max_app_queue_size=2))
    h.feed(b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n")
    h.feed(b"1\r\na\r\n")
    h.feed(b"1\r\nb\r\n")
    got = h.feed(b"1\r\nc\r\n")
    assert any(isinstance(e, ev.PauseReading) for e in h.events)
    assert not any(isinstance(e, ev.ResumeReading) for e in got)
    h.conn.app_consumed(1)
    h.conn.app_consumed(1)
    assert any(isinstance(e, ev.ResumeReading) for e in h.drain())


def test_app_misuse_raises_for_the_app() -> None:
    h = Harness()
    h.send_request(get(), h11.EndOfMessage())
    with pytest.raises(UnexpectedMessageError):
        h.app_send(1, {"type": "http.response.body", "body": b"x"})
    h.app_send(1, {"type": "http.response.start", "status": 200})
    with pytest.raises(UnexpectedMessageError):
        h.app_send(1, {"type": "http.response.start", "status": 200})
    with pytest.raises(UnexpectedMessageError):
        h.app_send(1, {"type": "http.response.trailers", "headers": []})


def test_trailers_not_offered_on_http11_even_when_asked() -> None:
    """As Hypercorn 0.18: the extension is HTTP/2 (and /3) only, te: trailers or not."""
    h = Harness()
    (start,) = starts(h.send_request(get(te="trailers"), h11.EndOfMessage()))
    assert "http.response.trailers" not in start.scope["extensions"]
    h.app_send(1, {"type": "http.response.start", "status": 200, "trailers": True})
    h.app_send(1, {"type": "http.response.body", "body": b"x", "more_body": True})
    with pytest.raises(UnexpectedMessageError):
        h.app_send(1, {"type": "http.response.trailers", "headers": []})


@pytest.mark.parametrize(
    "header", [(b"x-a", b"b\r\nx-injected: 1"), (b"bad name", b"v"), (b"x-a", b"\x00")]
)
def test_header_injection_is_refused(header: tuple[bytes, bytes]) -> None:
    h = Harness()
    h.send_request(get(), h11.EndOfMessage())
    with pytest.raises(ValueError, match="Invalid header"):
        h.app_send(1, {"type": "http.response.start", "status": 200, "headers": [header]})


def test_shutdown_closes_idle_and_lets_busy_finish() -> None:
    idle = Harness()
    idle.send_request(get(), h11.EndOfMessage())
    idle.respond(1)
    idle.conn.start_shutdown(idle.now)
    assert closes(idle.drain())
    busy = Harness()
    busy.send_request(get(), h11.EndOfMessage())
    busy.conn.start_shutdown(busy.now)
    assert not closes(busy.drain())
    busy.respond(1)
    assert b"connection: close" in busy.wire
    assert closes(busy.events)


def test_sends_after_close_are_ignored() -> None:
    h = Harness()
    h.send_request(get(), h11.EndOfMessage())
    h.conn.connection_lost(h.now)
    h.respond(1)  # must not raise: the client is gone
    assert h.wire == b""


def test_absolute_form_target_reduced_to_path() -> None:
    h = Harness()
    (start,) = starts(h.feed(b"GET http://example.com/p?q=1 HTTP/1.1\r\nhost: example.com\r\n\r\n"))
    assert start.scope["path"] == "/p"
    assert start.scope["query_string"] == b"q=1"


def test_short_body_against_content_length_closes_connection() -> None:
    h = Harness()
    h.send_request(get(), h11.EndOfMessage())
    h.app_send(
        1, {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]}
    )
    h.app_send(1, {"type": "http.response.body", "body": b"short"})
    assert closes(h.events), "the client could not find where the next response starts"


def test_body_longer_than_content_length_is_refused() -> None:
    from hypercorn_protocol.errors import LocalProtocolError

    h = Harness()
    h.send_request(get(), h11.EndOfMessage())
    h.app_send(
        1, {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    with pytest.raises(LocalProtocolError):
        h.app_send(1, {"type": "http.response.body", "body": b"too long"})
    assert b"too long" not in h.wire


def test_app_chunked_header_is_not_duplicated() -> None:
    h = Harness()
    h.send_request(get(), h11.EndOfMessage())
    h.app_send(
        1,
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"Transfer-Encoding", b"chunked")],
        },
    )
    h.app_send(1, {"type": "http.response.body", "body": b"ab", "more_body": True})
    h.app_send(1, {"type": "http.response.body", "body": b""})
    assert h.wire.lower().count(b"transfer-encoding") == 1
    got = h.client_events()
    assert b"".join(bytes(e.data) for e in got if isinstance(e, h11.Data)) == b"ab"
    assert not h.conn.closed


def test_connection_close_from_client_is_honoured() -> None:
    h = Harness()
    h.send_request(get(connection="close"), h11.EndOfMessage())
    h.respond(1)
    assert b"connection: close" in h.wire
    assert closes(h.events)


def test_shutdown_gives_a_fresh_connection_its_first_request() -> None:
    """Accepted just before the shutdown: its request may already be in flight."""
    h = Harness(Settings(keep_alive_timeout=5))
    h.conn.start_shutdown(h.now)
    assert not closes(h.drain())
    assert h.conn.get_timer() == h.now + 1.0
    h.send_request(get(), h11.EndOfMessage())
    h.respond(1, body=b"served")
    assert b"connection: close" in h.wire
    assert b"served" in h.wire
    assert closes(h.events)


def test_shutdown_grace_for_a_fresh_connection_is_short() -> None:
    h = Harness(Settings(keep_alive_timeout=5))
    h.conn.start_shutdown(h.now)
    h.conn.handle_timer(h.now + 1.0)
    assert closes(h.drain())
