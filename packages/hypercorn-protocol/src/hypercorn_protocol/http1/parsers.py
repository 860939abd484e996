"""Which HTTP/1.1 wire a connection gets, from the ``http_parser`` setting.

``"h11"`` is the reference parser (always installed); ``"httptools"`` is llhttp in C
(``hypercorn-protocol[fast]``); ``"auto"`` takes httptools when it can be imported.
Each wire is imported once, on first use, not by importing this module: a server on
httptools never loads h11 (unless a WebSocket brings it, with wsproto).
"""

from __future__ import annotations

from collections.abc import Callable

from hypercorn_protocol.errors import LocalProtocolError
from hypercorn_protocol.http1.wire import HTTP1Wire

WireFactory = Callable[[int], HTTP1Wire]
_fast: list[WireFactory | None] = []  # [] until looked up, then [class or None]
_h11: list[WireFactory] = []  # [] until first used


def httptools_wire() -> WireFactory | None:
    """The httptools wire class, or None when httptools is not installed."""
    if not _fast:
        try:
            from hypercorn_protocol.http1.httptools_wire import HttptoolsWire
        except ImportError:
            _fast.append(None)
        else:
            _fast.append(HttptoolsWire)
    return _fast[0]


def h11_wire() -> WireFactory:
    """The h11 wire class (the reference; h11 is always installed)."""
    if not _h11:
        from hypercorn_protocol.http1.h11_wire import H11Wire

        _h11.append(H11Wire)
    return _h11[0]


def wire_factory(http_parser: str) -> WireFactory:
    """The wire for ``http_parser`` ("auto", "h11" or "httptools")."""
    if http_parser == "h11":
        return h11_wire()
    fast = httptools_wire()
    if fast is not None:
        return fast
    if http_parser == "auto":
        return h11_wire()
    if http_parser == "httptools":
        raise LocalProtocolError("http_parser 'httptools' needs: pip install 'hypercorn[fast]'")
    raise LocalProtocolError(f"unknown http_parser {http_parser!r}")
