"""``hypercorn.middleware.dispatcher``: the dispatcher for each event loop.

``DispatcherMiddleware`` picks the running loop by itself; the two named variants pin
it, as in Hypercorn 0.18. None of them imports trio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports

if TYPE_CHECKING:
    from hypercorn_protocol.middleware.dispatcher import (
        AsyncioDispatcherMiddleware as AsyncioDispatcherMiddleware,
        DispatcherMiddleware as DispatcherMiddleware,
        TrioDispatcherMiddleware as TrioDispatcherMiddleware,
    )

__all__ = ["AsyncioDispatcherMiddleware", "DispatcherMiddleware", "TrioDispatcherMiddleware"]

__getattr__, __dir__ = lazy_exports(
    __name__, {name: "hypercorn_protocol.middleware.dispatcher" for name in __all__}
)
