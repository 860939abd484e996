"""Serve a WSGI app as an ASGI app on trio: the app runs in ``trio.to_thread``.

The PEP 3333 rules live in :mod:`hypercorn_protocol.wsgi`; this module only reads the
body, moves the call to a thread and carries each response chunk back to trio with
``trio.from_thread.run``. The worker thread waits for every chunk to be sent, so a slow
client slows the app down instead of filling memory.
"""

from __future__ import annotations

import trio
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


class TrioWSGIApp:
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

        async def send_all(messages: list[Message]) -> None:
            for message in messages:
                await send(message)

        def send_messages(messages: list[Message]) -> None:
            # Runs in the worker thread: block until trio has sent the messages.
            trio.from_thread.run(send_all, messages)

        send_start, send_body = message_senders(send_messages)
        environ = build_environ(scope, reader.body)
        # Abandoned on cancellation (graceful timeout), like an executor future in
        # asyncio: the thread cannot be interrupted, the request must not wait for it.
        await trio.to_thread.run_sync(
            run_wsgi, self.wrapper, environ, send_start, send_body, abandon_on_cancel=True
        )


class TrioWSGIMiddleware(TrioWSGIApp):
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


__all__ = ["TrioWSGIApp", "TrioWSGIMiddleware"]
