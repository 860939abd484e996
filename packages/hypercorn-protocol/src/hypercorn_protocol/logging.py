"""``hypercorn_protocol.logging``: the documented path of the error and access logger.

The implementation lives in ``hypercorn_protocol.server.logging``;
this module only re-exports its names.
"""

from hypercorn_protocol.server.logging import *  # noqa: F403
from hypercorn_protocol.server.logging import __all__ as __all__
