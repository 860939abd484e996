"""``hypercorn.asyncio.run``: asyncio and uvloop worker entry points."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports

if TYPE_CHECKING:
    from hypercorn_asyncio.run import (
        asyncio_worker as asyncio_worker,
        uvloop_worker as uvloop_worker,
        worker_serve as worker_serve,
    )

__all__ = ["asyncio_worker", "uvloop_worker", "worker_serve"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {name: "hypercorn_asyncio.run" for name in __all__},
)
