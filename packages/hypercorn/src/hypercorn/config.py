"""``hypercorn.config``: the server configuration (implemented in ``hypercorn_protocol``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports

if TYPE_CHECKING:
    from hypercorn_protocol.config import Config as Config
    from hypercorn_protocol.server.binding import (
        Sockets as Sockets,
        SocketTypeError as SocketTypeError,
    )

__all__ = ["Config", "SocketTypeError", "Sockets"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Config": "hypercorn_protocol.config",
        "Sockets": "hypercorn_protocol.server.binding",
        "SocketTypeError": "hypercorn_protocol.server.binding",
    },
)
