"""Server configuration: Hypercorn 0.18's ``Config`` with the same names and defaults.

Options are class attributes, as in Hypercorn, so ``Config.keep_alive_timeout`` reads the
default and assigning to the class changes the default of later instances. List defaults
are copied into each instance at construction, so mutating one config's list never leaks
into another config or into the class.

Unlike Hypercorn, the loaders (``from_mapping``, ``from_toml``, ``from_pyfile``,
``from_object``) check what they are given: an unknown key is ignored with a
``ConfigWarning`` suggesting the closest valid name, and a value of the wrong type raises
``ConfigError``. Plain attribute assignment is not checked (except ``worker_class``).

This module must not import ``socket`` (``ssl`` imports it): binding and TLS live in
``hypercorn_protocol.server.binding``, imported when a socket or TLS context is made;
``Sockets`` and ``SocketTypeError`` are re-exported lazily from there. Every other
module of ``server/`` is imported at module level (this module sits above them).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
import types
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from hypercorn_protocol.headers import http_date as format_http_date
from hypercorn_protocol.proxy.trust import TrustedProxies
from hypercorn_protocol.server.config_files import (
    ConfigError,
    ConfigWarning,
    import_object,
    load_python_file,
    load_toml_file,
)
from hypercorn_protocol.server.logging import Logger
from hypercorn_protocol.server.statsd import StatsdLogger

if TYPE_CHECKING:
    import ssl

    from hypercorn_protocol.server.binding import BindError, Sockets, SocketTypeError

BYTES = 1
OCTETS = 1
SECONDS = 1.0

WORKER_CLASSES = ("asyncio", "uvloop", "trio")
#: ``http_parser`` values: "auto" is httptools when it is installed, else h11.
HTTP_PARSERS = ("auto", "h11", "httptools")

_ConfigT = TypeVar("_ConfigT", bound="Config")


# Expected kind of every option, used by the loaders to check values. Kinds:
# "str", "int", "float" (ints accepted), "bool", "list[str]", "binds" (str or list of str),
# "logtarget" (str or logging.Logger), "dict", "type", "verify_mode", "verify_flags";
# a trailing "?" allows None.
_OPTION_KINDS: dict[str, str] = {
    "access_log_format": "str",
    "access_log_json": "bool",
    "accesslog": "logtarget?",
    "alpn_protocols": "list[str]",
    "alt_svc_headers": "list[str]",
    "application_path": "str",
    "backlog": "int",
    "bind": "binds",
    "ca_certs": "str?",
    "certfile": "str?",
    "cert_reqs": "int",
    "ciphers": "str",
    "daemon": "bool",
    "debug": "bool",
    "dogstatsd_tags": "str",
    "errorlog": "logtarget?",
    "graceful_timeout": "float",
    "group": "int?",
    "h11_max_incomplete_size": "int",
    "h11_pass_raw_headers": "bool",
    "h2_max_concurrent_streams": "int",
    "h2_max_header_list_size": "int",
    "h2_max_inbound_frame_size": "int",
    "h2_stall_timeout": "float?",
    "http_parser": "str",
    "include_date_header": "bool",
    "include_server_header": "bool",
    "insecure_bind": "binds",
    "keep_alive_max_requests": "int",
    "keep_alive_timeout": "float",
    "keyfile": "str?",
    "keyfile_password": "str?",
    "logconfig": "str?",
    "logconfig_dict": "dict?",
    "logger_class": "type",
    "loglevel": "str",
    "max_app_queue_size": "int",
    "max_request_body_size": "int?",
    "max_requests": "int?",
    "max_requests_jitter": "int",
    "metrics_bind": "str?",
    "pid_path": "str?",
    "proxy_allow_ips": "list[str]",
    "proxy_protocol": "bool",
    "quic_bind": "binds",
    "quic_idle_timeout": "float",
    "quic_max_connections": "int",
    "quic_max_saved_sessions": "int",
    "quic_retry": "bool",
    "read_timeout": "float?",
    "request_body_timeout": "float?",
    "request_header_timeout": "float?",
    "response_write_timeout": "float?",
    "reuse_port": "bool",
    "root_path": "str",
    "server_names": "list[str]",
    "shutdown_timeout": "float",
    "ssl_handshake_timeout": "float",
    "startup_timeout": "float",
    "statsd_host": "str?",
    "statsd_prefix": "str",
    "umask": "int?",
    "use_reloader": "bool",
    "user": "int?",
    "verify_flags": "verify_flags?",
    "verify_mode": "verify_mode?",
    "websocket_compression": "bool",
    "websocket_max_message_size": "int",
    "websocket_ping_interval": "float?",
    "websocket_pong_timeout": "float?",
    "worker_class": "str",
    "workers": "int",
    "wsgi_max_body_size": "int",
}

#: Every settable option name (Hypercorn 0.18's ``Config`` attributes).
OPTIONS: frozenset[str] = frozenset(_OPTION_KINDS)

# Names that exist on Config but cannot be set: loaders skip them silently, as Hypercorn does.
_READ_ONLY = frozenset({"log", "ssl_enabled", "BYTES", "OCTETS", "SECONDS"})

# Options whose class default is a list and must be copied per instance.
_LIST_DEFAULTS = ("alpn_protocols", "alt_svc_headers", "proxy_allow_ips", "server_names")
_BIND_DEFAULTS = ("_bind", "_insecure_bind", "_quic_bind")

_LAZY_BINDING_NAMES = ("BindError", "Sockets", "SocketTypeError")

# (whole second, formatted value): the date only changes once a second.
_date_cache: tuple[int, bytes] = (-1, b"")


def http_date(now: float) -> bytes:
    """Format a POSIX timestamp as an RFC 7231 IMF-fixdate, e.g. ``Thu, 01 Jan 1970 ...``.

    Locale independent, and cached for the current second.

    Args:
        now: Seconds since the epoch.

    Returns:
        The date as ASCII bytes.
    """
    global _date_cache
    second = int(now)
    cached_second, cached_value = _date_cache
    if cached_second == second:
        return cached_value
    value = format_http_date(second)
    _date_cache = (second, value)
    return value


def _check_http_parser(value: object) -> None:
    if value not in HTTP_PARSERS:
        raise ConfigError(
            f"invalid http_parser {value!r}: expected one of {', '.join(HTTP_PARSERS)}"
        )
    if value == "httptools" and importlib.util.find_spec("httptools") is None:
        raise ConfigError("http_parser 'httptools' is not installed: pip install 'hypercorn[fast]'")


class Config:
    """Server configuration with Hypercorn 0.18's attribute names and defaults.

    Example:
        >>> config = Config.from_mapping(bind="0.0.0.0:8080", workers=2)
        >>> config.bind
        ['0.0.0.0:8080']
    """

    _bind: list[str] = ["127.0.0.1:8000"]  # noqa: RUF012 - copied per instance
    _insecure_bind: list[str] = []  # noqa: RUF012
    _quic_bind: list[str] = []  # noqa: RUF012
    _root_path: str = ""
    _log: Logger | None = None
    # Auto-generated alt-svc values, filled in by create_sockets() when QUIC sockets exist.
    _quic_alt_svc: tuple[str, ...] = ()

    access_log_format: str = '%(h)s %(l)s %(l)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
    # Not in Hypercorn 0.18: one JSON object per access line (access_log_format unused).
    access_log_json: bool = False
    accesslog: logging.Logger | str | None = None
    alpn_protocols: list[str] = ["h2", "http/1.1"]  # noqa: RUF012
    alt_svc_headers: list[str] = []  # noqa: RUF012
    application_path: str
    backlog: int = 100
    ca_certs: str | None = None
    certfile: str | None = None
    ciphers: str = "ECDHE+AESGCM"
    daemon: bool = True
    debug: bool = False
    dogstatsd_tags: str = ""
    errorlog: logging.Logger | str | None = "-"
    graceful_timeout: float = 3 * SECONDS
    group: int | None = None
    h11_max_incomplete_size: int = 16 * 1024 * BYTES
    h11_pass_raw_headers: bool = False
    h2_max_concurrent_streams: int = 100
    h2_max_header_list_size: int = 2**16
    h2_max_inbound_frame_size: int = 2**14 * OCTETS
    # New: an HTTP/2 response stuck behind a zero flow-control window this long is reset.
    h2_stall_timeout: float | None = 60 * SECONDS
    # Not in Hypercorn 0.18: the HTTP/1.1 request parser (see HTTP_PARSERS, docs/http1.md).
    http_parser: str = "auto"
    include_date_header: bool = True
    include_server_header: bool = True
    keep_alive_max_requests: int = 1000
    keep_alive_timeout: float = 5 * SECONDS
    keyfile: str | None = None
    keyfile_password: str | None = None
    logconfig: str | None = None
    logconfig_dict: dict[str, Any] | None = None
    logger_class: type[Logger] = Logger
    loglevel: str = "INFO"
    max_app_queue_size: int = 10
    # Not in Hypercorn 0.18: the largest request body any app (ASGI or WSGI) is given;
    # None = no limit, as 0.18 has for ASGI (a WSGI app also keeps wsgi_max_body_size).
    max_request_body_size: int | None = None
    max_requests: int | None = None
    max_requests_jitter: int = 0
    # Not in Hypercorn 0.18: HOST:PORT of a Prometheus /metrics endpoint (prometheus_client).
    metrics_bind: str | None = None
    pid_path: str | None = None
    # Not in Hypercorn 0.18: every TCP connection starts with a PROXY header (v1 or v2),
    # accepted only from these peers (IPs, CIDR networks or "*").
    proxy_allow_ips: list[str] = ["127.0.0.1", "::1"]  # noqa: RUF012
    proxy_protocol: bool = False
    # Not in Hypercorn 0.18 (HTTP/3): QUIC's transport idle timeout (aioquic's default, which
    # Hypercorn used), the connections one QUIC socket keeps, Retry address validation (as
    # Hypercorn's PR #201 proposed) and the TLS session tickets kept for resumption and 0-RTT
    # (0 = none issued; tickets are single-use).
    quic_idle_timeout: float = 60 * SECONDS
    quic_max_connections: int = 1000
    quic_max_saved_sessions: int = 0
    quic_retry: bool = False
    read_timeout: float | None = None
    # Not in Hypercorn 0.18 (see docs/limits.md): the whole request head from its first
    # byte; body inactivity while the app waits for it; a full send buffer not drained.
    request_body_timeout: float | None = 60 * SECONDS
    request_header_timeout: float | None = 10 * SECONDS
    response_write_timeout: float | None = 60 * SECONDS
    # Not in Hypercorn 0.18: one SO_REUSEPORT socket per worker (the kernel spreads
    # connections evenly, but also to a worker that is blocked); off = one shared socket.
    reuse_port: bool = False
    server_names: list[str] = []  # noqa: RUF012
    shutdown_timeout: float = 60 * SECONDS
    ssl_handshake_timeout: float = 60 * SECONDS
    startup_timeout: float = 60 * SECONDS
    statsd_host: str | None = None
    statsd_prefix: str = ""
    umask: int | None = None
    use_reloader: bool = False
    user: int | None = None
    verify_flags: ssl.VerifyFlags | None = None
    verify_mode: ssl.VerifyMode | None = None
    # Not in Hypercorn 0.18: permessage-deflate on/off, and how long a ping may wait
    # for its pong before the peer counts as dead (only with websocket_ping_interval).
    websocket_compression: bool = True
    websocket_max_message_size: int = 16 * 1024 * 1024 * BYTES
    websocket_ping_interval: float | None = None
    websocket_pong_timeout: float | None = 20 * SECONDS
    worker_class: str = "asyncio"
    workers: int = 1
    wsgi_max_body_size: int = 16 * 1024 * 1024 * BYTES

    def __init__(self) -> None:
        cls = type(self)
        # Copy list defaults (read from the class now, so class monkeypatching is honoured).
        for name in _LIST_DEFAULTS + _BIND_DEFAULTS:
            object.__setattr__(self, name, list(getattr(cls, name)))

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "worker_class" and value not in WORKER_CLASSES:
            raise ConfigError(
                f"invalid worker_class {value!r}: expected one of {', '.join(WORKER_CLASSES)}"
            )
        if name == "http_parser":
            _check_http_parser(value)
        super().__setattr__(name, value)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_log", None)  # loggers hold handlers and open files
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} bind={self.bind!r} worker_class={self.worker_class!r}>"

    # -- properties -----------------------------------------------------------------------

    @property
    def bind(self) -> list[str]:
        """Addresses to serve on (TLS ones when TLS is enabled); a str is wrapped in a list."""
        return self._bind

    @bind.setter
    def bind(self, value: list[str] | str) -> None:
        self._bind = [value] if isinstance(value, str) else value

    @property
    def insecure_bind(self) -> list[str]:
        """Plain-HTTP addresses, used only when TLS is enabled."""
        return self._insecure_bind

    @insecure_bind.setter
    def insecure_bind(self, value: list[str] | str) -> None:
        self._insecure_bind = [value] if isinstance(value, str) else value

    @property
    def quic_bind(self) -> list[str]:
        """UDP addresses for HTTP/3, used only when TLS is enabled."""
        return self._quic_bind

    @quic_bind.setter
    def quic_bind(self, value: list[str] | str) -> None:
        self._quic_bind = [value] if isinstance(value, str) else value

    @property
    def root_path(self) -> str:
        """The ASGI ``root_path``; a trailing ``/`` is stripped on assignment."""
        return self._root_path

    @root_path.setter
    def root_path(self, value: str) -> None:
        self._root_path = value.rstrip("/")

    def set_cert_reqs(self, value: int) -> None:
        """Deprecated: set ``verify_mode`` from an integer (``cert_reqs`` setter)."""
        import ssl

        warnings.warn(
            "cert_reqs is deprecated, use verify_mode instead", DeprecationWarning, stacklevel=2
        )
        self.verify_mode = ssl.VerifyMode(value)

    cert_reqs = property(None, set_cert_reqs)

    @property
    def ssl_enabled(self) -> bool:
        """True when both ``certfile`` and ``keyfile`` are set."""
        return self.certfile is not None and self.keyfile is not None

    @property
    def log(self) -> Logger:
        """The logger, created on first use from ``logger_class`` (not pickled).

        With ``statsd_host`` set and ``logger_class`` left at its default, the logger is a
        :class:`~hypercorn_protocol.server.statsd.StatsdLogger`.
        """
        log = self._log
        if log is None:
            if self.logger_class is Logger and self.statsd_host is not None:
                # As Hypercorn's workers do: statsd_host alone turns metrics on.
                self.set_statsd_logger_class(StatsdLogger)
            log = self.logger_class(self)
            self._log = log
        return log

    def set_statsd_logger_class(self, statsd_logger: type[Logger]) -> None:
        """Use ``statsd_logger`` if ``statsd_host`` is set and no custom logger was chosen."""
        if self.logger_class is Logger and self.statsd_host is not None:
            self.logger_class = statsd_logger

    # -- helpers used by the drivers --------------------------------------------------------

    def create_ssl_context(self) -> ssl.SSLContext | None:
        """Build the server TLS context, or return None when TLS is not enabled.

        See ``hypercorn_protocol.server.binding.create_ssl_context``.

        Raises:
            ConfigError: A certificate, key or CA file is missing or invalid, the key
                password is wrong, or the cipher string selects nothing.
        """
        # Deferred: ``ssl`` and ``socket`` are loaded only when a server is made, so
        # ``import hypercorn_protocol`` stays free of them (tests/packaging/test_sans_io).
        from hypercorn_protocol.server import binding

        return binding.create_ssl_context(self)

    def create_sockets(self) -> Sockets:
        """Bind every configured address once (see ``hypercorn_protocol.server.binding``).

        Returns:
            The secure, insecure and QUIC sockets, bound, non-blocking and inheritable;
            stream sockets are already listening.

        Raises:
            BindError: An address could not be bound (nothing is left open).
            SocketTypeError: An ``fd://`` socket has the wrong type.
        """
        from hypercorn_protocol.server import binding  # deferred, as in create_ssl_context

        sockets = binding.create_sockets(self)
        self.advertise_quic(sockets.quic_sockets)
        return sockets

    def advertise_quic(self, quic_sockets: Iterable[Any]) -> None:
        """Advertise HTTP/3 on these UDP sockets (``alt-svc: h3=":PORT"; ma=3600``).

        Every TCP response carries one ``alt-svc`` per socket unless ``alt_svc_headers``
        is set; a worker given its sockets calls this for the ones it serves.
        """
        alt_svc = []
        for sock in quic_sockets:
            address = sock.getsockname()
            if isinstance(address, tuple):
                alt_svc.append(f'h3=":{address[1]}"; ma=3600')
        self._quic_alt_svc = tuple(alt_svc)

    @property
    def quic_alt_svc(self) -> tuple[str, ...]:
        """The ``alt-svc`` values derived from the bound QUIC sockets (see advertise_quic)."""
        return self._quic_alt_svc

    def response_headers(
        self, protocol: str, *, now: float | None = None
    ) -> list[tuple[bytes, bytes]]:
        """Headers the server adds to every response.

        Args:
            protocol: ``"h11"``, ``"h2"`` or ``"h3"``, used in the ``server`` header.
            now: The current time (POSIX seconds); read from the clock when omitted.

        Returns:
            ``date`` and ``server`` (if enabled) and one ``alt-svc`` per configured value
            (or per QUIC socket when none is configured).
        """
        headers: list[tuple[bytes, bytes]] = []
        if self.include_date_header:
            headers.append((b"date", http_date(time.time() if now is None else now)))
        if self.include_server_header:
            headers.append((b"server", f"hypercorn-{protocol}".encode("ascii")))
        for value in self.alt_svc_headers or self._quic_alt_svc:
            headers.append((b"alt-svc", value.encode("latin-1")))
        return headers

    # -- loaders ---------------------------------------------------------------------------

    @classmethod
    def from_mapping(
        cls: type[_ConfigT], mapping: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> _ConfigT:
        """Create a config from a mapping and/or keyword arguments.

        Args:
            mapping: Option names to values.
            **kwargs: More options; they win over ``mapping``.

        Returns:
            A new config.

        Raises:
            ConfigError: A value has the wrong type.

        Warns:
            ConfigWarning: A key is not an option; it is ignored.
        """
        options: dict[str, Any] = {}
        if mapping is not None:
            options.update(mapping)
        options.update(kwargs)
        config = cls()
        for key, value in options.items():
            config._load_option(key, value, warn_unknown=True)
        return config

    @classmethod
    def from_toml(cls: type[_ConfigT], filename: str | os.PathLike[str]) -> _ConfigT:
        """Create a config from a TOML file whose keys are option names.

        A ``pyproject.toml`` is read from its ``[tool.hypercorn]`` table.

        Raises:
            ConfigError: The file is missing or not valid TOML, or a value is invalid.
        """
        data = load_toml_file(filename)
        if os.path.basename(os.fspath(filename)) == "pyproject.toml":
            table = data.get("tool", {}).get("hypercorn")
            if not isinstance(table, dict):
                raise ConfigError(f"{os.fspath(filename)} has no [tool.hypercorn] table")
            data = table
        return cls.from_mapping(data)

    @classmethod
    def from_pyfile(cls: type[_ConfigT], filename: str | os.PathLike[str]) -> _ConfigT:
        """Create a config by running a Python file and reading its top-level names.

        Raises:
            ConfigError: The file does not exist or a value is invalid.
        """
        return cls.from_object(load_python_file(filename))

    @classmethod
    def from_object(cls: type[_ConfigT], instance: object | str) -> _ConfigT:
        """Create a config from the attributes of an object, module or dotted name.

        A string is imported as a module, or else as ``module.attribute``. Dunder names
        and modules are skipped. Classes and functions whose names are not options are
        ignored silently (a Python config file may import helpers).

        Raises:
            ConfigError: The dotted name cannot be imported or a value is invalid.
        """
        if isinstance(instance, str):
            instance = import_object(instance)
        config = cls()
        for key in dir(instance):
            if key.startswith("__"):
                continue
            value = getattr(instance, key)
            if isinstance(value, types.ModuleType):
                continue
            helper = callable(value) and key not in OPTIONS
            config._load_option(key, value, warn_unknown=not helper)
        return config

    def _load_option(self, key: str, value: Any, *, warn_unknown: bool) -> None:
        """Check one loaded key and value, then set it."""
        if key in _READ_ONLY:
            return
        kind = _OPTION_KINDS.get(key)
        if kind is None:
            if warn_unknown and not key.startswith("_"):
                _warn_unknown(key)
            return
        setattr(self, key, _check_value(key, kind, value))


def _short_repr(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _warn_unknown(key: str) -> None:
    import difflib  # only for a misspelt key

    close = difflib.get_close_matches(key, sorted(OPTIONS), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    warnings.warn(f"unknown config option {key!r} ignored{hint}", ConfigWarning, stacklevel=4)


_KIND_TEXT = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "list[str]": "a list of strings",
    "binds": "a string or a list of strings",
    "logtarget": "a string (path or '-') or a logging.Logger",
    "dict": "a table/dict",
    "type": "a class",
    "verify_mode": "an ssl.VerifyMode, its name or an integer",
    "verify_flags": "an ssl.VerifyFlags, its name or an integer",
}


def _check_value(key: str, kind: str, value: Any) -> Any:
    """Return ``value`` (possibly converted) if it suits ``kind``, else raise ConfigError."""
    optional = kind.endswith("?")
    base = kind.rstrip("?")
    if value is None and optional:
        return None
    ok = False
    if base == "str":
        ok = isinstance(value, str)
    elif base == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif base == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif base == "bool":
        ok = isinstance(value, bool)
    elif base == "list[str]":
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        value = list(value) if ok else value
    elif base == "binds":
        ok = isinstance(value, str) or (
            isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        )
        value = list(value) if ok and not isinstance(value, str) else value
    elif base == "logtarget":
        ok = isinstance(value, (str, logging.Logger))
    elif base == "dict":
        ok = isinstance(value, Mapping)
        value = dict(value) if ok else value
    elif base == "type":
        ok = isinstance(value, type)
    elif base in ("verify_mode", "verify_flags"):
        converted = _convert_ssl_enum(base, value)
        ok = converted is not None
        value = converted if ok else value
    expected = _KIND_TEXT[base] + (" or None" if optional else "")
    if not ok:
        raise ConfigError(f"invalid value for {key}: expected {expected}, got {_short_repr(value)}")
    if key == "loglevel" and not isinstance(logging.getLevelName(value.upper()), int):
        raise ConfigError(
            f"invalid value for loglevel: expected a level name such as DEBUG, INFO, WARNING, "
            f"ERROR or CRITICAL, got {_short_repr(value)}"
        )
    if key == "proxy_allow_ips":
        try:
            TrustedProxies(value)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    if key == "metrics_bind" and value is not None:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            raise ConfigError(
                f"invalid value for metrics_bind: expected HOST:PORT, got {_short_repr(value)}"
            )
    return value


def _convert_ssl_enum(kind: str, value: Any) -> Any:
    """Convert an int or member name to the ssl enum for ``kind``; None if impossible."""
    import ssl

    enum_type: Any = ssl.VerifyMode if kind == "verify_mode" else ssl.VerifyFlags
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return enum_type(value)
        except ValueError:
            return None
    if isinstance(value, str):
        try:
            return enum_type[value]
        except KeyError:
            return None
    return None


def __getattr__(name: str) -> Any:
    # Hypercorn exposes these from hypercorn.config; import the socket module only on use.
    if name in _LAZY_BINDING_NAMES:
        from hypercorn_protocol.server import binding

        return getattr(binding, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BYTES",
    "OCTETS",
    "OPTIONS",
    "SECONDS",
    "HTTP_PARSERS",
    "WORKER_CLASSES",
    "BindError",
    "Config",
    "ConfigError",
    "ConfigWarning",
    "SocketTypeError",
    "Sockets",
    "http_date",
    "load_toml_file",
]
