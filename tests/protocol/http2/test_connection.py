"""HTTP/2 core driven by the h2 library as the client: no loop, no sockets."""

from __future__ import annotations

from dataclasses import dataclass

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import pytest

from hypercorn_protocol import ServerConnection, events as ev
from hypercorn_protocol.connection import PREFACE
from tests.helpers.events import app_messages, starts
from tests.helpers.h2client import H2Harness
from tests.helpers.protocol import Settings


def messages(h: H2Harness, stream_id: int) -> list[dict[str, object]]:
    return app_messages(h.events, stream_id)


def assert_still_serving(h: H2Harness) -> None:
    """The connection survived: a new request on it gets its response."""
    other = h.request("/after")
    h.respond(other, body=b"still here")
    assert h.response_for(other)[1] == b"still here"
    assert not h.conn.closed


def test_request_scope_and_response() -> None:
    h = H2Harness(Settings(root_path="/r"))
    stream_id = h.request("/p%20q?x=1", headers=[(b"user-agent", b"t")])
    (start,) = starts(h.events)
    scope = start.scope
    assert scope["http_version"] == "2"
    assert scope["method"] == "GET"
    assert scope["path"] == "/p q"
    assert scope["raw_path"] == b"/p%20q"
    assert scope["query_string"] == b"x=1"
    assert scope["root_path"] == "/r"
    assert scope["headers"] == [(b"host", b"example.com"), (b"user-agent", b"t")]
    assert "http.response.early_hint" in scope["extensions"]
    h.respond(stream_id, body=b"hello", headers=[(b"X-A", b"b")])
    headers, body, ended = h.response_for(stream_id)
    assert headers[b":status"] == b"200"
    assert headers[b"x-a"] == b"b"
    assert headers[b"server"] == b"hypercorn-h2"
    assert body == b"hello"
    assert ended


def test_request_body_and_flow_control_window_follows_consumption() -> None:
    h = H2Harness()
    stream_id = h.request("/", method="POST", body=b"a" * 16000, end=False)
    for _ in range(2):
        h.client.send_data(stream_id, b"a" * 16000)
    h.exchange()
    assert [m["body"] for m in messages(h, stream_id)] == [b"a" * 16000] * 3
    # not consumed yet: no window has been given back
    assert h.client.local_flow_control_window(stream_id) == 65535 - 48000
    for _ in range(3):
        h.conn.app_consumed(stream_id)
    h.exchange()
    assert h.client.local_flow_control_window(stream_id) > 65535 - 48000


def test_unread_request_bodies_give_the_connection_window_back() -> None:
    """Streams that end without the app reading their bodies must not eat the
    connection-level window, or later uploads on the connection stall."""
    h = H2Harness()
    for _ in range(8):  # 8 x 16 kB is past the 65,535-byte connection window
        stream_id = h.request("/", method="POST", body=b"x" * 16_000)
        h.respond(stream_id, body=b"ok")
        assert h.response_for(stream_id)[2]
    assert h.client.outbound_flow_control_window >= 16_000  # room for one more upload


def test_slow_stream_does_not_block_other_streams() -> None:
    h = H2Harness()
    slow = h.request("/slow")
    fast = h.request("/fast")
    h.app_send(slow, {"type": "http.response.start", "status": 200})
    may_continue = h.app_send(
        slow, {"type": "http.response.body", "body": b"s" * 300_000, "more_body": True}
    )
    assert may_continue is False, "the app must wait for window, not buffer without bound"
    # The client reads the connection but never the slow stream: only the
    # connection-level window is given back.
    sent = sum(
        len(e.data or b"")
        for e in h.client_events
        if isinstance(e, h2.events.DataReceived) and e.stream_id == slow
    )
    h.client.increment_flow_control_window(sent)
    h.exchange()
    h.respond(fast, body=b"quick")
    _, body, ended = h.response_for(fast)
    assert body == b"quick"
    assert ended
    assert h.conn.writable(slow) is False
    for _ in range(10):  # now the client reads the slow stream too
        h.response_for(slow)  # acknowledges what arrived
        h.client_events.clear()
        h.exchange()
        if any(isinstance(e, ev.StreamWritable) and e.stream_id == slow for e in h.events):
            break
    assert h.conn.writable(slow)


