"""``hypercorn_protocol.lifespan``: the documented path of the ASGI lifespan protocol.

The implementation lives in ``hypercorn_protocol.apps.lifespan``;
this module only re-exports its names.
"""

from hypercorn_protocol.apps.lifespan import *  # noqa: F403
from hypercorn_protocol.apps.lifespan import __all__ as __all__
