"""``hypercorn_protocol.binding``: the documented path of socket binding and TLS contexts.

The implementation lives in ``hypercorn_protocol.server.binding``;
this module only re-exports its names.
"""

from hypercorn_protocol.server.binding import *  # noqa: F403
from hypercorn_protocol.server.binding import __all__ as __all__
