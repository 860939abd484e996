"""``hypercorn.trio.run``: the trio worker entry point."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports

if TYPE_CHECKING:
    from hypercorn_trio.run import trio_worker as trio_worker

__all__ = ["trio_worker"]

__getattr__, __dir__ = lazy_exports(__name__, {"trio_worker": "hypercorn_trio.run"})
