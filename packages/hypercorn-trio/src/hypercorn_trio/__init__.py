"""hypercorn_trio."""

from hypercorn_trio.__about__ import __version__

__all__ = ["__version__"]
