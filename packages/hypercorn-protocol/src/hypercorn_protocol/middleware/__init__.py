"""Pure-ASGI middleware, usable under any server and event loop.

* :class:`DispatcherMiddleware` - mount apps on path prefixes, lifespan fanned out;
* :class:`HTTPToHTTPSRedirectMiddleware` - redirect ``http``/``ws`` to ``https``/``wss``;
* :class:`ProxyFixMiddleware` - trust ``X-Forwarded-*`` or RFC 7239 ``Forwarded``.

The WSGI-to-ASGI middlewares need an event loop's threads, so they live in the drivers
(``hypercorn_asyncio.wsgi.AsyncioWSGIMiddleware``, ``hypercorn_trio.wsgi.TrioWSGIMiddleware``).
"""

from __future__ import annotations

from hypercorn_protocol.middleware.dispatcher import (
    AsyncioDispatcherMiddleware,
    DispatcherMiddleware,
    TrioDispatcherMiddleware,
)
from hypercorn_protocol.middleware.http_to_https import HTTPToHTTPSRedirectMiddleware
from hypercorn_protocol.middleware.proxy_fix import ProxyFixMiddleware

__all__ = [
    "AsyncioDispatcherMiddleware",
    "DispatcherMiddleware",
    "HTTPToHTTPSRedirectMiddleware",
    "ProxyFixMiddleware",
    "TrioDispatcherMiddleware",
]
