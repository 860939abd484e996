"""``hypercorn.middleware.dispatcher``: the dispatcher, by Hypercorn 0.18's path.

``DispatcherMiddleware`` is ``AsyncioDispatcherMiddleware``, as in 0.18 (ours follows
the running loop); ``TrioDispatcherMiddleware`` pins trio. None of them imports trio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports

if TYPE_CHECKING:
    from hypercorn_protocol.middleware.dispatcher import (
        MAX_QUEUE_SIZE as MAX_QUEUE_SIZE,
        AsyncioDispatcherMiddleware as AsyncioDispatcherMiddleware,
        DispatcherMiddleware as DispatcherMiddleware,
        TrioDispatcherMiddleware as TrioDispatcherMiddleware,
    )

__all__ = [
    "MAX_QUEUE_SIZE",
    "AsyncioDispatcherMiddleware",
    "DispatcherMiddleware",
    "TrioDispatcherMiddleware",
]

__getattr__, __dir__ = lazy_exports(
    __name__, {name: "hypercorn_protocol.middleware.dispatcher" for name in __all__}
)
