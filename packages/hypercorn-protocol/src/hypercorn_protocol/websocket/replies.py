"""What a WebSocket's owner (the HTTP/1.1, HTTP/2 or HTTP/3 connection) deals in: the
options a WebSocket runs with, its states, and the *replies* it asks its owner to put on
the wire during the handshake (see :mod:`hypercorn_protocol.websocket.stream`).

Kept apart from the stream, and free of wsproto, so that the ASGI stream model and the
connections can name them without loading wsproto (and h11, which wsproto imports)
before the first WebSocket upgrade: a worker serving only HTTP never needs either.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from hypercorn_protocol.settings import WebSocketSettings
from hypercorn_protocol.typing import Headers

#: How long the server waits for the peer's close frame after sending its own.
CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class WebSocketOptions:
    """The settings one WebSocket runs with (see :meth:`from_settings`)."""

    max_message_size: int
    ping_interval: float | None
    pong_timeout: float | None
    compression: bool
    max_queue: int
    close_timeout: float = CLOSE_TIMEOUT

    @classmethod
    def from_settings(cls, settings: WebSocketSettings) -> WebSocketOptions:
        """Read the ``websocket_*`` settings (and ``max_app_queue_size``)."""
        return cls(
            max_message_size=settings.websocket_max_message_size,
            ping_interval=settings.websocket_ping_interval,
            pong_timeout=settings.websocket_pong_timeout,
            compression=settings.websocket_compression,
            max_queue=max(settings.max_app_queue_size, 1),
        )


# Replies: what the owner must put on the wire for a handshake-phase app message.
@dataclass(frozen=True, slots=True)
class AcceptReply:
    """Complete the handshake (101 on HTTP/1.1, 200 on HTTP/2) adding ``headers``."""

    headers: Headers


@dataclass(frozen=True, slots=True)
class ResponseStart:
    """Refuse the handshake with an HTTP response: its status and validated headers."""

    status: int
    headers: Headers


@dataclass(frozen=True, slots=True)
class ResponseBody:
    """A piece of the refusal response's body."""

    body: bytes
    more_body: bool


@dataclass(frozen=True, slots=True)
class AbortReply:
    """The refusal response cannot be completed: cut the connection or reset the stream."""


Reply = AcceptReply | ResponseStart | ResponseBody | AbortReply


class WebSocketState(Enum):
    HANDSHAKE = "handshake"
    RESPONDING = "sending a refusal response"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


__all__ = [
    "CLOSE_TIMEOUT",
    "AbortReply",
    "AcceptReply",
    "Reply",
    "ResponseBody",
    "ResponseStart",
    "WebSocketOptions",
    "WebSocketState",
]
