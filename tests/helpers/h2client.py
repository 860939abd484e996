"""An h2 client driving a sans-IO ServerConnection: no loop, no sockets."""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.events

from hypercorn_protocol import ServerConnection, events
from hypercorn_protocol.typing import Message
from tests.helpers.protocol import Settings


class H2Harness:
    def __init__(
        self,
        settings: Settings | None = None,
        now: float = 1_000_000.0,
        client_settings: dict[Any, int] | None = None,
        client_class: type[h2.connection.H2Connection] = h2.connection.H2Connection,
    ) -> None:
        self.now = now
        self.settings = settings or Settings()
        self.conn = ServerConnection(
            self.settings,
            client=("127.0.0.1", 5000),
            server=("127.0.0.1", 8000),
            scheme="https",
            now=now,
            alpn="h2",
        )
        self.client = client_class(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.client.initiate_connection()
        if client_settings:
            self.client.update_settings(client_settings)
        self.events: list[events.Event] = []
        self.client_events: list[h2.events.Event] = []
        self.exchange()

    def exchange(self) -> list[events.Event]:
        """Move bytes both ways until quiet; return the server events produced."""
        new: list[events.Event] = []
        for _ in range(50):
            outgoing = self.client.data_to_send()
            if outgoing:
                self.conn.receive_data(outgoing, self.now)
            new.extend(self._drain())
            incoming = self.conn.data_to_send()
            if incoming:
                self.client_events.extend(self.client.receive_data(incoming))
            if not outgoing and not incoming:
                break
        self.events.extend(new)
        return new

    def conn_events(self) -> list[events.Event]:
        """Events the server produced that nobody drained yet, plus all seen so far."""
        self.events.extend(self._drain())
        return self.events

    def _drain(self) -> list[events.Event]:
        out = []
        while (event := self.conn.next_event()) is not None:
            out.append(event)
        return out

    def request(
        self,
        path: str = "/",
        method: str = "GET",
        body: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
        end: bool = True,
    ) -> int:
        stream_id = self.client.get_next_available_stream_id()
        request_headers = [
            (b":method", method.encode()),
            (b":path", path.encode()),
            (b":scheme", b"https"),
            (b":authority", b"example.com"),
            *(headers or []),
        ]
        self.client.send_headers(stream_id, request_headers, end_stream=end and not body)
        if body:
            self.client.send_data(stream_id, body, end_stream=end)
        self.exchange()
        return stream_id

    def send_raw_headers(self, fields: list[tuple[bytes, bytes]], end: bool = True) -> int:
        """Open a stream with exactly these fields, bypassing the client's own checks."""
        config = self.client.config
        config.validate_outbound_headers = config.normalize_outbound_headers = False
        try:
            stream_id = self.client.get_next_available_stream_id()
            self.client.send_headers(stream_id, fields, end_stream=end)
        finally:
            config.validate_outbound_headers = config.normalize_outbound_headers = True
        self.exchange()
        return stream_id

    def resets(self) -> dict[int, int]:
        """RST_STREAM codes the client received, by stream."""
        return {
            e.stream_id: e.error_code
            for e in self.client_events
            if isinstance(e, h2.events.StreamReset) and e.stream_id is not None
        }

    def app_send(self, stream_id: int, message: Message) -> bool:
        ok = self.conn.app_send(stream_id, message, self.now)
        self.events.extend(self._drain())
        self.exchange()
        return ok

    def respond(self, stream_id: int, status: int = 200, body: bytes = b"hi", **extra: Any) -> None:
        self.app_send(stream_id, {"type": "http.response.start", "status": status, **extra})
        self.app_send(stream_id, {"type": "http.response.body", "body": body})

    def response_for(self, stream_id: int) -> tuple[dict[bytes, bytes], bytes, bool]:
        headers: dict[bytes, bytes] = {}
        body = b""
        ended = False
        for event in self.client_events:
            if getattr(event, "stream_id", None) != stream_id:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                headers = dict(event.headers or [])
            elif isinstance(event, h2.events.DataReceived):
                body += event.data or b""
                self.client.acknowledge_received_data(event.flow_controlled_length or 0, stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                ended = True
        return headers, body, ended
