"""The HTTP/1.1 wire on h11: h11 parses requests, this module frames responses.

The implementation of :class:`~hypercorn_protocol.http1.wire.HTTP1Wire` the connection
uses unless it is given another.

Requests are parsed by h11 (strict RFC 9112, bounded heads). Responses are framed by
:class:`~hypercorn_protocol.http1.framing.ResponseFramer`: h11's serializer validates
and re-walks every header and state on each event, which cost more than the rest of
a request put together. Since h11 never sees the responses, each keep-alive cycle
gets a fresh h11 connection seeded with the bytes left over.
"""

from __future__ import annotations

import h11

from hypercorn_protocol.errors import RemoteProtocolError
from hypercorn_protocol.http1.framing import ResponseFramer
from hypercorn_protocol.http1.wire import (
    END_OF_BODY,
    NEED_DATA,
    PAUSED,
    PEER_CLOSED,
    Body,
    RequestHead,
    WireEvent,
)


class H11Wire(ResponseFramer):
    """:class:`HTTP1Wire` with h11 parsing requests and its own response framing."""

    __slots__ = ("_conn", "_max_head")

    def __init__(self, max_incomplete_size: int) -> None:
        self._max_head = max_incomplete_size
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_incomplete_size)
        self._reset()

    # ---------------------------------------------------------------- requests
    def receive(self, data: bytes) -> None:
        self._conn.receive_data(data)

    def next_event(self) -> WireEvent:
        conn = self._conn
        head = conn.trailing_data[0] if conn.their_state is h11.IDLE else None
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise RemoteProtocolError(str(exc), status_hint=exc.error_status_hint) from exc
        if type(event) is h11.Data:
            return Body(bytes(event.data))
        if type(event) is h11.Request:
            request = event
            if head is not None:
                self._check_head(head)
            headers = list(request.headers)
            close = upgrade = transfer_encoding = False
            lengths = 0
            length: bytes | None = None
            for name, value in headers:
                if name == b"content-length":
                    lengths += 1
                    length = value
                elif name == b"transfer-encoding":
                    transfer_encoding = True
                elif name == b"connection":
                    close = close or b"close" in value.lower()
                elif name == b"upgrade":
                    upgrade = True
            self._http10 = request.http_version == b"1.0"
            self._head_only = request.method == b"HEAD"
            self._keep_alive = not self._http10 and not close
            return RequestHead(
                request.method,
                request.target,
                request.http_version,
                headers,
                request.headers.raw_items(),
                conn.they_are_waiting_for_100_continue,
                lengths,
                length,
                transfer_encoding,
                upgrade,
            )
        if type(event) is h11.EndOfMessage:
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

    @property
    def request_complete(self) -> bool:
        return self._conn.their_state is h11.DONE

    @property
    def can_reuse(self) -> bool:
        return self._keep_alive and self._response_done and self._conn.their_state is h11.DONE

    def leftover(self) -> tuple[bytes, bool]:
        """Bytes buffered past what was parsed, and whether the peer closed (upgrades)."""
        data, closed = self._conn.trailing_data
        return bytes(data), bool(closed)

    def start_next_cycle(self) -> None:
        leftover, closed = self._conn.trailing_data
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._max_head)
        if leftover:
            conn.receive_data(leftover)
        if closed:
            conn.receive_data(b"")
        self._conn = conn
        self._reset()
