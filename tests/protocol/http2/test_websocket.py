"""WebSocket over HTTP/2 (RFC 8441): an h2 client opens an extended CONNECT stream and
speaks WebSocket frames (wsproto's frame layer) inside it."""

from __future__ import annotations

import h2.events
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, TextMessage

from hypercorn_protocol import events as ev
from tests.helpers.h2client import H2Harness
from tests.helpers.websocket import extended_connect


def open_websocket(h: H2Harness, version: bytes = b"13") -> int:
    stream_id = h.client.get_next_available_stream_id()
    h.client.send_headers(
        stream_id,
        extended_connect(
            b"example.com",
            b"/chat?room=1",
            version=version,
            extra=[(b"sec-websocket-protocol", b"chat, superchat")],
        ),
    )
    h.exchange()
    return stream_id


def stream_data(h: H2Harness, stream_id: int) -> bytes:
    data = b""
    for event in h.client_events:
        if isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
            data += event.data or b""
            h.client.acknowledge_received_data(event.flow_controlled_length or 0, stream_id)
    h.client_events.clear()
    return data


def test_websocket_over_h2_echo_and_close_codes() -> None:
    h = H2Harness()
    assert h.client.remote_settings.enable_connect_protocol == 1
    stream_id = open_websocket(h)
    (start,) = [e for e in h.events if isinstance(e, ev.StartApp)]
    scope = start.scope
    assert scope["type"] == "websocket"
    assert scope["http_version"] == "2"
    assert scope["scheme"] == "wss"
    assert scope["path"] == "/chat"
    assert scope["query_string"] == b"room=1"
    assert scope["subprotocols"] == ["chat", "superchat"]
    messages = [e.message for e in h.events if isinstance(e, ev.AppMessage)]
    assert messages == [{"type": "websocket.connect"}]
    h.conn.app_consumed(stream_id)
    h.app_send(stream_id, {"type": "websocket.accept", "subprotocol": "chat"})
    responses = [e for e in h.client_events if isinstance(e, h2.events.ResponseReceived)]
    headers = dict(responses[0].headers or [])
    assert headers[b":status"] == b"200"
    assert headers[b"sec-websocket-protocol"] == b"chat"
    h.client_events.clear()

    client_ws = Connection(ConnectionType.CLIENT)
    h.client.send_data(stream_id, client_ws.send(TextMessage(data="hello")))
    h.exchange()
    received = [e.message for e in h.events if isinstance(e, ev.AppMessage)][-1]
    assert received["type"] == "websocket.receive"
    assert received["text"] == "hello"
    h.conn.app_consumed(stream_id)

    h.app_send(stream_id, {"type": "websocket.send", "bytes": b"\x00\x01"})
    client_ws.receive_data(stream_data(h, stream_id))
    (message,) = list(client_ws.events())
    assert isinstance(message, BytesMessage)
    assert message.data == b"\x00\x01"

    # the client closes with its own code: the app must see it (not 1006)
    h.client.send_data(stream_id, client_ws.send(CloseConnection(code=4001, reason="bye")))
    h.exchange()
    disconnect = [e.message for e in h.events if isinstance(e, ev.AppMessage)][-1]
    assert disconnect["type"] == "websocket.disconnect"
    assert disconnect["code"] == 4001
    assert disconnect["reason"] == "bye"
    ended = [
        e
        for e in h.client_events
        if isinstance(e, h2.events.StreamEnded) and e.stream_id == stream_id
    ]
    assert ended, "after the closing handshake the server ends its side of the stream"
    client_ws.receive_data(stream_data(h, stream_id))
    assert any(isinstance(e, CloseConnection) and e.code == 4001 for e in client_ws.events())
    assert not h.conn.closed  # the connection outlives one WebSocket
    (completed,) = [e for e in h.events if isinstance(e, ev.RequestCompleted)]
    assert completed.response is not None and completed.response.status == 200


def test_websocket_over_h2_denied_with_403_and_bad_version_400() -> None:
    h = H2Harness()
    stream_id = open_websocket(h)
    h.app_send(stream_id, {"type": "websocket.close"})
    responses = [e for e in h.client_events if isinstance(e, h2.events.ResponseReceived)]
    assert dict(responses[0].headers or [])[b":status"] == b"403"
    other = open_websocket(h, version=b"8")
    statuses = [
        dict(e.headers or [])[b":status"]
        for e in h.client_events
        if isinstance(e, h2.events.ResponseReceived) and e.stream_id == other
    ]
    assert statuses == [b"400"]


def test_websocket_over_h2_gets_1001_on_shutdown() -> None:
    h = H2Harness()
    stream_id = open_websocket(h)
    h.conn.app_consumed(stream_id)
    h.app_send(stream_id, {"type": "websocket.accept"})
    h.client_events.clear()
    h.conn.start_shutdown(h.now)
    h.exchange()
    client_ws = Connection(ConnectionType.CLIENT)
    client_ws.receive_data(stream_data(h, stream_id))
    closes = [e for e in client_ws.events() if isinstance(e, CloseConnection)]
    assert closes and closes[0].code == 1001


def test_websocket_over_h2_server_pings_and_pong_timeout() -> None:
    from tests.helpers.protocol import Settings

    settings = Settings(websocket_ping_interval=10.0, websocket_pong_timeout=5.0)
    h = H2Harness(settings)
    stream_id = open_websocket(h)
    h.conn.app_consumed(stream_id)
    h.app_send(stream_id, {"type": "websocket.accept"})
    h.client_events.clear()
    assert h.conn.get_timer() == h.now + 10.0
    h.conn.handle_timer(h.now + 10.0)
    h.exchange()
    client_ws = Connection(ConnectionType.CLIENT)
    client_ws.receive_data(stream_data(h, stream_id))
    from wsproto.events import Ping

    assert any(isinstance(e, Ping) for e in client_ws.events())
    # no pong: after the pong timeout the WebSocket is given up and the app told
    h.conn.handle_timer(h.now + 15.0)
    h.exchange()
    disconnects = [
        e.message
        for e in h.events
        if isinstance(e, ev.AppMessage) and e.message["type"] == "websocket.disconnect"
    ]
    assert disconnects and disconnects[0]["code"] == 1006
