"""``hypercorn.logging``: the access/error logger (implemented in ``hypercorn_protocol``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports

if TYPE_CHECKING:
    from hypercorn_protocol.server.logging import AccessLogAtoms as AccessLogAtoms, Logger as Logger

__all__ = ["AccessLogAtoms", "Logger"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AccessLogAtoms": "hypercorn_protocol.server.logging",
        "Logger": "hypercorn_protocol.server.logging",
    },
)
