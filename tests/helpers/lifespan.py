"""The lifespan half of the test apps, written once.

In-process apps call :func:`serve_lifespan`; the app files the real ``hypercorn`` command
imports from a temporary directory (where ``tests`` is not importable) start with
:data:`LIFESPAN_SOURCE`, the same function as source text, and call it the same way::

    APP = LIFESPAN_SOURCE + '''
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        ...
    '''
"""

from __future__ import annotations

import inspect

from hypercorn_protocol.typing import ASGIReceive, ASGISend


async def serve_lifespan(receive: ASGIReceive, send: ASGISend) -> None:
    """Complete lifespan startup and shutdown; return after the shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


#: :func:`serve_lifespan` as the first lines of an app file (its annotations stay text).
LIFESPAN_SOURCE = "from __future__ import annotations\n\n\n" + inspect.getsource(serve_lifespan)
