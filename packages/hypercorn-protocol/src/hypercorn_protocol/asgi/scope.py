"""Building ASGI scopes (``http`` and ``websocket``) from a parsed request head."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from hypercorn_protocol.typing import ASGIScope, Headers

HTTP_ASGI = {"version": "3.0", "spec_version": "2.3"}
WEBSOCKET_ASGI = {"version": "3.0", "spec_version": "2.4"}
Address = tuple[str, int] | None


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """Split a request target into (raw_path, query_string).

    Absolute-form targets (``http://host/path``) are reduced to their path.
    """
    if target[:1] != b"/" and target != b"*":
        scheme_end = target.find(b"://")
        if scheme_end != -1:
            path_start = target.find(b"/", scheme_end + 3)
            target = b"/" if path_start == -1 else target[path_start:]
    raw_path, _, query = target.partition(b"?")
    return raw_path, query


def decode_path(raw_path: bytes) -> str:
    # The bytes are ASCII on the wire (h11 and h2 enforce it); percent-escapes may
    # hold UTF-8, and invalid sequences are replaced rather than failing the request.
    text = raw_path.decode("latin-1")
    return unquote(text) if b"%" in raw_path else text


class ScopeBuilder:
    """The scopes of one connection: what is the same for all its requests is kept here."""

    __slots__ = ("client", "root_path", "scheme", "server", "state", "tls")

    def __init__(
        self,
        *,
        client: Address,
        server: Address,
        scheme: str,
        root_path: str,
        state: dict[str, Any] | None,
        tls: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.server = server
        self.scheme = scheme
        self.root_path = root_path
        self.state = state  # the lifespan state: each scope gets a shallow copy
        self.tls = tls  # the ``tls`` extension (TLS connections only): each scope gets a copy

    def http(
        self,
        http_version: str,
        method: str,
        raw_path: bytes,
        query_string: bytes,
        headers: Headers,
        extensions: dict[str, Any],
    ) -> ASGIScope:
        """The ASGI ``http`` scope of one request (built in one literal: it is per request)."""
        if self.tls is not None:
            extensions["tls"] = dict(self.tls)
        text = raw_path.decode("latin-1")
        state = self.state
        scope: ASGIScope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},  # HTTP_ASGI
            "http_version": http_version,
            "method": method,
            "scheme": self.scheme,
            "path": unquote(text) if b"%" in raw_path else text,  # decode_path, inline
            "raw_path": raw_path,
            "query_string": query_string,
            "root_path": self.root_path,
            "headers": headers,
            "client": self.client,
            "server": self.server,
            "extensions": extensions,
        }
        if state is not None:
            scope["state"] = state.copy()
        return scope

    def websocket(
        self,
        http_version: str,
        raw_path: bytes,
        query_string: bytes,
        headers: Headers,
        subprotocols: list[str],
    ) -> ASGIScope:
        """The ASGI ``websocket`` scope: the ``http`` one with ``ws``/``wss`` and subprotocols."""
        extensions: dict[str, Any] = {"websocket.http.response": {}}
        scope = self.http(http_version, "GET", raw_path, query_string, headers, extensions)
        del scope["method"]
        scope["type"] = "websocket"
        scope["asgi"] = dict(WEBSOCKET_ASGI)
        scope["scheme"] = "wss" if self.scheme == "https" else "ws"
        scope["subprotocols"] = subprotocols
        return scope
