"""``hypercorn_protocol.lifespan``: the documented path of the ASGI lifespan protocol.

The implementation lives in ``hypercorn_protocol.apps.lifespan``;
this module only re-exports its names.
"""

from hypercorn_protocol.apps.lifespan import (
    LifespanConfig as LifespanConfig,
    LifespanProtocol as LifespanProtocol,
    LifespanRunner as LifespanRunner,
)

__all__ = [
    "LifespanConfig",
    "LifespanProtocol",
    "LifespanRunner",
]
