"""Hypercorn: ASGI/WSGI server (meta-package of re-exports)."""

from hypercorn.__about__ import __version__

__all__ = ["__version__"]