def test_reset_stream_disconnects_that_app_only() -> None:
    h = H2Harness()
    first = h.request("/one")
    second = h.request("/two")
    h.client.reset_stream(first)
    h.exchange()
    assert {"type": "http.disconnect"} in messages(h, first)
    assert {"type": "http.disconnect"} not in messages(h, second)
    h.app_send(first, {"type": "http.response.start", "status": 200})  # ignored, no crash
    h.respond(second)
    assert h.response_for(second)[2]


def test_data_for_closed_stream_does_not_kill_the_connection() -> None:
    h = H2Harness()
    stream_id = h.request("/", method="POST", body=b"x", end=False)
    h.respond(stream_id)
    # The client keeps sending body on a stream whose response is complete.
    h.client.send_data(stream_id, b"late", end_stream=True)
    h.exchange()
    assert_still_serving(h)


def test_protocol_error_goaway_with_code() -> None:
    h = H2Harness()
    h.conn.receive_data(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x", h.now)  # DATA on stream 0
    while (event := h.conn.next_event()) is not None:
        h.events.append(event)
    data = h.conn.data_to_send()
    received = h.client.receive_data(data)
    goaways = [e for e in received if isinstance(e, h2.events.ConnectionTerminated)]
    assert len(goaways) == 1
    assert goaways[0].error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR
    assert any(isinstance(e, ev.CloseConnection) for e in h.events)


def test_max_inbound_frame_size_takes_effect() -> None:
    h = H2Harness(Settings())
    assert h.client.remote_settings.max_frame_size == 16384
    stream_id = h.client.get_next_available_stream_id()
    h.client.send_headers(
        stream_id,
        [(b":method", b"POST"), (b":path", b"/"), (b":scheme", b"https"), (b":authority", b"x")],
    )
    # a DATA frame of 20000 bytes, larger than the advertised 16384
    frame = (20000).to_bytes(3, "big") + b"\x00\x00" + stream_id.to_bytes(4, "big") + b"z" * 20000
    h.conn.receive_data(h.client.data_to_send() + frame, h.now)
    received = h.client.receive_data(h.conn.data_to_send())
    goaways = [e for e in received if isinstance(e, h2.events.ConnectionTerminated)]
    assert goaways and goaways[0].error_code == h2.errors.ErrorCodes.FRAME_SIZE_ERROR


def test_keep_alive_max_requests_sends_goaway() -> None:
    h = H2Harness(Settings(keep_alive_max_requests=2))
    for _ in range(2):
        stream_id = h.request("/")
        h.respond(stream_id)
    assert any(isinstance(e, h2.events.ConnectionTerminated) for e in h.client_events)
    assert any(isinstance(e, ev.CloseConnection) for e in h.events)


def test_rapid_reset_flood_is_cut_off() -> None:
    h = H2Harness(Settings(keep_alive_max_requests=100_000))
    for _ in range(300):
        stream_id = h.client.get_next_available_stream_id()
        h.client.send_headers(
            stream_id,
            [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"https"), (b":authority", b"x")],
        )
        h.client.reset_stream(stream_id)
        h.conn.receive_data(h.client.data_to_send(), h.now)
        if h.conn.closed:
            break
    assert h.conn.closed
    received = h.client.receive_data(h.conn.data_to_send())
    goaways = [e for e in received if isinstance(e, h2.events.ConnectionTerminated)]
    assert goaways and goaways[0].error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM


@dataclass(frozen=True)
class LimitedSettings(Settings):
    h2_max_concurrent_streams: int = 3


class GreedyClient(h2.connection.H2Connection):
    """A client that ignores the server's SETTINGS_MAX_CONCURRENT_STREAMS."""

    @property
    def open_outbound_streams(self) -> int:
        return 0


def test_stream_beyond_max_concurrent_streams_is_refused_alone() -> None:
    h = H2Harness(LimitedSettings(), client_class=GreedyClient)
    assert h.client.remote_settings.max_concurrent_streams == 3
    open_ids = [h.request(f"/s{i}") for i in range(3)]
    extra = h.request("/extra", headers=[(b"x-big", b"v" * 100)])  # HPACK state must hold
    assert h.resets() == {extra: h2.errors.ErrorCodes.REFUSED_STREAM}
    assert not h.conn.closed
    assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in h.client_events)
    assert [s.scope["path"] for s in starts(h.events)] == ["/s0", "/s1", "/s2"]
    for stream_id in open_ids:
        h.respond(stream_id, body=b"ok %d" % stream_id)
        assert h.response_for(stream_id)[1:] == (b"ok %d" % stream_id, True)
    # the refused request, retried, is served; the table entries it added still decode
    retry = h.request("/extra", headers=[(b"x-big", b"v" * 100)])
    assert dict(starts(h.events)[-1].scope["headers"])[b"x-big"] == b"v" * 100
    h.respond(retry, body=b"retried")
    assert h.response_for(retry)[1] == b"retried"
    assert_still_serving(h)


