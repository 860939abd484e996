"""``hypercorn_protocol.wsgi``: the documented path of the WSGI adapter.

The implementation lives in ``hypercorn_protocol.apps.wsgi``;
this module only re-exports its names.
"""

from hypercorn_protocol.apps.wsgi import (
    MAX_BODY_SIZE as MAX_BODY_SIZE,
    ExcInfo as ExcInfo,
    RequestBodyReader as RequestBodyReader,
    SendBody as SendBody,
    SendStart as SendStart,
    ThreadedWSGIApp as ThreadedWSGIApp,
    WSGICallable as WSGICallable,
    WSGIWrapper as WSGIWrapper,
    build_environ as build_environ,
    empty_response as empty_response,
    message_senders as message_senders,
    run_wsgi as run_wsgi,
)

__all__ = [
    "ExcInfo",
    "MAX_BODY_SIZE",
    "RequestBodyReader",
    "SendBody",
    "SendStart",
    "ThreadedWSGIApp",
    "WSGICallable",
    "WSGIWrapper",
    "build_environ",
    "empty_response",
    "message_senders",
    "run_wsgi",
]
