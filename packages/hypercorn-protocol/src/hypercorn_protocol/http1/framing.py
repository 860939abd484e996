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

_CLOSE_FIELD = (b"connection", b"close")
_STATUS_LINES: dict[tuple[int, bytes], bytes] = {}
# What an app's header fields say about framing, by the fields (see _fields); bounded,
# since apps put changing values (lengths, cookies) in their headers.
_Fields = tuple[bytes, int, bytes, int, bool, bool]
_FIELDS: dict[tuple[tuple[bytes, bytes], ...], _Fields] = {}
_FIELDS_LIMIT = 1024


def _status_line(status: int, reason: bytes) -> bytes:
    try:
        return _STATUS_LINES[status, reason]
    except KeyError:
        line = b"HTTP/1.1 %d %s\r\n" % (status, reason)
        if len(_STATUS_LINES) < 256:
            _STATUS_LINES[status, reason] = line
        return line


def _fields(headers: Headers) -> _Fields:
    """The app's fields rendered (without transfer-encoding, which framing re-adds), the
    number of content-length fields and the last one's value, the number of
    transfer-encoding fields and whether all say exactly ``chunked``, and whether a
    ``connection`` field asks for close."""
    key = tuple(headers)
    known = _FIELDS.get(key)
    if known is not None:
        return known
    lines = []
    lengths = 0
    length_value = b""
    codings = 0
    chunked = True
    close_asked = False
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-length":
            lengths += 1
            length_value = value
        elif lower == b"transfer-encoding":
            codings += 1
            chunked = chunked and value.lower() == b"chunked"
            continue  # re-added when the response is really chunked
        elif lower == b"connection" and b"close" in value.lower():
            close_asked = True
        lines.append(b"%s: %s\r\n" % (name, value))
    known = (b"".join(lines), lengths, length_value, codings, chunked, close_asked)
    if len(_FIELDS) >= _FIELDS_LIMIT:
        _FIELDS.clear()
    _FIELDS[key] = known
    return known


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

    def response_head(
        self,
        status: int,
        headers: Headers,
        reason: bytes,
        body_length: int,
        close: bool,
        defaults: Headers,
        default_lines: bytes,
    ) -> tuple[bytes, Headers]:
        """Serialize a final response head; ``headers`` (the app's) are already validated.

        ``body_length`` is the size of the whole body when it comes in one message
        (else -1): it becomes a ``content-length`` unless the app framed the response
        itself. ``close`` adds ``connection: close``; ``defaults`` (Date, Server, ...),
        already rendered as ``default_lines``, follow. Returns the head and the header
        fields as sent (the app's and the added ones: the access log's).
        """
        fields = _fields(headers)
        lines, lengths, length_value, codings, chunked, close_asked = fields
        if codings and not chunked:
            raise LocalProtocolError("only chunked transfer-encoding is supported")
        added: Headers | None = None
        parts = [_status_line(status, reason), lines]
        if self._head_only or status == 204 or status == 304:
            framing = _Framing.NONE
        elif lengths:
            if lengths > 1:
                raise LocalProtocolError("duplicate content-length in the response")
            try:
                remaining = int(length_value)
            except ValueError:
                raise LocalProtocolError(f"invalid content-length {length_value!r}") from None
            if remaining < 0:
                raise LocalProtocolError(f"invalid content-length {length_value!r}")
            self._remaining = remaining
            framing = _Framing.LENGTH
        elif body_length >= 0 and not codings:
            self._remaining = body_length
            framing = _Framing.LENGTH
            length_field = b"%d" % body_length
            added = [(b"content-length", length_field)]
            parts.append(b"content-length: %s\r\n" % length_field)
        elif self._http10:
            framing = _Framing.CLOSE
            self._keep_alive = False
        else:
            framing = _Framing.CHUNKED
        if close:
            if added is None:
                added = [_CLOSE_FIELD]
            else:
                added.append(_CLOSE_FIELD)
            parts.append(b"connection: close\r\n")
            close_asked = True
        if close_asked:
            self._keep_alive = False
        parts.append(default_lines)
        if framing == _Framing.CHUNKED:
            parts.append(b"transfer-encoding: chunked\r\n")
        if not self._keep_alive and not close_asked:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        self._framing = framing
        sent = headers + added + defaults if added is not None else headers + defaults
        return b"".join(parts), sent

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
