"""``hypercorn.utils``: the error types and app-loading helpers of Hypercorn 0.18."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports
from hypercorn_protocol.errors import (
    LifespanFailureError as LifespanFailureError,
    LifespanTimeoutError as LifespanTimeoutError,
    NoAppError as NoAppError,
    ShutdownError as ShutdownError,
    UnexpectedMessageError as UnexpectedMessageError,
)

if TYPE_CHECKING:
    from hypercorn_protocol.apps.loading import (
        is_asgi as is_asgi,
        load_application as load_application,
        wrap_app as wrap_app,
    )

__all__ = [
    "LifespanFailureError",
    "LifespanTimeoutError",
    "NoAppError",
    "ShutdownError",
    "UnexpectedMessageError",
    "is_asgi",
    "load_application",
    "wrap_app",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        name: "hypercorn_protocol.apps.loading"
        for name in ("is_asgi", "load_application", "wrap_app")
    },
)
