"""The HTTP/1.1 wire seam: what :class:`~hypercorn_protocol.http1.connection.HTTP11Connection`
needs from a parser and serializer, and the events it reads from one.

The connection speaks to the wire only through :class:`HTTP1Wire`, so another parser
can replace h11 (:class:`~hypercorn_protocol.http1.h11_wire.H11Wire`) without touching
the connection logic (and must pass the same tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hypercorn_protocol.typing import Headers


@dataclass(slots=True)
class RequestHead:
    method: bytes
    target: bytes
    http_version: bytes
    headers: Headers  # lower-cased names, as ASGI wants
    raw_headers: Headers  # names as the client spelled them
    expects_continue: bool
    # What the connection checks, noted by the wire while it walked the fields:
    content_lengths: int  # how many content-length fields
    content_length: bytes | None  # the last one's value
    transfer_encoding: bool  # any transfer-encoding field
    upgrade: bool  # any upgrade field


@dataclass(slots=True)
class Body:
    data: bytes


class EndOfBody:
    __slots__ = ()


class PeerClosed:
    __slots__ = ()


class NeedData:
    __slots__ = ()


class Paused:
    __slots__ = ()


@dataclass(slots=True)
class WireReplaced:
    """From now on ``wire`` parses this connection (it holds the bytes not parsed yet)."""

    wire: HTTP1Wire


END_OF_BODY = EndOfBody()
PEER_CLOSED = PeerClosed()
NEED_DATA = NeedData()
PAUSED = Paused()

WireEvent = RequestHead | Body | EndOfBody | PeerClosed | NeedData | Paused | WireReplaced


class HTTP1Wire(Protocol):
    """What the connection needs from an HTTP/1.1 parser and serializer."""

    def receive(self, data: bytes) -> None: ...
    def next_event(self) -> WireEvent: ...
    def response_head(
        self,
        status: int,
        headers: Headers,
        reason: bytes,
        body_length: int,
        close: bool,
        defaults: Headers,
        default_lines: bytes,
    ) -> tuple[bytes, Headers]: ...
    def informational(self, status: int, headers: Headers) -> bytes: ...
    def body(self, data: bytes) -> bytes: ...
    def end(self) -> bytes: ...
    @property
    def raw_body_ok(self) -> bool:
        """Whether body bytes go on the wire unchanged (so a driver may ``sendfile`` them)."""

    def raw_body_sent(self, count: int) -> None:
        """``count`` body bytes went out without :meth:`body` (``sendfile``)."""

    @property
    def request_complete(self) -> bool: ...
    @property
    def can_reuse(self) -> bool: ...
    def start_next_cycle(self) -> None: ...
    def leftover(self) -> tuple[bytes, bool]: ...
