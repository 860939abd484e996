"""The client's GOAWAY: streams it opened before it finish, new ones are refused.

The client here is h2's, which would itself stop taking frames after sending GOAWAY
(its state machine closes too); so the GOAWAY is written as a raw frame behind its
back, as a client that drains its streams (curl, browsers) puts it on the wire.
"""

from __future__ import annotations

import h2.errors
import h2.events
import h2.settings
from hyperframe.frame import GoAwayFrame

from hypercorn_protocol import events as ev
from tests.helpers.events import app_messages, starts
from tests.helpers.h2client import H2Harness
from tests.helpers.protocol import Settings


def client_goaway(h: H2Harness, code: int = 0, last_stream_id: int = 0) -> None:
    h.exchange()  # what the client queued goes first
    frame = GoAwayFrame(0, error_code=code, last_stream_id=last_stream_id).serialize()
    h.conn.receive_data(frame, h.now)
    h.exchange()


def server_goaways(h: H2Harness) -> list[h2.events.ConnectionTerminated]:
    return [e for e in h.client_events if isinstance(e, h2.events.ConnectionTerminated)]


def read_all(h: H2Harness, stream_id: int) -> tuple[dict[bytes, bytes], bytes, bool]:
    """Read the stream as a client that keeps taking data: window back for every byte."""
    seen = 0
    for _ in range(100):
        new, seen = h.client_events[seen:], len(h.client_events)
        for event in new:
            if isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
                h.client.acknowledge_received_data(event.flow_controlled_length or 0, stream_id)
        if any(isinstance(e, h2.events.StreamEnded) and e.stream_id == stream_id for e in new):
            break
        h.exchange()
    headers: dict[bytes, bytes] = {}
    body = b""
    ended = False
    for event in h.client_events:
        if getattr(event, "stream_id", None) != stream_id:
            continue
        if isinstance(event, h2.events.ResponseReceived):
            headers = dict(event.headers or [])
        elif isinstance(event, h2.events.DataReceived):
            body += event.data or b""
        elif isinstance(event, h2.events.StreamEnded):
            ended = True
    return headers, body, ended


def test_open_streams_get_their_responses_after_the_clients_goaway() -> None:
    h = H2Harness()
    first = h.request("/one")
    second = h.request("/two", method="POST", body=b"part", end=False)
    client_goaway(h)
    assert not h.conn.closed
    # A body still arriving on an open stream is delivered.
    h.client.send_data(second, b"-rest", end_stream=True)
    h.exchange()
    assert [m["body"] for m in app_messages(h.events, second)] == [b"part", b"-rest"]
    assert not any(m["type"] == "http.disconnect" for m in app_messages(h.events, first))
    # Bigger than the 65,535-byte windows: it needs the client's WINDOW_UPDATEs,
    # which h2 would refuse once its state machine closed.
    big = bytes(range(256)) * 1024
    h.app_send(first, {"type": "http.response.start", "status": 200})
    h.app_send(first, {"type": "http.response.body", "body": big})
    headers, body, ended = read_all(h, first)
    assert headers[b":status"] == b"200"
    assert body == big
    assert ended
    assert not h.conn.closed  # the second stream is still open
    assert server_goaways(h) == []
    h.respond(second, body=b"two")
    assert h.response_for(second)[1:] == (b"two", True)
    # The last open stream done: one GOAWAY in return, then close.
    (goaway,) = server_goaways(h)
    assert goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
    assert goaway.last_stream_id == second
    assert h.conn.closed


def test_streams_opened_after_the_clients_goaway_are_refused() -> None:
    h = H2Harness()
    first = h.request("/one")
    client_goaway(h)
    late = h.request("/late")  # a client breaking its own promise
    assert h.resets() == {late: h2.errors.ErrorCodes.REFUSED_STREAM}
    assert [s.stream_id for s in starts(h.events)] == [first]
    h.respond(first, body=b"one")
    assert h.response_for(first)[1:] == (b"one", True)
    assert h.conn.closed


def test_the_clients_goaway_on_an_idle_connection_closes_it() -> None:
    h = H2Harness()
    h.respond(h.request("/"))
    client_goaway(h, last_stream_id=0)
    (goaway,) = server_goaways(h)
    assert goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
    assert h.conn.closed


