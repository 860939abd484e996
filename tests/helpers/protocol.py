"""A deterministic harness for the sans-IO core: fake clock, h11 client, no loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import h11

from hypercorn_protocol import ServerConnection, events
from hypercorn_protocol.config import Config
from hypercorn_protocol.typing import Message

_CONFIG = Config()  # where every default lives
# The http_parser of every Settings() not told otherwise; the http1_wire fixture
# (tests/conftest.py) sets it so the same tests run on each HTTP/1.1 wire.
WIRE = [_CONFIG.http_parser]


@dataclass(frozen=True)
class Settings:
    """A complete ProtocolSettings that is not a Config (the core must not need one),
    with Config's defaults."""

    alt_svc_headers: list[str] = field(default_factory=lambda: list(_CONFIG.alt_svc_headers))
    h11_max_incomplete_size: int = _CONFIG.h11_max_incomplete_size
    h11_pass_raw_headers: bool = _CONFIG.h11_pass_raw_headers
    h2_max_concurrent_streams: int = _CONFIG.h2_max_concurrent_streams
    h2_max_header_list_size: int = _CONFIG.h2_max_header_list_size
    h2_max_inbound_frame_size: int = _CONFIG.h2_max_inbound_frame_size
    h2_stall_timeout: float | None = _CONFIG.h2_stall_timeout
    http_parser: str = field(default_factory=lambda: WIRE[0])
    include_date_header: bool = _CONFIG.include_date_header
    include_server_header: bool = _CONFIG.include_server_header
    keep_alive_max_requests: int = _CONFIG.keep_alive_max_requests
    keep_alive_timeout: float = _CONFIG.keep_alive_timeout
    max_app_queue_size: int = _CONFIG.max_app_queue_size
    max_request_body_size: int | None = _CONFIG.max_request_body_size
    read_timeout: float | None = _CONFIG.read_timeout
    request_body_timeout: float | None = _CONFIG.request_body_timeout
    request_header_timeout: float | None = _CONFIG.request_header_timeout
    response_write_timeout: float | None = _CONFIG.response_write_timeout
    root_path: str = _CONFIG.root_path
    server_names: list[str] = field(default_factory=lambda: list(_CONFIG.server_names))
    websocket_compression: bool = _CONFIG.websocket_compression
    websocket_max_message_size: int = _CONFIG.websocket_max_message_size
    websocket_ping_interval: float | None = _CONFIG.websocket_ping_interval
    websocket_pong_timeout: float | None = _CONFIG.websocket_pong_timeout


class Harness:
    """A server connection and its peer, with a clock that only moves when told."""

    def __init__(self, settings: Settings | None = None, now: float = 1_000_000.0) -> None:
        self.now = now
        self.settings = settings or Settings()
        self.conn = ServerConnection(
            self.settings,
            client=("127.0.0.1", 5000),
            server=("127.0.0.1", 8000),
            scheme="http",
            now=now,
            state={"shared": 1},
        )
        self.client = h11.Connection(h11.CLIENT)
        self.events: list[events.Event] = []
        self.wire = b""

    def feed(self, data: bytes) -> list[events.Event]:
        self.conn.receive_data(data, self.now)
        return self.drain()

    def send_request(self, *parts: h11.Event) -> list[events.Event]:
        data = b"".join(self.client.send(part) or b"" for part in parts)
        return self.feed(data)

    def drain(self) -> list[events.Event]:
        new: list[events.Event] = []
        while (event := self.conn.next_event()) is not None:
            new.append(event)
        self.events.extend(new)
        self.wire += self.conn.data_to_send()
        return new

    def app_send(self, stream_id: int, message: Message) -> list[events.Event]:
        self.conn.app_send(stream_id, message, self.now)
        return self.drain()

    def respond(self, stream_id: int, status: int = 200, body: bytes = b"hi", **extra: Any) -> None:
        self.app_send(stream_id, {"type": "http.response.start", "status": status, **extra})
        self.app_send(stream_id, {"type": "http.response.body", "body": body})

    def client_events(self) -> list[h11.Event]:
        """Everything the server wrote, parsed by the h11 client."""
        self.client.receive_data(self.wire)
        self.wire = b""
        out: list[h11.Event] = []
        while True:
            event = self.client.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return out
            out.append(event)  # type: ignore[arg-type]
            if isinstance(event, h11.ConnectionClosed):
                return out


def get(target: str = "/", **headers: str) -> h11.Request:
    pairs = [("host", "example.com")] + [(k.replace("_", "-"), v) for k, v in headers.items()]
    return h11.Request(method="GET", target=target, headers=pairs)
