"""HTTP/2 deadlines and the body limit, per stream, with h2 as the client."""

from __future__ import annotations

from typing import cast

import h2.errors
import h2.events
import h2.settings

from hypercorn_protocol import events as ev
from tests.helpers.events import app_messages, starts
from tests.helpers.h2client import H2Harness
from tests.helpers.protocol import Settings


def refusals(h: H2Harness) -> list[ev.RequestRefused]:
    return [e for e in h.conn_events() if isinstance(e, ev.RequestRefused)]


def assert_still_serving(h: H2Harness) -> None:
    other = h.request("/after")
    h.respond(other, body=b"still here")
    assert h.response_for(other)[1] == b"still here"
    assert not h.conn.closed


def closed(h: H2Harness) -> bool:
    return h.conn.closed


def fire(h: H2Harness, at: float) -> None:
    h.conn.handle_timer(at)
    h.exchange()


# ---------------------------------------------------------- max_request_body_size
def test_content_length_over_the_limit_is_413_on_that_stream_only() -> None:
    h = H2Harness(Settings(max_request_body_size=100))
    stream_id = h.request("/", method="POST", headers=[(b"content-length", b"101")], end=False)
    assert not starts(h.events)
    headers, _, ended = h.response_for(stream_id)
    assert headers[b":status"] == b"413"
    assert ended
    assert h.resets().get(stream_id) == h2.errors.ErrorCodes.NO_ERROR  # stop sending the body
    assert refusals(h) == [ev.RequestRefused("max_request_body_size", 413, stream_id)]
    assert_still_serving(h)


def test_data_crossing_the_limit_is_413_and_no_byte_past_it() -> None:
    h = H2Harness(Settings(max_request_body_size=10))
    stream_id = h.request("/", method="POST", body=b"abcdef", end=False)
    h.client.send_data(stream_id, b"ghijkl")
    h.exchange()
    delivered = b"".join(cast(bytes, m.get("body", b"")) for m in app_messages(h.events, stream_id))
    assert delivered == b"abcdef"
    assert {"type": "http.disconnect"} in app_messages(h.events, stream_id)
    assert h.response_for(stream_id)[0][b":status"] == b"413"
    assert refusals(h) == [ev.RequestRefused("max_request_body_size", 413, stream_id)]
    assert h.client.outbound_flow_control_window >= 65535 - 12  # the window came back
    assert_still_serving(h)


def test_data_crossing_the_limit_mid_response_resets_the_stream() -> None:
    h = H2Harness(Settings(max_request_body_size=10))
    stream_id = h.request("/", method="POST", body=b"abcdef", end=False)
    h.app_send(stream_id, {"type": "http.response.start", "status": 200})
    h.app_send(stream_id, {"type": "http.response.body", "body": b"x", "more_body": True})
    h.client.send_data(stream_id, b"ghijkl")
    h.exchange()
    assert h.resets().get(stream_id) == h2.errors.ErrorCodes.CANCEL
    assert refusals(h) == [ev.RequestRefused("max_request_body_size", None, stream_id)]
    assert_still_serving(h)


# ------------------------------------------------------------ request_body_timeout
def test_a_stalled_body_gets_408_on_that_stream_only() -> None:
    h = H2Harness(Settings(request_body_timeout=6))
    slow = h.request("/", method="POST", body=b"ab", end=False)
    h.conn.app_consumed(slow)
    h.conn.app_receive_waiting(slow, h.now)
    h.exchange()
    assert h.conn.get_timer() == h.now + 6
    fire(h, h.now + 5.9)
    assert not refusals(h)
    fire(h, h.now + 6)
    assert h.response_for(slow)[0][b":status"] == b"408"
    assert {"type": "http.disconnect"} in app_messages(h.events, slow)
    assert refusals(h) == [ev.RequestRefused("request_body_timeout", 408, slow)]
    h.now += 6
    assert_still_serving(h)


