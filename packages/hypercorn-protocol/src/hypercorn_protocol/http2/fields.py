"""Validation of an HTTP/2 request's header block (RFC 9113 section 8).

h2's own inbound validation runs seven chained generators per header block and
answers a malformed request by closing the whole connection. This single pass
checks the same rules, plus the token and field-value grammar of RFC 9110 that
RFC 9113 section 8.2.1 recommends, and lets the caller reset only the offending
stream, as section 8.1.1 asks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hypercorn_protocol.typing import Headers

# RFC 9110 token, lower case only (RFC 9113 section 8.2.1: upper case is malformed).
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+").fullmatch
# RFC 9110 field-value: visible characters and obs-text, inner spaces and tabs only.
_FIELD_VALUE = re.compile(
    rb"(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?"
).fullmatch
_METHOD = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
# origin-form (RFC 9112 section 3.2.1) or the asterisk of OPTIONS *
_PATH = re.compile(rb"/[\x21-\x7e]*|\*").fullmatch
_REQUEST_PSEUDO = frozenset({b":method", b":scheme", b":authority", b":path", b":protocol"})
# RFC 9113 section 8.2.2: meaningful only hop by hop, so malformed in HTTP/2.
CONNECTION_SPECIFIC = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)


class MalformedRequest(Exception):
    """The header block breaks RFC 9113; the stream gets RST_STREAM PROTOCOL_ERROR."""


class RequestHead:
    """A request's pseudo-header fields and its regular header fields, validated."""

    __slots__ = ("authority", "headers", "host", "method", "path", "protocol")

    def __init__(
        self,
        method: bytes,
        path: bytes | None,
        authority: bytes | None,
        protocol: bytes | None,
        headers: Headers,
        host: bytes | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.authority = authority
        self.protocol = protocol
        self.headers = headers
        self.host = host  # the value of the host field among ``headers``, if any

    def scope_headers(self) -> Headers:
        """``headers`` for the ASGI scope: with ``host`` taken from ``:authority`` if absent."""
        if self.authority is not None and self.host is None:
            self.headers.insert(0, (b"host", self.authority))
            self.host = self.authority
        return self.headers


class FieldCache:
    """Fields already found valid on this connection.

    A client repeats the same fields request after request (HPACK even hands back
    the same objects), so each distinct field is checked once. Bounded: when full,
    new fields are still checked, just not remembered.
    """

    __slots__ = ("fields",)
    LIMIT = 512

    def __init__(self) -> None:
        self.fields: set[tuple[bytes, bytes]] = set()

    def remember(self, field: tuple[bytes, bytes]) -> None:
        if len(self.fields) < self.LIMIT:
            self.fields.add(field)


def request_head(
    fields: Iterable[tuple[bytes, bytes]], known: FieldCache | None = None
) -> RequestHead:
    """Validate a request header block as HPACK decoded it.

    Cookie fields are joined into one (RFC 9113 section 8.2.3), placed last.

    Raises:
        MalformedRequest: naming the first rule the block breaks.
    """
    pseudo: dict[bytes, bytes] = {}
    headers: Headers = []
    cookies: list[bytes] | None = None
    host: bytes | None = None
    seen = known.fields if known is not None else ()
    for field in fields:
        if field in seen:  # a regular field (not host, te or cookie) checked before
            headers.append(field)
            continue
        name, value = field
        if not _FIELD_VALUE(value):
            raise MalformedRequest(f"invalid value for field {name!r}")
        if name[:1] == b":":
            if headers or cookies is not None:
                raise MalformedRequest(f"pseudo-header {name!r} after a regular field")
            if name in pseudo or name not in _REQUEST_PSEUDO:
                raise MalformedRequest(f"duplicate or unknown pseudo-header {name!r}")
            pseudo[name] = value
            continue
        if not _FIELD_NAME(name):
            raise MalformedRequest(f"invalid field name {name!r}")
        if name in CONNECTION_SPECIFIC:
            raise MalformedRequest(f"connection-specific field {name!r}")
        if name == b"cookie":
            if cookies is None:
                cookies = []
            cookies.append(value)
            continue
        if name == b"host":
            if host is not None:
                raise MalformedRequest("more than one host field")
            host = value
        elif name == b"te":
            if value.lower() != b"trailers":
                raise MalformedRequest("te other than trailers")
        elif known is not None:
            known.remember(field)
        headers.append(field)
    if cookies is not None:
        headers.append((b"cookie", b"; ".join(cookies)))

    method = pseudo.get(b":method")
    if method is None or not _METHOD(method):
        raise MalformedRequest("missing or invalid :method")
    path = pseudo.get(b":path")
    protocol = pseudo.get(b":protocol")
    if method == b"CONNECT" and protocol is None:
        # RFC 9113 section 8.5: plain CONNECT names only an authority.
        if path is not None or b":scheme" in pseudo:
            raise MalformedRequest("CONNECT with :scheme or :path")
    else:
        if protocol is not None and method != b"CONNECT":
            raise MalformedRequest(":protocol outside CONNECT")
        if b":scheme" not in pseudo or path is None or not _PATH(path):
            raise MalformedRequest("missing :scheme, or missing or invalid :path")
    authority = pseudo.get(b":authority")
    if authority is None and host is None:
        raise MalformedRequest("neither :authority nor host")
    if authority is not None and host is not None and authority != host:
        raise MalformedRequest(":authority and host differ")
    return RequestHead(method, path, authority, protocol, headers, host)


def has_pseudo_field(fields: Iterable[tuple[bytes, bytes]]) -> bool:
    """True when a trailer block carries a pseudo-header (malformed, section 8.1)."""
    return any(name[:1] == b":" for name, _ in fields)
