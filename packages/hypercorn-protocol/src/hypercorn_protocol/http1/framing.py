"""HTTP/1.1 response framing, shared by every wire: heads, bodies and their end.

Framing rules (RFC 9112 section 6): a declared ``content-length`` is enforced both ways
(a short body leaves the connection unusable, an over-long one is refused); otherwise
HTTP/1.1 responses are chunked and HTTP/1.0 ones are delimited by closing; HEAD, 1xx,
204 and 304 responses carry no body. The parser side sets ``_keep_alive``, ``_http10``
and ``_head_only`` from each request head.
"""

from __future__ import annotations

from hypercorn_protocol.errors import LocalProtocolError
from hypercorn_protocol.typing import Headers


class _Framing:
    LENGTH = 0
    CHUNKED = 1
    CLOSE = 2
    NONE = 3


class ResponseFramer:
    """The response half of :class:`~hypercorn_protocol.http1.wire.HTTP1Wire`."""

    __slots__ = (
        "_framing",
        "_head_only",
        "_http10",
        "_keep_alive",
        "_remaining",
        "_response_done",
    )

    def _reset(self) -> None:
        self._keep_alive = True
        self._http10 = False
        self._head_only = False
        self._framing = _Framing.NONE
        self._remaining = 0
        self._response_done = False

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
        """True when body bytes go out unframed (a length or close-delimited body): sendfile."""
        return self._framing == _Framing.LENGTH or self._framing == _Framing.CLOSE

    def raw_body_sent(self, count: int) -> None:
        """``count`` body bytes went out without :meth:`body` (sendfile): count them."""
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
