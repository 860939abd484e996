"""``hypercorn.trio.run``: the trio worker entry point."""

from __future__ import annotations

from hypercorn._lazy import lazy_exports

# Typed as Any until hypercorn_trio grows serve/run (issue 4); then import them
# under TYPE_CHECKING like hypercorn.asyncio does.
__all__ = ["trio_worker"]  # noqa: F822 - provided by __getattr__

__getattr__, __dir__ = lazy_exports(__name__, {"trio_worker": "hypercorn_trio.run"})
