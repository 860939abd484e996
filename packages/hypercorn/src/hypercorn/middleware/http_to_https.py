"""``hypercorn.middleware.http_to_https``: Hypercorn 0.18's import path for the redirect."""

from __future__ import annotations

from hypercorn_protocol.middleware.http_to_https import (
    HTTPToHTTPSRedirectMiddleware as HTTPToHTTPSRedirectMiddleware,
)

__all__ = ["HTTPToHTTPSRedirectMiddleware"]
