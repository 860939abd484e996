"""``hypercorn.middleware``: Hypercorn 0.18's five middleware names.

Resolved lazily, so importing this module imports neither trio nor a driver; only
``TrioWSGIMiddleware`` needs trio, and without it says which extra to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports, with_trio_hint

if TYPE_CHECKING:
    from hypercorn_asyncio.wsgi import AsyncioWSGIMiddleware as AsyncioWSGIMiddleware
    from hypercorn_protocol.middleware import (
        DispatcherMiddleware as DispatcherMiddleware,
        HTTPToHTTPSRedirectMiddleware as HTTPToHTTPSRedirectMiddleware,
        ProxyFixMiddleware as ProxyFixMiddleware,
    )
    from hypercorn_trio.wsgi import TrioWSGIMiddleware as TrioWSGIMiddleware

__all__ = [
    "AsyncioWSGIMiddleware",
    "DispatcherMiddleware",
    "HTTPToHTTPSRedirectMiddleware",
    "ProxyFixMiddleware",
    "TrioWSGIMiddleware",
]

_lazy_getattr, __dir__ = lazy_exports(
    __name__,
    {
        "AsyncioWSGIMiddleware": "hypercorn_asyncio.wsgi",
        "DispatcherMiddleware": "hypercorn_protocol.middleware",
        "HTTPToHTTPSRedirectMiddleware": "hypercorn_protocol.middleware",
        "ProxyFixMiddleware": "hypercorn_protocol.middleware",
        "TrioWSGIMiddleware": "hypercorn_trio.wsgi",
    },
)

__getattr__ = with_trio_hint(_lazy_getattr, __name__)
