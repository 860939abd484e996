"""``hypercorn.middleware.wsgi``: the WSGI-to-ASGI middlewares, by Hypercorn 0.18's path.

Resolved lazily: importing this module imports neither driver, and only
``TrioWSGIMiddleware`` needs trio - without it, the error says which extra to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports, with_trio_hint

if TYPE_CHECKING:
    from hypercorn_asyncio.wsgi import AsyncioWSGIMiddleware as AsyncioWSGIMiddleware
    from hypercorn_protocol.apps.wsgi import (
        MAX_BODY_SIZE as MAX_BODY_SIZE,
        WSGICallable as WSGICallable,
    )
    from hypercorn_protocol.errors import InvalidPathError as InvalidPathError
    from hypercorn_trio.wsgi import TrioWSGIMiddleware as TrioWSGIMiddleware

__all__ = [
    "MAX_BODY_SIZE",
    "AsyncioWSGIMiddleware",
    "InvalidPathError",
    "TrioWSGIMiddleware",
    "WSGICallable",
]

_lazy_getattr, __dir__ = lazy_exports(
    __name__,
    {
        "MAX_BODY_SIZE": "hypercorn_protocol.apps.wsgi",
        "AsyncioWSGIMiddleware": "hypercorn_asyncio.wsgi",
        "InvalidPathError": "hypercorn_protocol.errors",
        "TrioWSGIMiddleware": "hypercorn_trio.wsgi",
        "WSGICallable": "hypercorn_protocol.apps.wsgi",
    },
)

__getattr__ = with_trio_hint(_lazy_getattr, __name__)