def test_the_clients_goaway_before_any_request_closes_the_connection() -> None:
    h = H2Harness()
    client_goaway(h)
    assert h.conn.closed
    assert starts(h.events) == []


def test_a_goaway_with_an_error_code_ends_the_open_streams_at_once() -> None:
    h = H2Harness()
    stream_id = h.request("/")
    client_goaway(h, code=h2.errors.ErrorCodes.PROTOCOL_ERROR)
    assert h.conn.closed
    assert {"type": "http.disconnect"} in app_messages(h.events, stream_id)
    assert any(isinstance(e, ev.CloseConnection) for e in h.events)


def test_pushes_the_client_will_not_process_are_dropped_and_no_more_are_made() -> None:
    h = H2Harness()
    stream_id = h.request("/")
    h.app_send(stream_id, {"type": "http.response.push", "path": "/a.css", "headers": []})
    (pushed,) = [e.pushed_stream_id for e in h.client_events if hasattr(e, "pushed_stream_id")]
    assert pushed is not None
    client_goaway(h, last_stream_id=0)  # it processed no pushed stream
    assert {"type": "http.disconnect"} in app_messages(h.events, pushed)
    assert h.resets().get(pushed) == h2.errors.ErrorCodes.CANCEL
    h.app_send(stream_id, {"type": "http.response.push", "path": "/b.css", "headers": []})
    assert len([s for s in starts(h.events)]) == 2  # the request and the first push only
    h.respond(stream_id, body=b"page")
    assert h.response_for(stream_id)[1:] == (b"page", True)
    assert h.conn.closed


def test_a_push_the_client_did_take_still_finishes() -> None:
    h = H2Harness()
    stream_id = h.request("/")
    h.app_send(stream_id, {"type": "http.response.push", "path": "/a.css", "headers": []})
    (pushed,) = [e.pushed_stream_id for e in h.client_events if hasattr(e, "pushed_stream_id")]
    assert pushed is not None
    client_goaway(h, last_stream_id=pushed)
    h.respond(stream_id, body=b"page")
    assert not h.conn.closed
    h.respond(pushed, body=b"css")
    assert h.response_for(pushed)[1:] == (b"css", True)
    assert h.conn.closed


def test_settings_after_the_clients_goaway_do_not_re_enable_push() -> None:
    h = H2Harness(Settings())
    stream_id = h.request("/")
    client_goaway(h)
    h.client.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 1})
    h.exchange()
    h.app_send(stream_id, {"type": "http.response.push", "path": "/a.css", "headers": []})
    assert len(starts(h.events)) == 1
    h.respond(stream_id)
    assert h.response_for(stream_id)[2]


def test_frames_the_client_may_still_send_after_its_goaway_are_not_errors() -> None:
    h = H2Harness()
    client_goaway(h)  # before any stream: the connection is done ...
    assert h.conn.closed
    h = H2Harness()
    stream_id = h.request("/")
    client_goaway(h)
    h.client.ping(b"12345678")  # ... but with a stream open, PING and SETTINGS still work
    h.client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
    h.exchange()
    assert any(isinstance(e, h2.events.PingAckReceived) for e in h.client_events)
    assert not server_goaways(h)
    h.respond(stream_id, body=b"ok")
    assert h.response_for(stream_id)[1:] == (b"ok", True)
    (goaway,) = server_goaways(h)
    assert goaway.error_code == h2.errors.ErrorCodes.NO_ERROR


def test_a_request_behind_the_goaway_in_one_read_is_refused_not_started() -> None:
    h = H2Harness()
    h.respond(h.request("/"))
    goaway = GoAwayFrame(0, error_code=0, last_stream_id=0).serialize()
    late = h.client.get_next_available_stream_id()
    h.client.send_headers(
        late,
        [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"https"), (b":authority", b"x")],
        end_stream=True,
    )
    h.conn.receive_data(goaway + h.client.data_to_send(), h.now)
    h.exchange()
    assert h.resets() == {late: h2.errors.ErrorCodes.REFUSED_STREAM}
    assert len(starts(h.events)) == 1
    (sent,) = server_goaways(h)
    assert sent.error_code == h2.errors.ErrorCodes.NO_ERROR
    assert h.conn.closed
