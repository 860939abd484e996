"""Take the client address, scheme and host from a trusted reverse proxy's headers."""

from __future__ import annotations

from typing import Literal

from hypercorn_protocol.middleware._forwarded import (
    Node,
    parse_forwarded,
    parse_node,
    split_host,
    split_list,
)
from hypercorn_protocol.typing import ASGIApp, ASGIReceive, ASGIScope, ASGISend

_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ProxyFixMiddleware:
    """Rewrite ``client``, ``scheme``, the ``host`` header and ``server`` from proxy headers.

    Only the entry added by the ``trusted_hops``-th proxy from the server's side is
    believed, as earlier ones can be forged by the client. HTTP and WebSocket scopes are
    copied (shallowly) before the change; lifespan passes through.

    Args:
        app: The ASGI app behind the proxies.
        mode: ``"legacy"`` reads ``X-Forwarded-For``, ``-Proto``, ``-Host`` and ``-Port``
            (comma lists, repeated headers joined). ``"modern"`` reads RFC 7239
            ``Forwarded`` (``for``, ``proto``, ``host``): quoted values, ports, bracketed
            IPv6 and obfuscated identifiers; a malformed header is ignored entirely.
        trusted_hops: How many proxies stand in front of the server; 0 trusts none.

    ``client`` becomes ``(host, port)`` with port 0 when the proxy gave none (or an
    obfuscated one). A WebSocket's scheme becomes ``ws``/``wss``. When a host or port is
    forwarded, ``server`` becomes ``(host, port)``, the port defaulting to the scheme's.
    """

    def __init__(
        self,
        app: ASGIApp,
        mode: Literal["legacy", "modern"] = "legacy",
        trusted_hops: int = 1,
    ) -> None:
        if mode not in ("legacy", "modern"):
            raise ValueError(f"mode must be 'legacy' or 'modern', not {mode!r}")
        if trusted_hops < 0:
            raise ValueError("trusted_hops must be 0 or more")
        self.app = app
        self.mode = mode
        self.trusted_hops = trusted_hops

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted_hops > 0:
            scope = self._fixed(scope)
        await self.app(scope, receive, send)

    def _fixed(self, scope: ASGIScope) -> ASGIScope:
        headers: dict[bytes, list[str]] = {}
        for name, value in scope.get("headers", ()):
            headers.setdefault(bytes(name).lower(), []).append(bytes(value).decode("latin-1"))
        if self.mode == "modern":
            forwarded = self._trusted_forwarded(headers.get(b"forwarded", []))
            client, proto, host = (
                forwarded.get("for"),
                forwarded.get("proto"),
                forwarded.get("host"),
            )
            port = None
        else:
            client = self._trusted(headers.get(b"x-forwarded-for", []))
            proto = self._trusted(headers.get(b"x-forwarded-proto", []))
            host = self._trusted(headers.get(b"x-forwarded-host", []))
            port = self._trusted(headers.get(b"x-forwarded-port", []))

        scope = dict(scope)
        if client is not None:
            node = _node(client)
            if node is not None:
                scope["client"] = node
        if proto is not None and proto.lower() in _SCHEMES:
            scheme = _SCHEMES[proto.lower()]
            if scope["type"] == "websocket":
                scheme = _WEBSOCKET_SCHEMES[scheme]
            scope["scheme"] = scheme
        server_port = int(port) if port is not None and port.isdigit() else None
        if host:
            scope["headers"] = [
                (name, value) for name, value in scope.get("headers", ()) if name.lower() != b"host"
            ]
            scope["headers"].append((b"host", host.encode("latin-1")))
            name, host_port = split_host(host)
            if host_port is not None:
                server_port = host_port
            if server_port is None:
                plain = _SCHEMES.get(scope.get("scheme", "http"), "http")
                server_port = _DEFAULT_PORTS[plain]
            scope["server"] = (name, server_port)
        elif server_port is not None and scope.get("server") is not None:
            scope["server"] = (scope["server"][0], server_port)
        return scope

    def _trusted(self, values: list[str]) -> str | None:
        items = split_list(values)
        return items[-self.trusted_hops] if len(items) >= self.trusted_hops else None

    def _trusted_forwarded(self, values: list[str]) -> dict[str, str]:
        try:
            elements = parse_forwarded(values)
        except ValueError:
            return {}
        return elements[-self.trusted_hops] if len(elements) >= self.trusted_hops else {}


def _node(text: str) -> Node | None:
    try:
        return parse_node(text)
    except ValueError:
        return None


__all__ = ["ProxyFixMiddleware"]
