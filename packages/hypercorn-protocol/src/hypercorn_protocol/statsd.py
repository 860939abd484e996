"""``hypercorn_protocol.statsd``: the documented path of the StatsD logger.

The implementation lives in ``hypercorn_protocol.server.statsd``;
this module only re-exports its names.
"""

from hypercorn_protocol.server.statsd import *  # noqa: F403
from hypercorn_protocol.server.statsd import __all__ as __all__
