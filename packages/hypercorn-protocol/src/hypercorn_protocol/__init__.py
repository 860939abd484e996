"""hypercorn-protocol: the sans-IO core of the hypercorn server.

Feed bytes in, take bytes and events out; bring your own sockets, clock and event
loop. See :class:`ServerConnection` for the loop a driver runs.

The names below are resolved on first use (PEP 562), so importing one submodule (the
supervisor only needs ``hypercorn_protocol.config``) does not load h11, h2 and wsproto
into a process that never parses a request.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from hypercorn_protocol.__about__ import __version__

if TYPE_CHECKING:
    from hypercorn_protocol import events
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

_SOURCES = {
    "ASGIWrapper": "hypercorn_protocol.apps.loading",
    "AppMessage": "hypercorn_protocol.events",
    "AppWrapper": "hypercorn_protocol.apps.loading",
    "CloseConnection": "hypercorn_protocol.events",
    "Config": "hypercorn_protocol.config",
    "ConfigError": "hypercorn_protocol.config",
    "ConfigWarning": "hypercorn_protocol.config",
    "DateCache": "hypercorn_protocol.headers",
    "Event": "hypercorn_protocol.events",
    "LocalProtocolError": "hypercorn_protocol.errors",
    "PauseReading": "hypercorn_protocol.events",
    "ProtocolError": "hypercorn_protocol.errors",
    "ProtocolSettings": "hypercorn_protocol.settings",
    "RemoteProtocolError": "hypercorn_protocol.errors",
    "RequestCompleted": "hypercorn_protocol.events",
    "RequestRefused": "hypercorn_protocol.events",
    "ResponseSummary": "hypercorn_protocol.events",
    "ResumeReading": "hypercorn_protocol.events",
    "ServerConnection": "hypercorn_protocol.connection",
    "StartApp": "hypercorn_protocol.events",
    "StreamWritable": "hypercorn_protocol.events",
    "UnexpectedMessageError": "hypercorn_protocol.errors",
    "WSGIWrapper": "hypercorn_protocol.apps.wsgi",
    "WebSocketClosedError": "hypercorn_protocol.errors",
    "build_environ": "hypercorn_protocol.apps.wsgi",
    "is_asgi": "hypercorn_protocol.apps.loading",
    "load_application": "hypercorn_protocol.apps.loading",
    "load_object": "hypercorn_protocol.apps.loading",
    "run_wsgi": "hypercorn_protocol.apps.wsgi",
    "wrap_app": "hypercorn_protocol.apps.loading",
}


def __getattr__(name: str) -> Any:
    if name == "events":
        return importlib.import_module("hypercorn_protocol.events")
    try:
        source = _SOURCES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(source), name)
    setattr(sys.modules[__name__], name, value)  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES) | {"events"})


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
