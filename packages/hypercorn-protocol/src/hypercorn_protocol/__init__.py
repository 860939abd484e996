"""hypercorn_protocol."""

from hypercorn_protocol.__about__ import __version__

__all__ = ["__version__"]
