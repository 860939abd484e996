"""``hypercorn_protocol.app_loading``: the documented path of application loading.

The implementation lives in ``hypercorn_protocol.apps.loading``;
this module only re-exports its names.
"""

from hypercorn_protocol.apps.loading import *  # noqa: F403
from hypercorn_protocol.apps.loading import __all__ as __all__
