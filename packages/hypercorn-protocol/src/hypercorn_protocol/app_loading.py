"""``hypercorn_protocol.app_loading``: the documented path of application loading.

The implementation lives in ``hypercorn_protocol.apps.loading``;
this module only re-exports its names.
"""

from hypercorn_protocol.apps.loading import (
    ApplicationPath as ApplicationPath,
    AppWrapper as AppWrapper,
    ASGIWrapper as ASGIWrapper,
    Mode as Mode,
    is_asgi as is_asgi,
    load_application as load_application,
    load_object as load_object,
    parse_application_path as parse_application_path,
    wrap_app as wrap_app,
)

__all__ = [
    "ASGIWrapper",
    "AppWrapper",
    "ApplicationPath",
    "Mode",
    "is_asgi",
    "load_application",
    "load_object",
    "parse_application_path",
    "wrap_app",
]
