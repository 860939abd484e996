"""``hypercorn.typing``: ASGI type aliases (implemented in ``hypercorn_protocol.typing``)."""

from __future__ import annotations

from hypercorn_protocol.typing import (
    ASGIApp as ASGIApp,
    ASGIFramework as ASGIFramework,
    ASGIReceiveCallable as ASGIReceiveCallable,
    ASGIReceiveEvent as ASGIReceiveEvent,
    ASGISendCallable as ASGISendCallable,
    ASGISendEvent as ASGISendEvent,
    Framework as Framework,
    Headers as Headers,
    HTTPScope as HTTPScope,
    LifespanScope as LifespanScope,
    Message as Message,
    RawHeaders as RawHeaders,
    Scope as Scope,
    StartResponse as StartResponse,
    WebsocketScope as WebsocketScope,
    WSGIEnviron as WSGIEnviron,
    WSGIFramework as WSGIFramework,
    WWWScope as WWWScope,
)

__all__ = [
    "ASGIApp",
    "ASGIFramework",
    "ASGIReceiveCallable",
    "ASGIReceiveEvent",
    "ASGISendCallable",
    "ASGISendEvent",
    "Framework",
    "HTTPScope",
    "Headers",
    "LifespanScope",
    "Message",
    "RawHeaders",
    "Scope",
    "StartResponse",
    "WSGIEnviron",
    "WSGIFramework",
    "WWWScope",
    "WebsocketScope",
]
