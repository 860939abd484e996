"""Serve a WSGI app as an ASGI app on asyncio: the app runs in the loop's default executor.

The PEP 3333 rules live in :mod:`hypercorn_protocol.wsgi`; this module only reads the
body, moves the call to a thread and carries each response chunk back to the loop with
``run_coroutine_threadsafe(...).result()``. The worker thread waits for every chunk to
be sent, so a slow client slows the app down instead of filling memory.
"""

from __future__ import annotations

import asyncio
import functools

from hypercorn_protocol.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    Message,
    Scope,
    WSGIFramework,
)
from hypercorn_protocol.wsgi import (
    RequestBodyReader,
    WSGIWrapper,
    build_environ,
    empty_response,
    message_senders,
    run_wsgi,
)


class AsyncioWSGIApp:
    """An ASGI app that runs a :class:`~hypercorn_protocol.wsgi.WSGIWrapper` in threads.

    ``lifespan`` scopes return at once, ``websocket`` scopes are closed, and an HTTP
    request body over ``max_body_size`` is answered with 413 without calling the app.
    """

    def __init__(self, wrapper: WSGIWrapper) -> None:
        """Wrap ``wrapper`` for serving.

        Args:
            wrapper: The WSGI app and its body limit.
        """
        self.wrapper = wrapper

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Handle one ASGI connection scope."""
        kind = scope["type"]
        if kind == "http":
            await self._handle_http(scope, receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close"})

    async def _handle_http(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        reader = RequestBodyReader(scope, self.wrapper.max_body_size)
        while not reader.done:
            reader.feed(await receive())
        if reader.disconnected:
            return
        if reader.too_large:
            for message in empty_response(413):
                await send(message)
            return

        loop = asyncio.get_running_loop()

        async def send_all(messages: list[Message]) -> None:
            for message in messages:
                await send(message)

        def send_messages(messages: list[Message]) -> None:
            # Runs in the worker thread: block until the loop has sent the messages.
            asyncio.run_coroutine_threadsafe(send_all(messages), loop).result()

        send_start, send_body = message_senders(send_messages)
        environ = build_environ(scope, reader.body)
        await loop.run_in_executor(
            None, functools.partial(run_wsgi, self.wrapper, environ, send_start, send_body)
        )


class AsyncioWSGIMiddleware(AsyncioWSGIApp):
    """Hypercorn's name: a WSGI app as an ASGI app, e.g. under other ASGI middleware."""

    def __init__(self, wsgi_app: WSGIFramework, max_body_size: int = 2**16) -> None:
        """Wrap ``wsgi_app``.

        Args:
            wsgi_app: The WSGI callable.
            max_body_size: Largest request body buffered, in bytes (larger is 413).
        """
        super().__init__(WSGIWrapper(wsgi_app, max_body_size))

    @property
    def wsgi_app(self) -> WSGIFramework:
        """The wrapped WSGI callable."""
        return self.wrapper.app

    @property
    def max_body_size(self) -> int:
        """Largest request body buffered, in bytes."""
        return self.wrapper.max_body_size


__all__ = ["AsyncioWSGIApp", "AsyncioWSGIMiddleware"]
