"""Hypercorn: an ASGI/WSGI server (meta-package of re-exports).

``from hypercorn import Config`` and every other Hypercorn 0.18 import path keep working;
the implementations live in ``hypercorn_protocol``, ``hypercorn_asyncio``,
``hypercorn_trio`` and ``hypercorn_cli``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn.__about__ import __version__
from hypercorn._lazy import lazy_exports

if TYPE_CHECKING:
    from hypercorn_protocol.config import Config as Config

__all__ = ["Config", "__version__"]

__getattr__, __dir__ = lazy_exports(__name__, {"Config": "hypercorn_protocol.config"})
