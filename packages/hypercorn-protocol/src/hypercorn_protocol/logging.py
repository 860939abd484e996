"""``hypercorn_protocol.logging``: the documented path of the error and access logger.

The implementation lives in ``hypercorn_protocol.server.logging``;
this module only re-exports its names.
"""

from hypercorn_protocol.server.logging import (
    JSON_ACCESS_FIELDS as JSON_ACCESS_FIELDS,
    LOG_DATE_FORMAT as LOG_DATE_FORMAT,
    LOG_FORMAT as LOG_FORMAT,
    AccessLogAtoms as AccessLogAtoms,
    Logger as Logger,
    access_json as access_json,
)

__all__ = [
    "AccessLogAtoms",
    "JSON_ACCESS_FIELDS",
    "LOG_DATE_FORMAT",
    "LOG_FORMAT",
    "Logger",
    "access_json",
]
