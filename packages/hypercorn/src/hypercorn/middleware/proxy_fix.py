"""``hypercorn.middleware.proxy_fix``: Hypercorn 0.18's import path for the proxy fix."""

from __future__ import annotations

from hypercorn_protocol.middleware.proxy_fix import ProxyFixMiddleware as ProxyFixMiddleware

__all__ = ["ProxyFixMiddleware"]
