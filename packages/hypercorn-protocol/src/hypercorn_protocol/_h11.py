"""The HTTP/1.1 wire seam, implemented on h11.

:class:`~hypercorn_protocol._http11.HTTP11Connection` speaks to the wire only through
the small :class:`HTTP1Wire` protocol below, so a faster parser can replace h11
without touching the connection logic (and must pass the same tests). h11 is the
reference: strict RFC 9112 parsing, framing decided for us, keep-alive rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import h11

from hypercorn_protocol.errors import RemoteProtocolError
from hypercorn_protocol.typing import Headers


@dataclass(slots=True)
class RequestHead:
    method: bytes
    target: bytes
    http_version: bytes
    headers: Headers  # lower-cased names, as ASGI wants
    raw_headers: Headers  # names as the client spelled them
    expects_continue: bool


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


END_OF_BODY = EndOfBody()
PEER_CLOSED = PeerClosed()
NEED_DATA = NeedData()
PAUSED = Paused()

WireEvent = RequestHead | Body | EndOfBody | PeerClosed | NeedData | Paused


class HTTP1Wire(Protocol):
    """What the connection needs from an HTTP/1.1 parser and serializer."""

    def receive(self, data: bytes) -> None: ...
    def next_event(self) -> WireEvent: ...
    def response_head(self, status: int, headers: Headers, reason: bytes) -> bytes: ...
    def informational(self, status: int, headers: Headers) -> bytes: ...
    def body(self, data: bytes) -> bytes: ...
    def end(self) -> bytes: ...
    @property
    def request_complete(self) -> bool: ...
    @property
    def can_reuse(self) -> bool: ...
    def start_next_cycle(self) -> None: ...


class H11Wire:
    """:class:`HTTP1Wire` on an ``h11.Connection``."""

    __slots__ = ("_conn", "_max_head")

    def __init__(self, max_incomplete_size: int) -> None:
        self._max_head = max_incomplete_size
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_incomplete_size)

    def receive(self, data: bytes) -> None:
        self._conn.receive_data(data)

    def next_event(self) -> WireEvent:
        conn = self._conn
        head = conn.trailing_data[0] if conn.their_state is h11.IDLE else None
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise RemoteProtocolError(str(exc), status_hint=exc.error_status_hint) from exc
        kind = type(event)
        if head is not None and kind is h11.Request:
            self._check_head(head)
        if kind is h11.Data:
            return Body(bytes(event.data))  # type: ignore[union-attr]
        if kind is h11.Request:
            request: h11.Request = event  # type: ignore[assignment]
            raw = request.headers.raw_items()
            return RequestHead(
                method=request.method,
                target=request.target,
                http_version=request.http_version,
                headers=list(request.headers),
                raw_headers=raw,
                expects_continue=self._conn.they_are_waiting_for_100_continue,
            )
        if kind is h11.EndOfMessage:
            return END_OF_BODY
        if event is h11.NEED_DATA:
            return NEED_DATA
        if event is h11.PAUSED:
            return PAUSED
        return PEER_CLOSED  # h11.ConnectionClosed

    def _check_head(self, buffer: bytes) -> None:
        end = buffer.find(b"\r\n\r\n")
        if end == -1:
            end = len(buffer)
        # h11 bounds only heads that arrive in pieces; one that arrives whole in a
        # single read must obey the same limit.
        if end > self._max_head:
            raise RemoteProtocolError("request head too large", status_hint=431)
        # h11 folds identical repeated Content-Length headers into one; RFC 9112
        # allows that, but a proxy in front may have framed the message differently,
        # so a repeat is refused (request smuggling feeds on such disagreements).
        if (
            buffer.count(b"ontent-", 0, end) > 1
            and buffer[:end].lower().count(b"\ncontent-length") > 1
        ):
            raise RemoteProtocolError("duplicate Content-Length", status_hint=400)

    def response_head(self, status: int, headers: Headers, reason: bytes) -> bytes:
        return self._send(h11.Response(status_code=status, headers=headers, reason=reason))

    def informational(self, status: int, headers: Headers) -> bytes:
        return self._send(h11.InformationalResponse(status_code=status, headers=headers))

    def body(self, data: bytes) -> bytes:
        return self._send(h11.Data(data=data))

    def end(self) -> bytes:
        return self._send(h11.EndOfMessage())

    def _send(self, event: h11.Event) -> bytes:
        data = self._conn.send(event)
        assert data is not None  # only ConnectionClosed returns None
        return data

    @property
    def request_complete(self) -> bool:
        return self._conn.their_state is h11.DONE

    @property
    def can_reuse(self) -> bool:
        return self._conn.our_state is h11.DONE and self._conn.their_state is h11.DONE

    def start_next_cycle(self) -> None:
        self._conn.start_next_cycle()