def test_flood_of_streams_beyond_the_limit_is_cut_off() -> None:
    h = H2Harness(LimitedSettings(h2_max_concurrent_streams=1), client_class=GreedyClient)
    h.request("/open")
    for _ in range(300):
        h.request("/over")
        if h.conn.closed:
            break
    assert h.conn.closed
    goaways = [e for e in h.client_events if isinstance(e, h2.events.ConnectionTerminated)]
    assert goaways and goaways[0].error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM


def test_trailers_sent_when_requested() -> None:
    h = H2Harness()
    stream_id = h.request("/", headers=[(b"te", b"trailers")])
    assert "http.response.trailers" in starts(h.events)[0].scope["extensions"]
    h.app_send(stream_id, {"type": "http.response.start", "status": 200, "trailers": True})
    h.app_send(stream_id, {"type": "http.response.body", "body": b"data"})
    h.app_send(stream_id, {"type": "http.response.trailers", "headers": [(b"x-checksum", b"1")]})
    trailers = [e for e in h.client_events if isinstance(e, h2.events.TrailersReceived)]
    assert trailers and dict(trailers[0].headers or [])[b"x-checksum"] == b"1"
    assert h.response_for(stream_id)[1:] == (b"data", True)


@pytest.mark.parametrize("window", [65535, 3])
def test_trailers_advertised_always_and_dropped_unless_requested(window: int) -> None:
    """As Hypercorn 0.18: apps test the extension, not te; unrequested trailers vanish."""
    h = H2Harness(client_settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
    stream_id = h.request("/")
    assert "http.response.trailers" in starts(h.events)[0].scope["extensions"]
    h.app_send(stream_id, {"type": "http.response.start", "status": 200, "trailers": True})
    h.app_send(stream_id, {"type": "http.response.body", "body": b"data", "more_body": True})
    h.app_send(stream_id, {"type": "http.response.body", "body": b"!"})
    # a small window keeps the body buffered: the trailers arrive while it is still open
    h.app_send(
        stream_id,
        {"type": "http.response.trailers", "headers": [(b"x-a", b"1")], "more_trailers": True},
    )
    h.app_send(stream_id, {"type": "http.response.trailers", "headers": [(b"x-b", b"2")]})
    acked = 0
    for _ in range(10):  # give the window back, a frame at a time
        data = [e for e in h.client_events if isinstance(e, h2.events.DataReceived)]
        for event in data[acked:]:
            h.client.acknowledge_received_data(event.flow_controlled_length or 0, stream_id)
        acked = len(data)
        h.exchange()
    assert h.response_for(stream_id)[1:] == (b"data!", True)
    assert not any(isinstance(e, h2.events.TrailersReceived) for e in h.client_events)
    assert not h.resets()
    assert not h.conn.closed


def test_trailers_before_the_body_are_misuse_even_when_dropped() -> None:
    h = H2Harness()
    stream_id = h.request("/")
    h.app_send(stream_id, {"type": "http.response.start", "status": 200, "trailers": True})
    with pytest.raises(Exception, match="Unexpected"):
        h.app_send(stream_id, {"type": "http.response.trailers", "headers": []})


def test_early_hints_sent_as_103() -> None:
    h = H2Harness()
    stream_id = h.request("/")
    h.app_send(stream_id, {"type": "http.response.early_hint", "links": [b"</s.css>; rel=preload"]})
    informational = [
        e for e in h.client_events if isinstance(e, h2.events.InformationalResponseReceived)
    ]
    assert informational
    assert dict(informational[0].headers or [])[b":status"] == b"103"
    h.respond(stream_id)
    assert h.response_for(stream_id)[2]


def test_server_push_starts_the_pushed_request() -> None:
    h = H2Harness()
    stream_id = h.request("/")
    h.app_send(stream_id, {"type": "http.response.push", "path": "/style.css", "headers": []})
    pushed = [e for e in h.client_events if isinstance(e, h2.events.PushedStreamReceived)]
    assert pushed
    promised = pushed[0].pushed_stream_id
    assert promised is not None
    assert any(
        s.stream_id == promised and s.scope["path"] == "/style.css" for s in starts(h.events)
    )
    h.respond(promised, body=b"css")
    assert h.response_for(promised)[1] == b"css"


def test_push_not_offered_when_client_disables_it() -> None:
    h = H2Harness(client_settings={h2.settings.SettingCodes.ENABLE_PUSH: 0})
    h.request("/")
    assert "http.response.push" not in starts(h.events)[0].scope["extensions"]


def test_app_error_before_response_is_500_and_mid_body_resets() -> None:
    h = H2Harness()
    first = h.request("/")
    h.conn.app_finished(first, RuntimeError("boom"), h.now)
    h.exchange()
    assert h.response_for(first)[0][b":status"] == b"500"
    second = h.request("/")
    h.app_send(second, {"type": "http.response.start", "status": 200})
    h.app_send(second, {"type": "http.response.body", "body": b"part", "more_body": True})
    h.conn.app_finished(second, RuntimeError("boom"), h.now)
    h.exchange()
    resets = [e for e in h.client_events if isinstance(e, h2.events.StreamReset)]
    assert resets and resets[0].stream_id == second
    assert not h.response_for(second)[2]


def test_idle_timeout_and_graceful_shutdown() -> None:
    h = H2Harness(Settings(keep_alive_timeout=5))
    assert h.conn.get_timer() == h.now + 5
    stream_id = h.request("/")
    assert h.conn.get_timer() is None
    h.conn.start_shutdown(h.now)
    h.exchange()
    # h2 (and httpcore on it) takes no frame after a GOAWAY: none before the response
    assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in h.client_events)
    assert not h.conn.closed  # the open stream may finish
    late = h.request("/late")
    assert h.resets() == {late: h2.errors.ErrorCodes.REFUSED_STREAM}
    assert [s.stream_id for s in starts(h.events)] == [stream_id]
    h.respond(stream_id, body=b"done")
    assert h.response_for(stream_id)[1:] == (b"done", True)
    goaway = h.client_events[-1]
    assert isinstance(goaway, h2.events.ConnectionTerminated)
    assert goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
    assert goaway.last_stream_id == late
    assert sum(isinstance(e, h2.events.ConnectionTerminated) for e in h.client_events) == 1
    assert h.conn.closed


