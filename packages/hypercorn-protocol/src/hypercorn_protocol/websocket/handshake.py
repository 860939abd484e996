"""The WebSocket opening handshake: what the client offered, and (HTTP/1.1) whether
the request is a valid opening handshake at all (RFC 6455 section 4)."""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from hypercorn_protocol.headers import header_value, tokens
from hypercorn_protocol.typing import Headers

__all__ = ["HandshakeOffer", "accept_token", "asks_for_websocket", "handshake_problem"]


def accept_token(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` value for the client's ``Sec-WebSocket-Key`` (wsproto's)."""
    # Imported here: wsproto (and h11 with it) loads with the first WebSocket, not before.
    from wsproto.utilities import generate_accept_token

    return generate_accept_token(key)


#: Sent with a 400 for an unsupported ``Sec-WebSocket-Version``.
VERSION_HEADERS: Headers = [(b"sec-websocket-version", b"13")]


@dataclass(frozen=True, slots=True)
class HandshakeOffer:
    """What the client asked for in its opening request."""

    subprotocols: list[str]
    extensions: list[str]  # one entry per offered extension, parameters included

    @classmethod
    def from_headers(cls, headers: Headers) -> HandshakeOffer:
        subprotocols: list[str] = []
        extensions: list[str] = []
        for name, value in headers:
            lower = name.lower()
            if lower == b"sec-websocket-protocol":
                subprotocols.extend(_split_comma(value))
            elif lower == b"sec-websocket-extensions":
                extensions.extend(_split_comma(value))
        return cls(subprotocols, extensions)


def _split_comma(value: bytes) -> list[str]:
    return [item for part in value.decode("latin-1").split(",") if (item := part.strip())]


def asks_for_websocket(headers: Headers) -> bool:
    """``Connection: upgrade`` together with ``Upgrade: websocket`` (RFC 6455 4.1)."""
    connection = websocket = False
    for name, value in headers:
        if name == b"connection":
            connection = connection or b"upgrade" in tokens(value)
        elif name == b"upgrade":
            websocket = websocket or b"websocket" in tokens(value)
    return connection and websocket


def handshake_problem(
    method: bytes, http_version: bytes, headers: Headers
) -> tuple[str, str] | None:
    """Why an HTTP/1.1 upgrade request is not a valid opening handshake, or None if it is.

    Returns:
        The reason and which part is wrong (``"version"`` wants :data:`VERSION_HEADERS`).
    """
    if method != b"GET":
        return "WebSocket handshake with a method other than GET", "method"
    if http_version != b"1.1":
        return "WebSocket handshake needs HTTP/1.1", "http_version"
    keys = [value for name, value in headers if name == b"sec-websocket-key"]
    if len(keys) != 1 or not _valid_key(keys[0]):
        return "missing or invalid Sec-WebSocket-Key", "key"
    if header_value(headers, b"sec-websocket-version") != b"13":
        return "unsupported Sec-WebSocket-Version", "version"
    for name, value in headers:
        if (name == b"content-length" and value.strip() != b"0") or name == b"transfer-encoding":
            return "WebSocket handshake with a body", "body"
    return None


def _valid_key(key: bytes) -> bool:
    # RFC 6455 4.1: a base64-encoded 16-byte nonce is exactly 24 characters.
    if len(key) != 24 or not key.endswith(b"=="):
        return False
    try:
        return len(binascii.a2b_base64(key)) == 16
    except binascii.Error:
        return False
