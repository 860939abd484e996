"""``hypercorn.asyncio``: serve an app on asyncio or uvloop (from ``hypercorn_asyncio``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports

if TYPE_CHECKING:
    from hypercorn_asyncio import serve as serve

__all__ = ["serve"]

__getattr__, __dir__ = lazy_exports(__name__, {"serve": "hypercorn_asyncio"})