def test_graceful_shutdown_of_an_idle_connection_is_one_goaway() -> None:
    h = H2Harness()
    h.respond(h.request("/"))
    h.conn.start_shutdown(h.now)
    h.exchange()
    (goaway,) = [e for e in h.client_events if isinstance(e, h2.events.ConnectionTerminated)]
    assert goaway.error_code == h2.errors.ErrorCodes.NO_ERROR and goaway.last_stream_id == 1
    assert h.conn.closed


def test_keep_alive_max_requests_lets_open_streams_finish_before_goaway() -> None:
    h = H2Harness(Settings(keep_alive_max_requests=2))
    first, second = h.request("/1"), h.request("/2")
    over = h.request("/3")
    assert h.resets() == {over: h2.errors.ErrorCodes.REFUSED_STREAM}
    assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in h.client_events)
    h.respond(first, body=b"one")
    h.respond(second, body=b"two")
    assert h.response_for(first)[1:] == (b"one", True)
    assert h.response_for(second)[1:] == (b"two", True)
    assert isinstance(h.client_events[-1], h2.events.ConnectionTerminated)
    assert h.conn.closed


def test_prior_knowledge_preface_selects_http2() -> None:
    conn = ServerConnection(Settings(), client=None, server=None, scheme="http", now=0.0, alpn=None)
    conn.receive_data(PREFACE[:10], 0.0)
    assert conn.http_version == "1.1"
    conn.receive_data(PREFACE[10:] + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00", 0.0)
    assert conn.http_version == "2"
    assert conn.data_to_send()  # the server's SETTINGS


def test_http1_request_not_mistaken_for_preface() -> None:
    conn = ServerConnection(Settings(), client=None, server=None, scheme="http", now=0.0)
    conn.receive_data(b"P", 0.0)
    conn.receive_data(b"OST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n", 0.0)
    assert conn.http_version == "1.1"
    assert isinstance(conn.next_event(), ev.StartApp)


def test_h2c_upgrade_replays_request_as_stream_1() -> None:
    client = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    settings_header = client.initiate_upgrade_connection()
    assert settings_header is not None
    conn = ServerConnection(Settings(), client=None, server=None, scheme="http", now=0.0)
    request = (
        b"GET /up?x=1 HTTP/1.1\r\nhost: example.com\r\nconnection: Upgrade, HTTP2-Settings\r\n"
        b"upgrade: h2c\r\nhttp2-settings: " + settings_header + b"\r\nx-custom: 1\r\n\r\n"
    )
    conn.receive_data(request + client.data_to_send(), 0.0)
    assert conn.http_version == "2"
    produced = []
    while (event := conn.next_event()) is not None:
        produced.append(event)
    (start,) = starts(produced)
    assert start.stream_id == 1
    assert start.scope["http_version"] == "2"
    assert start.scope["path"] == "/up"
    assert start.scope["query_string"] == b"x=1"
    names = [name for name, _ in start.scope["headers"]]
    assert names == [b"host", b"x-custom"]  # no connection-specific headers leak in
    wire = conn.data_to_send()
    assert wire.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    client.receive_data(wire[wire.index(b"\r\n\r\n") + 4 :])
    conn.app_send(1, {"type": "http.response.start", "status": 200}, 0.0)
    conn.app_send(1, {"type": "http.response.body", "body": b"upgraded"}, 0.0)
    received = client.receive_data(conn.data_to_send())
    data = b"".join(e.data or b"" for e in received if isinstance(e, h2.events.DataReceived))
    assert data == b"upgraded"


def test_h2c_upgrade_with_a_body_stays_on_http11() -> None:
    conn = ServerConnection(Settings(), client=None, server=None, scheme="http", now=0.0)
    conn.receive_data(
        b"POST / HTTP/1.1\r\nhost: x\r\nconnection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\n"
        b"http2-settings: AAMAAABkAAQAAP__\r\ncontent-length: 2\r\n\r\nhi",
        0.0,
    )
    assert conn.http_version == "1.1"
    assert isinstance(conn.next_event(), ev.StartApp)


def _data_order(h: H2Harness) -> list[int]:
    return [
        e.stream_id
        for e in h.client_events
        if isinstance(e, h2.events.DataReceived) and e.stream_id is not None
    ]


def _two_big_responses(h: H2Harness, first: int, second: int) -> None:
    """Both bodies wait behind zero stream windows, then both windows open at once."""
    for stream_id in (first, second):
        h.conn.app_send(stream_id, {"type": "http.response.start", "status": 200}, h.now)
        h.conn.app_send(stream_id, {"type": "http.response.body", "body": b"d" * 100_000}, h.now)
    h.exchange()
    assert not _data_order(h)
    for stream_id in (first, second):
        h.client.increment_flow_control_window(200_000, stream_id)
    h.exchange()


def _zero_window() -> H2Harness:
    return H2Harness(client_settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})


