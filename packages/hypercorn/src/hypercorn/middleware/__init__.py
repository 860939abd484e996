"""``hypercorn.middleware``: Hypercorn 0.18's five middleware names.

Resolved lazily, so importing this module imports neither trio nor a driver; only
``TrioWSGIMiddleware`` needs trio, and without it says which extra to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypercorn._lazy import lazy_exports

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

_TRIO_HINT = (
    "hypercorn.middleware.TrioWSGIMiddleware needs the trio backend, which is not "
    "installed: pip install 'hypercorn[trio]'"
)

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


def __getattr__(name: str) -> Any:
    try:
        return _lazy_getattr(name)
    except ModuleNotFoundError as exc:
        # Only a missing backend gets the hint; a module missing deeper down is a real bug.
        if name == "TrioWSGIMiddleware" and exc.name in ("trio", "hypercorn_trio"):
            raise ImportError(_TRIO_HINT, name=exc.name) from exc
        raise
