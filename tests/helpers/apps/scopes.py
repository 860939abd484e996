"""ASGI scopes for tests that drive apps directly."""

from __future__ import annotations

from typing import Any


def http_scope(**overrides: Any) -> dict[str, Any]:
    """An HTTP/1.1 ``GET /`` scope over TCP; keyword arguments replace fields."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"spec_version": "2.1", "version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"example.com")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
        "state": {},
    }
    scope.update(overrides)
    return scope