def test_rfc9218_priority_header_sends_most_urgent_first() -> None:
    h = _zero_window()
    background = h.request("/bg", headers=[(b"priority", b"u=5")])
    urgent = h.request("/css", headers=[(b"priority", b"u=1")])
    _two_big_responses(h, background, urgent)
    order = _data_order(h)
    # the connection window (64 KiB) goes to the urgent stream first
    assert order and set(order) == {urgent}


def test_rfc9218_priority_update_frame_reprioritises() -> None:
    h = _zero_window()
    first = h.request("/one", headers=[(b"priority", b"u=3")])
    second = h.request("/two", headers=[(b"priority", b"u=3")])
    payload = second.to_bytes(4, "big") + b"u=0"
    frame = len(payload).to_bytes(3, "big") + b"\x10\x00" + b"\x00\x00\x00\x00" + payload
    h.conn.receive_data(frame, h.now)
    _two_big_responses(h, first, second)
    assert set(_data_order(h)) == {second}


def test_without_priorities_streams_share_round_robin() -> None:
    h = _zero_window()
    first = h.request("/one")
    second = h.request("/two")
    _two_big_responses(h, first, second)
    order = _data_order(h)
    assert order[:2] in ([first, second], [second, first])
    assert set(order) == {first, second}


def test_hpack_bomb_is_refused() -> None:
    h = H2Harness()
    base = [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"https"), (b":authority", b"x")]
    first = h.client.get_next_available_stream_id()
    h.client.send_headers(first, [*base, (b"x-big", b"a" * 4000)], end_stream=True)
    h.exchange()
    second = h.client.get_next_available_stream_id()
    # 40 references to one indexed 4 KB header: ~50 bytes on the wire, 160 KB decoded
    h.client.send_headers(second, [*base] + [(b"x-big", b"a" * 4000)] * 40, end_stream=True)
    wire = h.client.data_to_send()
    assert len(wire) < 200
    h.conn.receive_data(wire, h.now)
    received = h.client.receive_data(h.conn.data_to_send())
    goaways = [e for e in received if isinstance(e, h2.events.ConnectionTerminated)]
    assert goaways and goaways[0].error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    assert not [e for e in h.conn_events() if isinstance(e, ev.StartApp) and e.stream_id == second]


