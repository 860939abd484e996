"""The request of a WebSocket over HTTP/2 or HTTP/3: an extended CONNECT (RFC 8441, 9220)."""

from __future__ import annotations

from collections.abc import Iterable


def extended_connect(
    authority: bytes,
    path: bytes,
    *,
    scheme: bytes = b"https",
    version: bytes = b"13",
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> list[tuple[bytes, bytes]]:
    """The header list that opens a WebSocket on a new stream; ``extra`` follows it."""
    return [
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", scheme),
        (b":authority", authority),
        (b":path", path),
        (b"sec-websocket-version", version),
        *extra,
    ]
