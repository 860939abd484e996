"""Error and access logging, compatible with Hypercorn 0.18's ``hypercorn.logging``.

Two stdlib loggers are used: ``hypercorn.error`` and ``hypercorn.access``. The logging
methods are coroutines because Hypercorn's are, and custom ``logger_class`` subclasses
(StatsD, structured logging) override them as coroutines.

An access-log line is ``access_log_format % AccessLogAtoms(...)``; see ``AccessLogAtoms``
for the atoms. With ``access_log_json`` it is one JSON object instead (``access_json``).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Any

from hypercorn_protocol.server.config_files import ConfigError, load_toml_file
from hypercorn_protocol.typing import ASGIScope

if TYPE_CHECKING:
    from hypercorn_protocol.config import Config

LOG_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"
LOG_DATE_FORMAT = "[%Y-%m-%d %H:%M:%S %z]"

# Marks handlers this module installed, so they can be closed when replaced.
_OWN_HANDLER = "_hypercorn_protocol_handler"


class _LogFileHandler(logging.FileHandler):
    """A log file whose write errors (full disk, a closed pipe) are reported once.

    The stdlib default prints a traceback to stderr for every record that fails, which
    under load floods stderr with one traceback per request. Serving goes on either way;
    the first failure goes to ``hypercorn.error`` and later ones are dropped silently.
    """

    reported = False
    kind = "log"  # "access" or "error", for the report

    def handleError(self, record: logging.LogRecord) -> None:
        if self.reported:
            return
        self.reported = True  # set first: the error log may be this very file
        error = sys.exc_info()[1]
        logging.getLogger("hypercorn.error").error(
            "Cannot write the %s log %s (%s); serving goes on, further errors are not reported",
            self.kind,
            self.baseFilename,
            error,
        )


def _create_logger(
    name: str,
    target: logging.Logger | str | None,
    level: str,
    stream: IO[str],
    *,
    propagate: bool,
    message_only: bool = False,
) -> logging.Logger | None:
    """Return the logger for ``target``: a Logger as is, ``-`` a stream, a str a file."""
    if isinstance(target, logging.Logger):
        return target
    if not target:
        return None
    logger = logging.getLogger(name)
    handler: logging.Handler
    if target == "-":
        handler = logging.StreamHandler(stream)
    else:
        handler = file_handler = _LogFileHandler(target)
        file_handler.kind = name.rpartition(".")[2]
    setattr(handler, _OWN_HANDLER, True)
    handler.setFormatter(
        logging.Formatter("%(message)s")
        if message_only
        else logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT)
    )
    for old in list(logger.handlers):
        logger.removeHandler(old)
        if getattr(old, _OWN_HANDLER, False):
            old.close()
    logger.addHandler(handler)
    logger.propagate = propagate
    logger.setLevel(_level_number(level))
    return logger


def _level_number(level: str) -> int:
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ConfigError(f"invalid loglevel {level!r}: expected DEBUG, INFO, WARNING, ERROR ...")
    return number


def _apply_logconfig(config: Config) -> None:
    """Apply ``logconfig`` (``json:``, ``toml:`` or an ini path) or else ``logconfig_dict``."""
    import json
    import logging.config

    if config.logconfig is not None:
        source = config.logconfig
        if source.startswith("json:"):
            with open(source[5:], "rb") as file:
                _dict_config(json.load(file))
        elif source.startswith("toml:"):
            _dict_config(load_toml_file(source[5:]))
        else:
            defaults = {"__file__": source, "here": os.path.dirname(source)}
            logging.config.fileConfig(source, defaults=defaults, disable_existing_loggers=False)
    elif config.logconfig_dict is not None:
        _dict_config(config.logconfig_dict)


def _dict_config(settings: Mapping[str, Any]) -> None:
    import logging.config

    # dictConfig disables existing loggers unless told otherwise, which would silence the
    # two loggers created just before; keep them, as fileConfig is told to.
    settings = dict(settings)
    settings.setdefault("disable_existing_loggers", False)
    logging.config.dictConfig(settings)


class Logger:
    """The default ``Config.logger_class``: error and access logging.

    Args:
        config: Supplies ``accesslog``, ``errorlog``, ``loglevel``, ``access_log_format``,
            ``logconfig`` and ``logconfig_dict``.

    Targets: ``"-"`` logs to stdout (access) or stderr (error), another string is a file
    path, a ``logging.Logger`` is used as is, None disables that log. ``logconfig`` and
    ``logconfig_dict`` are applied afterwards; if one of them gives ``hypercorn.access`` or
    ``hypercorn.error`` handlers while that target is None, the configured logger is used.
    Dict configs default to ``disable_existing_loggers=False`` so these loggers survive.
    """

    def __init__(self, config: Config) -> None:
        self.access_log_format = config.access_log_format
        self.access_log_json = getattr(config, "access_log_json", False)
        # A JSON line is the whole line: no time/pid/level prefix for the shipper to strip.
        self.access_logger = _create_logger(
            "hypercorn.access",
            config.accesslog,
            config.loglevel,
            sys.stdout,
            propagate=False,
            message_only=self.access_log_json,
        )
        self.error_logger = _create_logger(
            "hypercorn.error", config.errorlog, config.loglevel, sys.stderr, propagate=True
        )
        if config.logconfig is not None or config.logconfig_dict is not None:
            _apply_logconfig(config)
            if self.access_logger is None and logging.getLogger("hypercorn.access").handlers:
                self.access_logger = logging.getLogger("hypercorn.access")
            if self.error_logger is None and logging.getLogger("hypercorn.error").handlers:
                self.error_logger = logging.getLogger("hypercorn.error")

    @property
    def access_enabled(self) -> bool:
        """Whether ``access()`` does anything; drivers skip building atoms when False.

        True if there is an access logger, or if a subclass overrides ``access`` (for
        example to count requests).
        """
        return self.access_logger is not None or type(self).access is not Logger.access

    async def access(
        self, request: ASGIScope, response: Mapping[str, Any] | None, request_time: float
    ) -> None:
        """Log one access line.

        Args:
            request: The request's ASGI scope.
            response: A mapping with ``status`` and ``headers``, or None if no response
                was sent.
            request_time: Seconds the request took.
        """
        logger = self.access_logger
        if logger is not None and logger.isEnabledFor(logging.INFO):
            atoms = self.atoms(request, response, request_time)
            if self.access_log_json:
                logger.info("%s", access_json(atoms))
            else:
                logger.info(self.access_log_format, atoms)

    def atoms(
        self, request: ASGIScope, response: Mapping[str, Any] | None, request_time: float
    ) -> Mapping[str, str]:
        """The mapping the access-log format is applied to (override to add atoms)."""
        return AccessLogAtoms(request, response, request_time)

    async def critical(self, message: str, *args: Any, **kwargs: Any) -> None:
        """Log at CRITICAL on the error logger."""
        if self.error_logger is not None:
            self.error_logger.critical(message, *args, **kwargs)

    async def error(self, message: str, *args: Any, **kwargs: Any) -> None:
        """Log at ERROR on the error logger."""
        if self.error_logger is not None:
            self.error_logger.error(message, *args, **kwargs)

    async def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
        """Log at WARNING on the error logger."""
        if self.error_logger is not None:
            self.error_logger.warning(message, *args, **kwargs)

    async def info(self, message: str, *args: Any, **kwargs: Any) -> None:
        """Log at INFO on the error logger."""
        if self.error_logger is not None:
            self.error_logger.info(message, *args, **kwargs)

    async def debug(self, message: str, *args: Any, **kwargs: Any) -> None:
        """Log at DEBUG on the error logger."""
        if self.error_logger is not None:
            self.error_logger.debug(message, *args, **kwargs)

    async def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        """Log at ERROR with the exception being handled."""
        if self.error_logger is not None:
            self.error_logger.exception(message, *args, **kwargs)

    async def log(self, level: int, message: str, *args: Any, **kwargs: Any) -> None:
        """Log at ``level`` on the error logger."""
        if self.error_logger is not None:
            self.error_logger.log(level, message, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names Logger lacks: behave like the error logger.
        if name in ("access_logger", "error_logger") or self.error_logger is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.error_logger, name)


# JSON access-log key -> atom; values of "-" become null, and these become numbers.
JSON_ACCESS_FIELDS: dict[str, str] = {
    "client": "h",
    "request": "r",
    "method": "m",
    "scheme": "S",
    "path": "U",
    "query": "q",
    "protocol": "H",
    "status": "s",
    "bytes": "b",
    "referer": "f",
    "user_agent": "a",
    "duration_us": "D",
}
_JSON_NUMBERS = frozenset({"status", "bytes", "duration_us"})


def access_json(atoms: Mapping[str, str]) -> str:
    """One access-log line as a JSON object (``access_log_json``).

    Keys: ``time`` (ISO 8601, local time with offset), then those of
    :data:`JSON_ACCESS_FIELDS`, then ``pid``. Missing values (``-``) are null; status,
    bytes and duration (microseconds) are numbers.
    """
    # Imported on use: only a JSON access log needs them.
    import json
    from datetime import datetime, timezone

    record: dict[str, object] = {
        "time": datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")
    }
    for key, atom in JSON_ACCESS_FIELDS.items():
        value: object = atoms[atom]
        if value == "-":
            value = None
        elif key in _JSON_NUMBERS and isinstance(value, str) and value.isdigit():
            value = int(value)
        record[key] = value
    record["pid"] = os.getpid()
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class AccessLogAtoms(dict[str, str]):
    """The values an access-log format can use, e.g. ``%(h)s`` or ``%({user-agent}i)s``.

    ========  ==============================================================
    ``h``     client ``host:port`` (``-`` for unix sockets)
    ``l``     ``-``
    ``u``     ``-`` (no user name)
    ``t``     local time, ``[10/Oct/2000:13:55:36 -0700]``
    ``r``     ``METHOD path http_version``, e.g. ``GET / 1.1``
    ``R``     as ``r`` with ``?query``
    ``s``     status code, ``-`` when no response was sent
    ``st``    status phrase (``<???599???>`` when non-standard)
    ``S``     scheme
    ``m``     method (``GET`` for WebSockets)
    ``U``     path; ``Uq`` path with query; ``q`` query string
    ``H``     http_version (``ws`` when absent)
    ``b B``   response ``content-length`` or ``-``
    ``f a``   ``referer`` and ``user-agent`` request headers
    ``T D L`` request time: whole seconds, microseconds, seconds with 6 decimals
    ``p``     ``<pid>``
    ========  ==============================================================

    ``{Name}i`` and ``{Name}o`` are request and response headers (case-insensitive);
    ``{Name}e`` is an OS environment variable, looked up only when used. Unknown keys
    render as ``-``.
    """

    def __init__(
        self, request: ASGIScope, response: Mapping[str, Any] | None, request_time: float
    ) -> None:
        super().__init__()
        for name, value in request.get("headers", ()):
            self[f"{{{name.decode('latin-1').lower()}}}i"] = value.decode("latin-1")
        status: int | None = None
        if response is not None:
            status = response.get("status")
            for name, value in response.get("headers", ()):
                self[f"{{{bytes(name).decode('latin-1').lower()}}}o"] = bytes(value).decode(
                    "latin-1"
                )

        client = request.get("client")
        if client is None:
            self["h"] = "-"
        elif len(client) == 2:
            self["h"] = f"{client[0]}:{client[1]}"
        else:
            self["h"] = str(client[0])
        protocol = request.get("http_version", "ws")
        method = "GET" if request["type"] == "websocket" else request.get("method", "-")
        path = request.get("path", "")
        query = bytes(request.get("query_string", b"")).decode("latin-1")
        path_with_query = f"{path}?{query}" if query else path

        self["l"] = "-"
        self["u"] = "-"
        self["t"] = time.strftime("[%d/%b/%Y:%H:%M:%S %z]")
        self["r"] = f"{method} {path} {protocol}"
        self["R"] = f"{method} {path_with_query} {protocol}"
        if status is None:
            self["s"] = "-"
            self["st"] = "-"
        else:
            self["s"] = str(status)
            try:
                self["st"] = HTTPStatus(status).phrase
            except ValueError:
                self["st"] = f"<???{status}???>"
        self["S"] = request.get("scheme", "-")
        self["m"] = method
        self["U"] = path
        self["Uq"] = path_with_query
        self["q"] = query
        self["H"] = protocol
        length = self.get("{content-length}o", "-")
        self["b"] = length
        self["B"] = length
        self["f"] = self.get("{referer}i", "-")
        self["a"] = self.get("{user-agent}i", "-")
        self["T"] = str(int(request_time))
        self["D"] = str(int(request_time * 1_000_000))
        self["L"] = f"{request_time:.6f}"
        self["p"] = f"<{os.getpid()}>"

    def __missing__(self, key: str) -> str:
        if key.startswith("{"):
            if key.endswith("}e"):
                name = key[1:-2]
                value = os.environ.get(name)
                if value is None:
                    # Hypercorn matched environment names case-insensitively.
                    lowered = name.lower()
                    for env_name, env_value in os.environ.items():
                        if env_name.lower() == lowered:
                            return env_value
                    return "-"
                return value
            lowered_key = key.lower()
            if lowered_key != key:
                return self.get(lowered_key, "-")
        return "-"


__all__ = [
    "JSON_ACCESS_FIELDS",
    "LOG_DATE_FORMAT",
    "LOG_FORMAT",
    "AccessLogAtoms",
    "Logger",
    "access_json",
]
