"""The HTTP/1.1 wire on h11: h11 parses requests, this module frames responses.

The implementation of :class:`~hypercorn_protocol.http1.wire.HTTP1Wire` the connection
uses unless it is given another.

Requests are parsed by h11 (strict RFC 9112, bounded heads). Responses are written
here: h11's serializer validates and re-walks every header and state on each
event, which cost more than the rest of a request put together. Framing rules
(RFC 9112 section 6): a declared ``content-length`` is enforced both ways (a short
body leaves the connection unusable, an over-long one is refused); otherwise
HTTP/1.1 responses are chunked and HTTP/1.0 ones are delimited by closing; HEAD,
1xx, 204 and 304 responses carry no body. Since h11 never sees the responses, each
keep-alive cycle gets a fresh h11 connection seeded with the bytes left over.
"""

from __future__ import annotations

import h11

from hypercorn_protocol.errors import LocalProtocolError, RemoteProtocolError
from hypercorn_protocol.http1.wire import (
    END_OF_BODY,
    NEED_DATA,
    PAUSED,
    PEER_CLOSED,
    Body,
    RequestHead,
    WireEvent,
)
from hypercorn_protocol.typing import Headers


class _Framing:
    LENGTH = 0
    CHUNKED = 1
    CLOSE = 2
    NONE = 3


class H11Wire:
    """:class:`HTTP1Wire` with h11 parsing requests and its own response framing."""

    __slots__ = (
        "_conn",
        "_framing",
        "_head_only",
        "_http10",
        "_keep_alive",
        "_max_head",
        "_remaining",
        "_response_done",
    )

    def __init__(self, max_incomplete_size: int) -> None:
        self._max_head = max_incomplete_size
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_incomplete_size)
        self._reset()

    def _reset(self) -> None:
        self._keep_alive = True
        self._http10 = False
        self._head_only = False
        self._framing = _Framing.NONE
        self._remaining = 0
        self._response_done = False

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
            self._http10 = request.http_version == b"1.0"
            self._head_only = request.method == b"HEAD"
            self._keep_alive = not self._http10 and not any(
                name == b"connection" and b"close" in value.lower() for name, value in headers
            )
            return RequestHead(
                method=request.method,
                target=request.target,
                http_version=request.http_version,
                headers=headers,
                raw_headers=request.headers.raw_items(),
                expects_continue=conn.they_are_waiting_for_100_continue,
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

    # --------------------------------------------------------------- responses
    def response_head(self, status: int, headers: Headers, reason: bytes) -> bytes:
        """Serialize a final response head; ``headers`` are already validated."""
        framing = _Framing.NONE if self._head_only or status in (204, 304) else -1
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        has_connection_close = False
        for name, value in headers:
            lower = name.lower()
            if lower == b"content-length" and framing != _Framing.NONE:
                if framing == _Framing.LENGTH:
                    raise LocalProtocolError("duplicate content-length in the response")
                try:
                    self._remaining = int(value)
                except ValueError:
                    raise LocalProtocolError(f"invalid content-length {value!r}") from None
                if self._remaining < 0:
                    raise LocalProtocolError(f"invalid content-length {value!r}")
                framing = _Framing.LENGTH
            elif lower == b"transfer-encoding":
                if value.lower() != b"chunked":
                    raise LocalProtocolError("only chunked transfer-encoding is supported")
                continue  # re-added below when the response is really chunked
            elif lower == b"connection" and b"close" in value.lower():
                has_connection_close = True
                self._keep_alive = False
            lines.append(b"%s: %s\r\n" % (name, value))
        if framing == -1:
            if self._http10:
                framing = _Framing.CLOSE
                self._keep_alive = False
            else:
                framing = _Framing.CHUNKED
                lines.append(b"transfer-encoding: chunked\r\n")
        if not self._keep_alive and not has_connection_close:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        self._framing = framing
        return b"".join(lines)

    def informational(self, status: int, headers: Headers) -> bytes:
        lines = [b"HTTP/1.1 %d \r\n" % status]
        lines.extend(b"%s: %s\r\n" % pair for pair in headers)
        lines.append(b"\r\n")
        return b"".join(lines)

    def body(self, data: bytes) -> bytes:
        framing = self._framing
        if framing == _Framing.CHUNKED:
            return b"%x\r\n%s\r\n" % (len(data), data)
        if framing == _Framing.LENGTH:
            if len(data) > self._remaining:
                raise LocalProtocolError("response body longer than its content-length")
            self._remaining -= len(data)
            return data
        if framing == _Framing.CLOSE:
            return data
        return b""

    @property
    def raw_body_ok(self) -> bool:
        return self._framing == _Framing.LENGTH or self._framing == _Framing.CLOSE

    def raw_body_sent(self, count: int) -> None:
        if self._framing == _Framing.LENGTH:
            if count > self._remaining:
                raise LocalProtocolError("response body longer than its content-length")
            self._remaining -= count

    def end(self) -> bytes:
        self._response_done = True
        if self._framing == _Framing.CHUNKED:
            return b"0\r\n\r\n"
        if self._framing == _Framing.LENGTH and self._remaining:
            self._keep_alive = False  # short body: the client cannot find the next response
        return b""

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
