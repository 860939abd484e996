"""``hypercorn.app_wrappers``: the ASGI and WSGI application wrappers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports

if TYPE_CHECKING:
    from hypercorn_protocol.apps.loading import ASGIWrapper as ASGIWrapper
    from hypercorn_protocol.apps.wsgi import WSGIWrapper as WSGIWrapper

__all__ = ["ASGIWrapper", "WSGIWrapper"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ASGIWrapper": "hypercorn_protocol.apps.loading",
        "WSGIWrapper": "hypercorn_protocol.apps.wsgi",
    },
)