def test_continuation_flood_is_cut_off() -> None:
    h = H2Harness()
    stream_id = h.client.get_next_available_stream_id()
    headers_frame = b"\x00\x00\x00\x01\x00" + stream_id.to_bytes(
        4, "big"
    )  # HEADERS, no END_HEADERS
    continuation = b"\x00\x00\x00\x09\x00" + stream_id.to_bytes(4, "big")  # empty CONTINUATION
    h.conn.receive_data(headers_frame + continuation * 1000, h.now)
    received = h.client.receive_data(h.conn.data_to_send())
    assert any(isinstance(e, h2.events.ConnectionTerminated) for e in received)
    assert h.conn.closed


def test_zero_window_stall_is_bounded() -> None:
    h = H2Harness(
        Settings(h2_stall_timeout=30.0),
        client_settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0},
    )
    stream_id = h.request("/")
    h.app_send(stream_id, {"type": "http.response.start", "status": 200})
    h.app_send(stream_id, {"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
    deadline = h.conn.get_timer()
    assert deadline == h.now + 30.0
    h.conn.handle_timer(h.now + 29.0)
    h.exchange()
    assert not [e for e in h.client_events if isinstance(e, h2.events.StreamReset)]
    h.conn.handle_timer(h.now + 30.0)
    h.exchange()
    resets = [e for e in h.client_events if isinstance(e, h2.events.StreamReset)]
    assert resets and resets[0].error_code == h2.errors.ErrorCodes.CANCEL
    assert {"type": "http.disconnect"} in messages(h, stream_id)


def test_app_header_casing_and_injection_checked_on_http2() -> None:
    h = H2Harness()
    stream_id = h.request("/", headers=[(b"te", b"trailers")])
    h.app_send(
        stream_id,
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"X-Mixed", b"v")],
            "trailers": True,
        },
    )
    h.app_send(stream_id, {"type": "http.response.body", "body": b"x"})
    h.app_send(stream_id, {"type": "http.response.trailers", "headers": [(b"X-Trailer", b"t")]})
    headers, _, _ = h.response_for(stream_id)
    assert headers[b"x-mixed"] == b"v"
    trailers = [e for e in h.client_events if isinstance(e, h2.events.TrailersReceived)]
    assert dict(trailers[0].headers or [])[b"x-trailer"] == b"t"
    other = h.request("/")
    with pytest.raises(ValueError, match="Invalid header"):
        h.app_send(other, {"type": "http.response.early_hint", "links": [b"</a>\r\nx-evil: 1"]})
    with pytest.raises(ValueError, match="Invalid push path"):
        h.app_send(other, {"type": "http.response.push", "path": "/a b", "headers": []})


