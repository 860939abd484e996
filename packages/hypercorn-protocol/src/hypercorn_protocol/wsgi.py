"""``hypercorn_protocol.wsgi``: the documented path of the WSGI adapter.

The implementation lives in ``hypercorn_protocol.apps.wsgi``;
this module only re-exports its names.
"""

from hypercorn_protocol.apps.wsgi import *  # noqa: F403
from hypercorn_protocol.apps.wsgi import __all__ as __all__
