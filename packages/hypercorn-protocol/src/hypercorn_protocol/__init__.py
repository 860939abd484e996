"""hypercorn-protocol: the sans-IO core of the hypercorn server.

Feed bytes in, take bytes and events out; bring your own sockets, clock and event
loop. See :class:`ServerConnection` for the loop a driver runs.
"""

from __future__ import annotations

from hypercorn_protocol import events
from hypercorn_protocol.__about__ import __version__
from hypercorn_protocol.apps.loading import (
    AppWrapper,
    ASGIWrapper,
    is_asgi,
    load_application,
    load_object,
    wrap_app,
)
from hypercorn_protocol.apps.wsgi import WSGIWrapper, build_environ, run_wsgi
from hypercorn_protocol.config import Config, ConfigError, ConfigWarning
from hypercorn_protocol.connection import ServerConnection
from hypercorn_protocol.errors import (
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    UnexpectedMessageError,
    WebSocketClosedError,
)
from hypercorn_protocol.events import (
    AppMessage,
    CloseConnection,
    Event,
    PauseReading,
    RequestCompleted,
    RequestRefused,
    ResponseSummary,
    ResumeReading,
    StartApp,
    StreamWritable,
)
from hypercorn_protocol.headers import DateCache
from hypercorn_protocol.settings import ProtocolSettings

__all__ = [
    "ASGIWrapper",
    "AppMessage",
    "AppWrapper",
    "CloseConnection",
    "Config",
    "ConfigError",
    "ConfigWarning",
    "DateCache",
    "Event",
    "LocalProtocolError",
    "PauseReading",
    "ProtocolError",
    "ProtocolSettings",
    "RemoteProtocolError",
    "RequestCompleted",
    "RequestRefused",
    "ResponseSummary",
    "ResumeReading",
    "ServerConnection",
    "StartApp",
    "StreamWritable",
    "UnexpectedMessageError",
    "WSGIWrapper",
    "WebSocketClosedError",
    "__version__",
    "build_environ",
    "events",
    "is_asgi",
    "load_application",
    "load_object",
    "run_wsgi",
    "wrap_app",
]
