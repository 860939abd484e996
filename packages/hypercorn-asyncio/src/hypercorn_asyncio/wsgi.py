"""Serve a WSGI app as an ASGI app on asyncio: the app runs in the loop's default executor.

The PEP 3333 rules and the ASGI side live in :mod:`hypercorn_protocol.apps.wsgi`; this module
only says how to cross threads: the call goes to ``run_in_executor``, and each response
chunk comes back to the loop with ``run_coroutine_threadsafe(...).result()``. The worker
thread waits for every chunk to be sent, so a slow client slows the app down instead of
filling memory.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from hypercorn_protocol.apps.wsgi import MAX_BODY_SIZE, ThreadedWSGIApp, WSGIWrapper
from hypercorn_protocol.typing import Message, WSGIFramework


class AsyncioWSGIApp(ThreadedWSGIApp):
    """An ASGI app that runs a :class:`~hypercorn_protocol.apps.wsgi.WSGIWrapper` in threads.

    ``lifespan`` scopes return at once, ``websocket`` scopes are closed, and an HTTP
    request body over ``max_body_size`` is answered with 413 without calling the app.
    """

    def blocking_sender(
        self, send_all: Callable[[list[Message]], Coroutine[Any, Any, None]]
    ) -> Callable[[list[Message]], None]:
        loop = asyncio.get_running_loop()

        def send_messages(messages: list[Message]) -> None:
            # Runs in the worker thread: block until the loop has sent the messages.
            asyncio.run_coroutine_threadsafe(send_all(messages), loop).result()

        return send_messages

    async def run_in_thread(self, call: Callable[..., None], *args: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(None, functools.partial(call, *args))


class AsyncioWSGIMiddleware(AsyncioWSGIApp):
    """Hypercorn's name: a WSGI app as an ASGI app, e.g. under other ASGI middleware."""

    def __init__(self, wsgi_app: WSGIFramework, max_body_size: int = MAX_BODY_SIZE) -> None:
        """Wrap ``wsgi_app``.

        Args:
            wsgi_app: The WSGI callable.
            max_body_size: Largest request body buffered, in bytes (larger is 413).
        """
        super().__init__(WSGIWrapper(wsgi_app, max_body_size))


__all__ = ["AsyncioWSGIApp", "AsyncioWSGIMiddleware"]
