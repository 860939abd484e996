"""Which exceptions are reported as one ``Error:`` line, and with which exit code."""

from __future__ import annotations

import sys
import traceback
from typing import Any

from hypercorn_cli._workers import WorkerClassError
from hypercorn_protocol.config import ConfigError
from hypercorn_protocol.errors import LifespanFailureError, LifespanTimeoutError, NoAppError
from hypercorn_protocol.server.binding import BindError, SocketTypeError

#: Exit code for a bad command line, config, application path or worker class.
EXIT_USAGE = 2
#: Exit code for a failure while starting or running the server.
EXIT_RUNTIME = 1


def one_line(exc: BaseException) -> str:
    """``str(exc)`` squeezed onto one line (falls back to the exception's type name)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def wants_traceback(config: Any) -> bool:
    """Whether ``--debug`` or ``--log-level debug`` asked for whole tracebacks."""
    if config is None:
        return False
    level = str(getattr(config, "loglevel", "")).upper()
    return bool(getattr(config, "debug", False)) or level == "DEBUG"


def debug_traceback(exc: BaseException, config: Any) -> None:
    """Print the traceback of ``exc`` (and what it was raised from) when debugging."""
    if wants_traceback(config):
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        print(text, end="", file=sys.stderr, flush=True)


def usage_errors() -> tuple[type[Exception], ...]:
    """Errors caused by what the user asked for: exit code 2."""
    # Imported here: a worker process (which uses this module) never parses a command line.
    from hypercorn_cli._options import UsageError

    return (UsageError, ConfigError, NoAppError, SocketTypeError, WorkerClassError)


def runtime_errors() -> tuple[type[Exception], ...]:
    """Errors met while starting or serving: exit code 1."""
    return (BindError, LifespanFailureError, LifespanTimeoutError, OSError)