_GOOD = [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"https"), (b":authority", b"a")]


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ([*_GOOD, (b"X-Upper", b"1")], "upper-case field name"),
        ([*_GOOD, (b"bad name", b"1")], "space in a field name"),
        ([*_GOOD, (b"", b"1")], "empty field name"),
        ([*_GOOD, (b"x", b"a\r\nb: c")], "CR LF in a value"),
        ([*_GOOD, (b"x", b"a\x00b")], "NUL in a value"),
        ([*_GOOD, (b"x", b" padded")], "leading space in a value"),
        ([*_GOOD, (b"connection", b"keep-alive")], "connection-specific field"),
        ([*_GOOD, (b"transfer-encoding", b"chunked")], "transfer-encoding"),
        ([*_GOOD, (b"te", b"gzip")], "te other than trailers"),
        ([*_GOOD, (b":path", b"/again")], "duplicate pseudo-header"),
        ([*_GOOD[:3], (b"x", b"1"), _GOOD[3]], "pseudo-header after a field"),
        ([*_GOOD, (b":status", b"200")], "response pseudo-header"),
        ([*_GOOD, (b":custom", b"1")], "unknown pseudo-header"),
        ([_GOOD[0], _GOOD[1], _GOOD[3]], "missing :scheme"),
        ([_GOOD[0], (b":path", b""), _GOOD[2], _GOOD[3]], "empty :path"),
        ([_GOOD[0], (b":path", b"/a b"), _GOOD[2], _GOOD[3]], "space in :path"),
        ([(b":method", b"G T"), *_GOOD[1:]], "invalid :method"),
        (_GOOD[1:], "missing :method"),
        ([*_GOOD, (b"host", b"b")], ":authority and host differ"),
        ([*_GOOD[:3], (b"host", b"a"), (b"host", b"a")], "two host fields"),
        (_GOOD[:3], "neither :authority nor host"),
        ([*_GOOD, (b":protocol", b"websocket")], ":protocol on GET"),
        ([(b":method", b"CONNECT"), *_GOOD[1:]], "plain CONNECT with :path"),
    ],
)
def test_malformed_request_resets_only_its_stream(
    fields: list[tuple[bytes, bytes]], why: str
) -> None:
    h = H2Harness()
    bad = h.send_raw_headers(fields)
    assert h.resets() == {bad: h2.errors.ErrorCodes.PROTOCOL_ERROR}, why
    assert not starts(h.events), why
    assert_still_serving(h)


def test_valid_edge_cases_are_accepted() -> None:
    h = H2Harness()
    h.send_raw_headers(
        [
            (b":method", b"OPTIONS"),
            (b":path", b"*"),
            (b":scheme", b"https"),
            (b":authority", b"a"),
            (b"cookie", b"a=1"),
            (b"x", b""),
            (b"te", b"Trailers"),
            (b"cookie", b"b=2"),
            (b"x-tab", b"in\tside"),
            (b"x-obs", b"caf\xe9"),
        ]
    )
    (start,) = starts(h.events)
    assert start.scope["method"] == "OPTIONS"
    assert start.scope["path"] == "*"
    assert start.scope["headers"] == [
        (b"host", b"a"),
        (b"x", b""),
        (b"te", b"Trailers"),
        (b"x-tab", b"in\tside"),
        (b"x-obs", b"caf\xe9"),
        (b"cookie", b"a=1; b=2"),  # RFC 9113 section 8.2.3: one field for the app
    ]


def test_plain_connect_is_405() -> None:
    h = H2Harness()
    stream_id = h.send_raw_headers([(b":method", b"CONNECT"), (b":authority", b"a:443")])
    assert h.response_for(stream_id)[0][b":status"] == b"405"
    assert not starts(h.events)


def test_pseudo_header_in_request_trailers_resets_the_stream() -> None:
    h = H2Harness()
    stream_id = h.request("/", method="POST", body=b"x", end=False)
    h.client.config.validate_outbound_headers = False
    h.client.send_headers(stream_id, [(b":path", b"/smuggled")], end_stream=True)
    h.exchange()
    assert h.resets() == {stream_id: h2.errors.ErrorCodes.PROTOCOL_ERROR}
    assert {"type": "http.disconnect"} in messages(h, stream_id)
    assert not h.conn.closed


@pytest.mark.parametrize("table_size", [0, 100, 65536])
def test_response_compression_follows_the_clients_table_size(table_size: int) -> None:
    h = H2Harness(client_settings={h2.settings.SettingCodes.HEADER_TABLE_SIZE: table_size})
    for n in range(20):
        stream_id = h.request(f"/{n}")
        h.respond(stream_id, headers=[(b"x-n", b"%d" % n), (b"x-same", b"v" * 40)])
        headers, body, ended = h.response_for(stream_id)
        assert (headers[b"x-n"], headers[b"x-same"], body, ended) == (
            b"%d" % n,
            b"v" * 40,
            b"hi",
            True,
        )
    assert h.client.decoder.header_table_size <= min(table_size, 4096)
