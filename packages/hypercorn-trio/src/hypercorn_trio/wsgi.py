"""Serve a WSGI app as an ASGI app on trio: the app runs in ``trio.to_thread``.

The PEP 3333 rules and the ASGI side live in :mod:`hypercorn_protocol.apps.wsgi`; this module
only says how to cross threads: the call goes to ``trio.to_thread.run_sync``, and each
response chunk comes back to trio with ``trio.from_thread.run``. The worker thread waits
for every chunk to be sent, so a slow client slows the app down instead of filling
memory.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import trio
from hypercorn_protocol.apps.wsgi import MAX_BODY_SIZE, ThreadedWSGIApp, WSGIWrapper
from hypercorn_protocol.typing import Message, WSGIFramework


class TrioWSGIApp(ThreadedWSGIApp):
    """An ASGI app that runs a :class:`~hypercorn_protocol.apps.wsgi.WSGIWrapper` in threads.

    ``lifespan`` scopes return at once, ``websocket`` scopes are closed, and an HTTP
    request body over ``max_body_size`` is answered with 413 without calling the app.
    """

    def blocking_sender(
        self, send_all: Callable[[list[Message]], Coroutine[Any, Any, None]]
    ) -> Callable[[list[Message]], None]:
        def send_messages(messages: list[Message]) -> None:
            # Runs in the worker thread: block until trio has sent the messages.
            trio.from_thread.run(send_all, messages)

        return send_messages

    async def run_in_thread(self, call: Callable[..., None], *args: Any) -> None:
        # Abandoned on cancellation (graceful timeout), like an executor future in
        # asyncio: the thread cannot be interrupted, the request must not wait for it.
        await trio.to_thread.run_sync(call, *args, abandon_on_cancel=True)


class TrioWSGIMiddleware(TrioWSGIApp):
    """Hypercorn's name: a WSGI app as an ASGI app, e.g. under other ASGI middleware."""

    def __init__(self, wsgi_app: WSGIFramework, max_body_size: int = MAX_BODY_SIZE) -> None:
        """Wrap ``wsgi_app``.

        Args:
            wsgi_app: The WSGI callable.
            max_body_size: Largest request body buffered, in bytes (larger is 413).
        """
        super().__init__(WSGIWrapper(wsgi_app, max_body_size))


__all__ = ["TrioWSGIApp", "TrioWSGIMiddleware"]