def test_a_stalled_body_after_the_response_began_resets_the_stream() -> None:
    h = H2Harness(Settings(request_body_timeout=6))
    slow = h.request("/", method="POST", body=b"ab", end=False)
    h.app_send(slow, {"type": "http.response.start", "status": 200})
    h.app_send(slow, {"type": "http.response.body", "body": b"x", "more_body": True})
    h.conn.app_consumed(slow)
    h.conn.app_receive_waiting(slow, h.now)
    fire(h, h.now + 6)
    assert h.resets().get(slow) == h2.errors.ErrorCodes.CANCEL
    assert refusals(h) == [ev.RequestRefused("request_body_timeout", None, slow)]
    h.now += 6
    assert_still_serving(h)


# --------------------------------------------------------- response_write_timeout
def test_a_shut_window_is_bounded_by_the_write_timeout_too() -> None:
    h = H2Harness(
        Settings(h2_stall_timeout=None, response_write_timeout=8),
        client_settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0},
    )
    stream_id = h.request("/")
    h.app_send(stream_id, {"type": "http.response.start", "status": 200})
    h.app_send(stream_id, {"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
    assert h.conn.get_timer() == h.now + 8
    fire(h, h.now + 8)
    assert h.resets().get(stream_id) == h2.errors.ErrorCodes.CANCEL
    assert refusals(h) == [ev.RequestRefused("response_write_timeout", None, stream_id)]
    assert not h.conn.closed


def test_a_full_send_buffer_past_the_write_timeout_aborts_the_connection() -> None:
    h = H2Harness(Settings(response_write_timeout=8))
    stream_id = h.request("/")
    h.conn.transport_blocked(h.now)
    assert h.conn.get_timer() == h.now + 8
    h.conn.handle_timer(h.now + 8)
    got = h.conn_events()
    (close,) = [e for e in got if isinstance(e, ev.CloseConnection)]
    assert close.discard
    assert {"type": "http.disconnect"} in app_messages(got, stream_id)
    assert refusals(h) == [ev.RequestRefused("response_write_timeout", None, stream_id)]


# ---------------------------------------------------------- request_header_timeout
def test_a_header_block_left_incomplete_stops_input_and_ends_in_goaway() -> None:
    h = H2Harness(Settings(request_header_timeout=4))
    open_stream = h.request("/open")  # in flight: it keeps its response
    # a HEADERS frame without END_HEADERS, whose CONTINUATION never comes
    h.conn.receive_data(b"\x00\x00\x05\x01\x00\x00\x00\x00\x03" + b"\x82\x84\x87\x41\x00", h.now)
    h.exchange()
    assert h.conn.get_timer() == h.now + 4
    fire(h, h.now + 4)
    assert refusals(h) == [ev.RequestRefused("request_header_timeout", None, 3)]
    assert not h.conn.closed
    h.respond(open_stream, body=b"kept")
    assert h.response_for(open_stream)[1] == b"kept"
    assert closed(h)
    goaways = [e for e in h.client_events if isinstance(e, h2.events.ConnectionTerminated)]
    assert goaways and goaways[0].last_stream_id == open_stream


def test_a_trickled_frame_header_without_streams_closes_at_once() -> None:
    h = H2Harness(Settings(request_header_timeout=4))
    h.conn.receive_data(b"\x00\x00\x05\x01", h.now)  # HEADERS, cut after its type
    h.exchange()
    fire(h, h.now + 4)
    assert h.conn.closed
    assert refusals(h) == [ev.RequestRefused("request_header_timeout", None, 0)]


def test_partial_data_frames_are_not_a_head() -> None:
    h = H2Harness(Settings(request_header_timeout=4, keep_alive_timeout=75))
    stream_id = h.request("/", method="POST", body=b"", end=False)
    h.conn.receive_data(b"\x00\x01\x00\x00\x00" + stream_id.to_bytes(4, "big") + b"x", h.now)
    assert h.conn.get_timer() is None
