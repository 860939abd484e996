"""ASGI 3 types shared by every package.

Scopes and messages are plain dicts at run time (ASGI says so); the aliases below
name them for readers and for mypy without forcing TypedDict construction on the
hot path. Hypercorn 0.18's ``hypercorn.typing`` names are kept as aliases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Protocol, TypeAlias

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]

ASGIReceiveCallable: TypeAlias = Callable[[], Awaitable[Message]]
ASGISendCallable: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIReceiveEvent: TypeAlias = Message
ASGISendEvent: TypeAlias = Message

# Plain-dict scope aliases, named as Hypercorn 0.18 named them.
HTTPScope: TypeAlias = Scope
WebsocketScope: TypeAlias = Scope
LifespanScope: TypeAlias = Scope
WWWScope: TypeAlias = Scope

Headers: TypeAlias = list[tuple[bytes, bytes]]
RawHeaders: TypeAlias = Iterable[tuple[bytes, bytes]]


class ASGIFramework(Protocol):
    """An ASGI 3 application: ``await app(scope, receive, send)``."""

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None: ...


ASGIApp: TypeAlias = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]
Framework: TypeAlias = Any  # an ASGI or WSGI callable, before detection

StartResponse: TypeAlias = Callable[..., Callable[[bytes], None]]
WSGIEnviron: TypeAlias = dict[str, Any]
WSGIFramework: TypeAlias = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]

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
