"""A deterministic harness for the sans-IO core: fake clock, h11 client, no loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import h11

from hypercorn_protocol import ServerConnection, events
from hypercorn_protocol.typing import Message


@dataclass
class Settings:
    """A minimal ProtocolSettings: the core must not need a full Config."""

    alt_svc_headers: list[str] = field(default_factory=list)
    h11_max_incomplete_size: int = 16 * 1024
    h11_pass_raw_headers: bool = False
    include_date_header: bool = True
    include_server_header: bool = True
    keep_alive_max_requests: int = 1000
    keep_alive_timeout: float = 5.0
    max_app_queue_size: int = 10
    read_timeout: float | None = None
    root_path: str = ""
    server_names: list[str] = field(default_factory=list)
    h2_stall_timeout: float | None = 60.0


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
