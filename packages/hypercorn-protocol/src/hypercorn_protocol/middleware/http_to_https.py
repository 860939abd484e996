"""Redirect plain HTTP and WebSocket requests to their TLS URL."""

from __future__ import annotations

from urllib.parse import quote

from hypercorn_protocol.typing import ASGIApp, ASGIReceive, ASGIScope, ASGISend


class HTTPToHTTPSRedirectMiddleware:
    """Answer ``http`` requests with a 307 to ``https`` and ``ws`` ones with one to ``wss``.

    Secure requests and lifespan go to ``app`` unchanged. A WebSocket is redirected with
    a denial response (``https://`` over HTTP/2, where the handshake is a CONNECT) when
    the server offers the ``websocket.http.response`` extension, and closed otherwise.

    Args:
        app: The ASGI app serving the secure requests.
        host: Host (and port) to redirect to. None uses the request's ``host`` header.

    Raises:
        ValueError: At request time, when ``host`` is None and the request has no
            ``host`` header.
    """

    def __init__(self, app: ASGIApp, host: str | None) -> None:
        self.app = app
        self.host = host

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        kind, scheme = scope["type"], scope.get("scheme")
        if kind == "http" and scheme == "http":
            await send(
                {
                    "type": "http.response.start",
                    "status": 307,
                    "headers": [
                        (b"location", self._url(scope, "https").encode("ascii")),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
        elif kind == "websocket" and scheme == "ws":
            if "websocket.http.response" not in scope.get("extensions", {}):
                await send({"type": "websocket.close", "code": 1000})
                return
            # Over HTTP/2 the WebSocket handshake is an extended CONNECT on an https URL.
            target = "https" if scope.get("http_version") == "2" else "wss"
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 307,
                    "headers": [
                        (b"location", self._url(scope, target).encode("ascii")),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "websocket.http.response.body", "body": b""})
        else:
            await self.app(scope, receive, send)

    def _url(self, scope: ASGIScope, scheme: str) -> str:
        host = self.host
        if host is None:
            for name, value in scope.get("headers", ()):
                if name.lower() == b"host":
                    host = value.decode("latin-1")
                    break
            else:
                raise ValueError("HTTPToHTTPSRedirectMiddleware: no host given and no host header")
        raw_path = scope.get("raw_path")
        path = (
            raw_path.decode("latin-1")
            if raw_path
            else quote(scope.get("path", "/"), safe="/:@!$&'()*+,;=%~")
        )
        # The server's paths already hold root_path; a path that does not (an app behind
        # a prefix-stripping proxy) gets it prepended, so the URL is what the client saw.
        root_path = scope.get("root_path", "")
        if root_path and not (path == root_path or path.startswith(root_path + "/")):
            path = root_path + path
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


__all__ = ["HTTPToHTTPSRedirectMiddleware"]
