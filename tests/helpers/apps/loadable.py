"""A module for the app-loading tests to import by dotted name.

Every attribute here is referenced by a test as ``tests.helpers.apps.loadable:<name>``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any

from hypercorn_protocol.typing import ASGIReceive, ASGIScope, ASGISend, StartResponse


async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
    """A do-nothing ASGI app."""


def wsgi_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """A hello-world WSGI app."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


class NamedASGIApp:
    """An ASGI app built by a factory, remembering the factory's arguments."""

    def __init__(self, name: str, debug: bool) -> None:
        self.name = name
        self.debug = debug

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        """Do nothing."""


def create_app(name: str = "default", debug: bool = False) -> NamedASGIApp:
    """An application factory."""
    return NamedASGIApp(name, debug)


def failing_factory() -> NamedASGIApp:
    """A factory whose configuration is broken."""
    raise ValueError("DATABASE_URL is not set")


async def async_factory() -> NamedASGIApp:
    """An async factory, which cannot be used without an event loop."""
    return NamedASGIApp("async", False)


class _Namespace:
    def __init__(self) -> None:
        self.app = NamedASGIApp("namespaced", False)


namespace = _Namespace()

not_callable = 42


def legacy_style(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> Awaitable[None]:
    """A sync callable that returns a coroutine: detected as WSGI unless forced."""
    return app(scope, receive, send)
